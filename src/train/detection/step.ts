/** A RetinaNet training step and inference over a split: the detection task's forward passes. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { DetectionBatch, DetectionDataset, DetectionSplit } from '../../data/coco/dataset.js';
import type { CocoDetection } from '../../detection/coco-eval.js';
import { anchorsPerLevel, buildTargets, headAnchors, postprocessImage, retinaNetLoss, type RetinaNetHeadOptions } from '../../detection/retinanet-head.js';
import type { Optimizer } from '../optimizer.js';
import { makeOptimizerStep, type GradientReducer } from '../step.js';
import type { TaskStep } from '../task.js';

/** The batch's pixels as the network's input tensor. */
function inputTensor(b: DetectionBatch): tf.Tensor4D {
  return tf.tensor4d(b.x.subarray(0, b.size * b.height * b.width * 3), [b.size, b.height, b.width, 3]);
}

/** One training step: targets matched in JavaScript, focal + box loss on the network's outputs, then the update. */
export function makeDetectionStep(
  model: tfl.LayersModel,
  optimizer: Optimizer,
  vars: tf.Variable[],
  head: RetinaNetHeadOptions,
  reduce?: GradientReducer,
): TaskStep<DetectionBatch> {
  const step = makeOptimizerStep(model, optimizer, vars, reduce);
  return (b, lr, stop) => {
    const anchors = headAnchors(b.height, b.width, head);
    const targets = buildTargets(anchors, b.targets.slice(0, b.size), head);
    const r = step(
      () => {
        const [cls, box] = model.apply(inputTensor(b), { training: true }) as [tf.Tensor3D, tf.Tensor3D];
        const loss = retinaNetLoss(cls, box, targets, anchors, head);
        return { loss: tf.add(loss.cls, loss.box), figures: [tf.mul(loss.cls, b.size), tf.mul(loss.box, b.size)] };
      },
      b.size,
      lr,
      stop,
    );
    return { loss: r.loss, correct: 0, seen: r.seen, stop: r.stop, parts: { cls: r.figures[0]!, box: r.figures[1]! } };
  };
}

/** Detections of a split in COCO's results format (original image coordinates, COCO category ids). */
export interface SplitDetections {
  detections: CocoDetection[];
  /** Images run. */
  n: number;
  /** Images the input pipeline could not read (not run). */
  skipped: number;
}

/**
 * Runs the network over a split in inference mode and post-processes each image as torchvision's RetinaNet does;
 * boxes are mapped back to the original image size, as GeneralizedRCNNTransform.postprocess does.
 */
export async function detectSplit(
  model: tfl.LayersModel,
  split: DetectionSplit,
  ds: Pick<DetectionDataset, 'numClasses' | 'categoryIds'>,
  head: RetinaNetHeadOptions,
  batchSize: number,
  onBatch?: (images: number) => void,
): Promise<SplitDetections> {
  const detections: CocoDetection[] = [];
  let n = 0;
  let skipped = 0;
  const k = ds.numClasses;
  for await (const b of split.batches({ batchSize, seed: 0, epoch: 0, shuffle: false, train: false, dropLast: false })) {
    skipped += b.skipped;
    if (b.size === 0) continue;
    const [scores, deltas] = tf.tidy(() => {
      const [cls, box] = model.apply(inputTensor(b), { training: false }) as [tf.Tensor3D, tf.Tensor3D];
      return [tf.sigmoid(cls), box];
    });
    const s = scores.dataSync() as Float32Array;
    const d = deltas.dataSync() as Float32Array;
    tf.dispose([scores, deltas]);
    const anchors = headAnchors(b.height, b.width, head);
    const a = anchors.length / 4;
    const levels = anchorsPerLevel(b.height, b.width);
    for (let i = 0; i < b.size; i++) {
      const img = b.images[i]!;
      const det = postprocessImage(s.subarray(i * a * k, (i + 1) * a * k), d.subarray(i * a * 4, (i + 1) * a * 4), anchors, levels, k, img, head);
      const rx = img.origWidth / img.width;
      const ry = img.origHeight / img.height;
      for (let j = 0; j < det.scores.length; j++) {
        const x1 = det.boxes[4 * j]! * rx;
        const y1 = det.boxes[4 * j + 1]! * ry;
        const x2 = det.boxes[4 * j + 2]! * rx;
        const y2 = det.boxes[4 * j + 3]! * ry;
        detections.push({ image_id: img.id, category_id: ds.categoryIds[det.labels[j]!]!, bbox: [x1, y1, x2 - x1, y2 - y1], score: det.scores[j]! });
      }
    }
    n += b.size;
    onBatch?.(b.size);
  }
  return { detections, n, skipped };
}
