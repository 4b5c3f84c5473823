/**
 * RetinaNet's targets, loss and post-processing (src/detection/retinanet-head.ts) on hand-built cases: which anchors
 * are positive, ignored or background, the loss against its definition written out in float64 here, and inference
 * keeping the best class per box, clipping and suppressing duplicates.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { buildTargets, postprocessImage, retinaNetLoss, type RetinaNetHeadOptions } from '../../src/detection/retinanet-head.js';

const OPTS: RetinaNetHeadOptions = {
  anchorSizes: [32, 64, 128, 256, 512],
  fgIou: 0.5,
  bgIou: 0.4,
  focalAlpha: 0.25,
  focalGamma: 2,
  boxLoss: 'l1',
  smoothL1Beta: 1,
  scoreThresh: 0.05,
  topkCandidates: 1000,
  nmsIou: 0.5,
  detectionsPerImage: 100,
};

// Four anchors against the box [0, 0, 10, 10]: anchor 0 is the box (IoU 1); anchor 1 is [0, 0, 10, 22.2…]
// (IoU 100 / 222.2 = 0.45: ignored); anchor 2 is far away (background); anchor 3 is [5, 0, 15, 10] (IoU 50 / 150 = 1/3:
// background).
const ANCHORS = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 100 / 4.5, 50, 50, 60, 60, 5, 0, 15, 10]);
const BOX = Float32Array.from([0, 0, 10, 10]);

describe('buildTargets', () => {
  it('marks positive, ignored and background anchors and encodes the match', () => {
    const t = buildTargets(ANCHORS, [{ boxes: BOX, labels: Int32Array.from([2]) }], OPTS);
    expect(Array.from(t.labels)).toEqual([2, -2, -1, -1]);
    expect(t.positives).toBe(1);
    expect(t.norm[0]).toBe(1);
    // The anchor equals the box: zero deltas; the box target is the box itself.
    expect(Array.from(t.deltas.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(t.boxes.subarray(0, 4))).toEqual([0, 0, 10, 10]);
    // Unmatched anchors keep zero deltas and carry themselves as boxes.
    expect(Array.from(t.boxes.subarray(8, 12))).toEqual([50, 50, 60, 60]);
  });

  it('an image without boxes is all background, normalised by 1', () => {
    const t = buildTargets(ANCHORS, [{ boxes: new Float32Array(0), labels: new Int32Array(0) }], OPTS);
    expect(Array.from(t.labels)).toEqual([-1, -1, -1, -1]);
    expect(t.norm[0]).toBe(1);
  });

  it('a box no anchor reaches 0.5 still gets its best anchor (low-quality match)', () => {
    const u = buildTargets(ANCHORS, [{ boxes: Float32Array.from([10, 0, 30, 10]), labels: Int32Array.from([1]) }], OPTS);
    // [10, 0, 30, 10] overlaps anchor 3 by 50 / 250 = 0.2 (< 0.4: background by threshold) and no other anchor at all:
    // anchor 3 is its best, so it becomes its positive.
    expect(u.labels[3]).toBe(1);
    expect(u.positives).toBe(1);
  });
});

describe('retinaNetLoss', () => {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  const focal = (x: number, t: number) => {
    const p = sigmoid(x);
    const ce = -(t * Math.log(p) + (1 - t) * Math.log(1 - p));
    const pt = p * t + (1 - p) * (1 - t);
    return (0.25 * t + 0.75 * (1 - t)) * ce * (1 - pt) ** 2;
  };

  it('sums the focal loss over non-ignored anchors and the L1 loss over positives, per image / matched anchors, mean over images', () => {
    const k = 3;
    const logits = [0.3, -1.2, 2.0, /**/ 1.5, 0.1, -0.4, /**/ -2.0, 0.7, 0.2, /**/ 0.9, -0.3, -1.1];
    const box = [0.1, -0.2, 0.3, 0.05, /**/ 1, 1, 1, 1, /**/ 2, 2, 2, 2, /**/ -0.5, 0.25, 0, 0.1];
    // Two images over the same anchors: image 0 has the box (class 2), image 1 has none.
    const images = [
      { boxes: BOX, labels: Int32Array.from([2]) },
      { boxes: new Float32Array(0), labels: new Int32Array(0) },
    ];
    const t = buildTargets(ANCHORS, images, OPTS);
    const cls = tf.tensor3d([...logits, ...logits], [2, 4, k]);
    const boxT = tf.tensor3d([...box, ...box], [2, 4, 4]);
    const loss = retinaNetLoss(cls, boxT, t, ANCHORS, OPTS);
    // Image 0: anchor 0 positive (class 2), anchor 1 ignored, anchors 2-3 background; 1 positive.
    let img0 = 0;
    for (const a of [0, 2, 3]) for (let c = 0; c < k; c++) img0 += focal(logits[a * k + c]!, a === 0 && c === 2 ? 1 : 0);
    // Image 1: every anchor background; normalised by max(1, 0) = 1.
    let img1 = 0;
    for (let a = 0; a < 4; a++) for (let c = 0; c < k; c++) img1 += focal(logits[a * k + c]!, 0);
    expect(loss.cls.dataSync()[0]).toBeCloseTo((img0 + img1) / 2, 5);
    // Box: only image 0's anchor 0, whose target deltas are zero: |0.1| + |0.2| + |0.3| + |0.05|, halved by the mean.
    expect(loss.box.dataSync()[0]).toBeCloseTo(0.65 / 2, 6);
  });
});

describe('postprocessImage', () => {
  it('keeps scores above the threshold, decodes, clips to the image and suppresses overlapping same-class boxes', () => {
    const anchors = Float32Array.from([0, 0, 10, 10, 1, 0, 11, 10, 20, 20, 40, 40, 90, 90, 110, 110]);
    const k = 2;
    // [A, K] scores: anchors 0 and 1 nearly coincide (IoU 9/11): class 0 keeps the higher one only.
    const scores = Float32Array.from([0.9, 0.01, 0.8, 0.02, 0.04, 0.3, 0.6, 0.0]);
    const deltas = new Float32Array(16);
    const d = postprocessImage(scores, deltas, anchors, [4], k, { height: 100, width: 100 }, OPTS);
    expect(Array.from(d.scores)).toEqual([expect.closeTo(0.9, 6), expect.closeTo(0.6, 6), expect.closeTo(0.3, 6)]);
    expect(Array.from(d.labels)).toEqual([0, 0, 1]);
    // Anchor 3 ([90, 90, 110, 110]) is clipped to the 100 x 100 image.
    expect(Array.from(d.boxes.subarray(4, 8))).toEqual([90, 90, 100, 100]);
    expect(Array.from(d.boxes.subarray(8, 12))).toEqual([20, 20, 40, 40]);
  });

  it('keeps at most detectionsPerImage, best first', () => {
    const anchors = Float32Array.from([0, 0, 10, 10, 20, 0, 30, 10, 40, 0, 50, 10]);
    const d = postprocessImage(
      Float32Array.from([0.2, 0.7, 0.5]),
      new Float32Array(12),
      anchors,
      [3],
      1,
      { height: 64, width: 64 },
      { ...OPTS, detectionsPerImage: 2 },
    );
    expect(Array.from(d.scores)).toEqual([expect.closeTo(0.7, 6), expect.closeTo(0.5, 6)]);
  });
});
