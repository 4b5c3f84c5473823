/**
 * RetinaNet's training targets, loss and inference post-processing, as torchvision's RetinaNet computes them
 * (torchvision/models/detection/retinanet.py: RetinaNetHead.compute_loss, postprocess_detections). The network
 * (src/models/retinanet.ts) gives `cls` [N, A, K] logits and `box` [N, A, 4] deltas in the anchor order of
 * src/detection/anchors.ts; everything here is per image, so a batch of N images gives N independent terms.
 *
 * Targets are built in JavaScript (IoU, matching and encoding run once per image on typed arrays and carry no
 * gradient); the loss is tfjs ops, so its gradient flows through whichever backend runs the network.
 */
import * as tf from '@tensorflow/tfjs-core';
import { anchorsPerLocation, featureSizes, retinaNetAnchors } from './anchors.js';
import { decodeBoxes, decodeBoxesTensor, encodeBoxes } from './box-coder.js';
import { boxIou, clipBoxes } from './boxes.js';
import { giouLoss, l1Loss, sigmoidFocalLoss, smoothL1Loss } from './losses.js';
import { matchAnchors } from './matcher.js';
import { batchedNms } from './nms.js';

/** The settings of the head's loss and inference (config `detection`). */
export interface RetinaNetHeadOptions {
  anchorSizes: number[];
  fgIou: number;
  bgIou: number;
  focalAlpha: number;
  focalGamma: number;
  boxLoss: 'l1' | 'smooth_l1' | 'giou';
  smoothL1Beta: number;
  scoreThresh: number;
  topkCandidates: number;
  nmsIou: number;
  detectionsPerImage: number;
}

/** One image's ground truth in its (resized, flipped) input coordinates: boxes xyxy, labels 0..K-1. */
export interface ImageTargets {
  boxes: Float32Array;
  labels: Int32Array;
}

/** A batch's targets per anchor, flat over [N, A]. */
export interface BatchTargets {
  /** Per anchor: its class (0..K-1) when matched, -1 background, -2 ignored. */
  labels: Int32Array;
  /** Per anchor: the encoded box of its match (zeros elsewhere). */
  deltas: Float32Array;
  /** Per anchor: the matched box itself (the anchor elsewhere), for the GIoU loss. */
  boxes: Float32Array;
  /** Per image: 1 / max(1, matched anchors), torchvision's normaliser. */
  norm: Float32Array;
  /** Anchors per image. */
  anchors: number;
  /** Matched anchors over the batch. */
  positives: number;
}

/** The anchors of a padded input of this size, as the head's options place them. */
export function headAnchors(height: number, width: number, o: Pick<RetinaNetHeadOptions, 'anchorSizes'>): Float32Array {
  return retinaNetAnchors(height, width, { sizes: o.anchorSizes });
}

/** Matches every image's anchors to its ground truth (torchvision's Matcher with low-quality matches) and encodes the boxes. */
export function buildTargets(anchors: Float32Array, images: readonly ImageTargets[], o: Pick<RetinaNetHeadOptions, 'fgIou' | 'bgIou'>): BatchTargets {
  const a = anchors.length / 4;
  const n = images.length;
  const labels = new Int32Array(n * a).fill(-1);
  const deltas = new Float32Array(n * a * 4);
  const boxes = new Float32Array(n * a * 4);
  const norm = new Float32Array(n);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const t = images[i]!;
    const g = t.labels.length;
    boxes.set(anchors, i * a * 4);
    let fg = 0;
    if (g > 0) {
      const match = matchAnchors(boxIou(t.boxes, anchors), g, a, { high: o.fgIou, low: o.bgIou, allowLowQuality: true });
      const idx: number[] = [];
      for (let j = 0; j < a; j++) {
        const m = match[j]!;
        if (m >= 0) {
          labels[i * a + j] = t.labels[m]!;
          idx.push(j);
        } else labels[i * a + j] = m;
      }
      fg = idx.length;
      if (fg > 0) {
        const an = new Float32Array(fg * 4);
        const gt = new Float32Array(fg * 4);
        idx.forEach((j, k) => {
          an.set(anchors.subarray(4 * j, 4 * j + 4), 4 * k);
          gt.set(t.boxes.subarray(4 * match[j]!, 4 * match[j]! + 4), 4 * k);
        });
        const enc = encodeBoxes(an, gt);
        idx.forEach((j, k) => {
          deltas.set(enc.subarray(4 * k, 4 * k + 4), (i * a + j) * 4);
          boxes.set(gt.subarray(4 * k, 4 * k + 4), (i * a + j) * 4);
        });
      }
    }
    positives += fg;
    norm[i] = 1 / Math.max(1, fg);
  }
  return { labels, deltas, boxes, norm, anchors: a, positives };
}

/** The two terms of the loss, each the mean over images of (sum over anchors) / max(1, matched anchors). */
export interface HeadLoss {
  cls: tf.Scalar;
  box: tf.Scalar;
}

/**
 * Sigmoid focal loss over every anchor not ignored, and the box loss over matched anchors, each normalised per
 * image by its matched anchors and averaged over images (torchvision's compute_loss).
 */
export function retinaNetLoss(cls: tf.Tensor3D, box: tf.Tensor3D, t: BatchTargets, anchors: Float32Array, o: RetinaNetHeadOptions): HeadLoss {
  const [n, a, k] = cls.shape;
  const labels = tf.tensor2d(t.labels, [n, a], 'int32');
  const norm = tf.tensor1d(t.norm);
  const classes = tf.range(0, k, 1, 'int32');
  const target = tf.cast(tf.equal(tf.expandDims(labels, 2), classes), 'float32');
  const valid = tf.cast(tf.greaterEqual(labels, -1), 'float32');
  const fg = tf.cast(tf.greaterEqual(labels, 0), 'float32');
  const focal = tf.sum(sigmoidFocalLoss(cls, target, o.focalAlpha, o.focalGamma), 2);
  const clsLoss = tf.mean(tf.mul(tf.sum(tf.mul(focal, valid), 1), norm));
  let perAnchor: tf.Tensor;
  if (o.boxLoss === 'giou') {
    const anchorT = tf.tile(tf.tensor2d(anchors, [a, 4]), [n, 1]) as tf.Tensor2D;
    const pred = decodeBoxesTensor(anchorT, tf.reshape(box, [n * a, 4]));
    perAnchor = tf.reshape(giouLoss(pred, tf.tensor2d(t.boxes, [n * a, 4])), [n, a]);
  } else {
    const target4 = tf.tensor3d(t.deltas, [n, a, 4]);
    perAnchor = tf.sum(o.boxLoss === 'l1' ? l1Loss(box, target4) : smoothL1Loss(box, target4, o.smoothL1Beta), 2);
  }
  const boxLoss = tf.mean(tf.mul(tf.sum(tf.mul(perAnchor, fg), 1), norm));
  return { cls: clsLoss as tf.Scalar, box: boxLoss as tf.Scalar };
}

/** One image's detections in its input coordinates: boxes xyxy, scores, labels 0..K-1, best first. */
export interface ImageDetections {
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
}

/** Anchors per level of an input of this size (their order in the outputs), from the same feature sizes the anchors use. */
export function anchorsPerLevel(height: number, width: number): number[] {
  return featureSizes(height, width).map(([fh, fw]) => fh * fw * anchorsPerLocation());
}

/**
 * torchvision's postprocess_detections for one image: per level the `topkCandidates` best (anchor, class) scores
 * above `scoreThresh`, decoded and clipped to the image (its resized, unpadded size), then per-class NMS and the
 * `detectionsPerImage` best. `scores` are the sigmoid of the logits, [A, K] flat; `deltas` [A, 4] flat.
 */
export function postprocessImage(
  scores: Float32Array,
  deltas: Float32Array,
  anchors: Float32Array,
  levels: readonly number[],
  numClasses: number,
  image: { height: number; width: number },
  o: Pick<RetinaNetHeadOptions, 'scoreThresh' | 'topkCandidates' | 'nmsIou' | 'detectionsPerImage'>,
): ImageDetections {
  const candAnchor: number[] = [];
  const candScore: number[] = [];
  const candLabel: number[] = [];
  let start = 0;
  for (const count of levels) {
    const idx: number[] = [];
    for (let i = start * numClasses; i < (start + count) * numClasses; i++) if (scores[i]! > o.scoreThresh) idx.push(i);
    // torch.topk: the best first; equal scores keep their index order here.
    idx.sort((p, q) => scores[q]! - scores[p]! || p - q);
    for (const i of idx.slice(0, o.topkCandidates)) {
      candAnchor.push(Math.floor(i / numClasses));
      candLabel.push(i % numClasses);
      candScore.push(scores[i]!);
    }
    start += count;
  }
  const m = candAnchor.length;
  const an = new Float32Array(4 * m);
  const de = new Float32Array(4 * m);
  candAnchor.forEach((j, c) => {
    an.set(anchors.subarray(4 * j, 4 * j + 4), 4 * c);
    de.set(deltas.subarray(4 * j, 4 * j + 4), 4 * c);
  });
  const boxes = clipBoxes(decodeBoxes(an, de), image.height, image.width);
  const sc = Float32Array.from(candScore);
  const lb = Int32Array.from(candLabel);
  const keep = batchedNms(boxes, sc, lb, o.nmsIou).subarray(0, o.detectionsPerImage);
  const out: ImageDetections = { boxes: new Float32Array(4 * keep.length), scores: new Float32Array(keep.length), labels: new Int32Array(keep.length) };
  keep.forEach((j, c) => {
    out.boxes.set(boxes.subarray(4 * j, 4 * j + 4), 4 * c);
    out.scores[c] = sc[j]!;
    out.labels[c] = lb[j]!;
  });
  return out;
}
