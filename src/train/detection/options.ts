/** The config's `detection` section as the head's math takes it. */
import type { DetectionConfig } from '../../config/schema.js';
import type { RetinaNetHeadOptions } from '../../detection/retinanet-head.js';

/** Maps the config's snake_case keys onto the head's options, in one place. */
export function headOptions(d: DetectionConfig): RetinaNetHeadOptions {
  return {
    anchorSizes: d.anchor_sizes,
    fgIou: d.fg_iou,
    bgIou: d.bg_iou,
    focalAlpha: d.focal_alpha,
    focalGamma: d.focal_gamma,
    boxLoss: d.box_loss,
    smoothL1Beta: d.smooth_l1_beta,
    scoreThresh: d.score_thresh,
    topkCandidates: d.topk_candidates,
    nmsIou: d.nms_iou,
    detectionsPerImage: d.detections_per_img,
  };
}
