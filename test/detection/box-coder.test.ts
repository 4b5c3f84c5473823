/**
 * The box coder (torchvision BoxCoder): hand-computed deltas for one anchor/gt pair (weights 1 and
 * torchvision's R-CNN weights 10, 10, 5, 5), the decode clamp at log(1000 / 16), the encode/decode
 * round trip on random pairs, and the tensor decoder against the typed-array one with a finite
 * gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-layers registers tfjs-core's gradients (tf.grad needs them), as in training.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBoxes, decodeBoxesTensor, encodeBoxes } from '../../src/detection/box-coder.js';
import { Rng } from '../../src/util/rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const close = (got: ArrayLike<number>, want: number[], digits = 5): void => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]!, `element ${i}`).toBeCloseTo(w, digits));
};

/** n random boxes with corners in [0, 200) and sides in [2, 100). */
function randomBoxes(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const x = 200 * rng.uniform();
    const y = 200 * rng.uniform();
    out.set([x, y, x + 2 + 98 * rng.uniform(), y + 2 + 98 * rng.uniform()], 4 * i);
  }
  return out;
}

describe('encodeBoxes / decodeBoxes', () => {
  // Anchor 10 x 20 centred (5, 10); gt 12 x 20 centred (8, 14).
  const anchor = [0, 0, 10, 20];
  const gt = [2, 4, 14, 24];

  it('encodes the hand-computed deltas', () => {
    // dx = 3 / 10, dy = 4 / 20, dw = ln(12 / 10), dh = ln(20 / 20).
    close(encodeBoxes(anchor, gt), [0.3, 0.2, 0.1823215567939546, 0]);
    close(encodeBoxes(anchor, gt, [10, 10, 5, 5]), [3, 2, 0.911607783969773, 0]);
  });

  it('decodes them back', () => {
    close(decodeBoxes(anchor, [0.3, 0.2, 0.1823215567939546, 0]), gt, 4);
    close(decodeBoxes(anchor, [3, 2, 0.911607783969773, 0], [10, 10, 5, 5]), gt, 4);
  });

  it('clamps dw and dh above at log(1000 / 16), and not below', () => {
    // exp(log 62.5) = 62.5: width 625, height 1250 about the centre (5, 10).
    close(decodeBoxes(anchor, [0, 0, 10, 10]), [5 - 312.5, 10 - 625, 5 + 312.5, 10 + 625], 3);
    // -10 is not clamped: width 10 e^-10, height 20 e^-10.
    const w = 10 * Math.exp(-10);
    const h = 20 * Math.exp(-10);
    close(decodeBoxes(anchor, [0, 0, -10, -10]), [5 - w / 2, 10 - h / 2, 5 + w / 2, 10 + h / 2], 6);
  });

  it('round-trips random pairs', () => {
    const rng = new Rng(11);
    const anchors = randomBoxes(rng, 500);
    const gts = randomBoxes(rng, 500);
    const back = decodeBoxes(anchors, encodeBoxes(anchors, gts));
    for (let i = 0; i < gts.length; i++) expect(Math.abs(back[i]! - gts[i]!), `coordinate ${i}`).toBeLessThan(1e-3);
  });

  it('rejects mismatched pairs', () => {
    expect(() => encodeBoxes([0, 0, 1, 1], [0, 0, 1, 1, 0, 0, 1, 1])).toThrow(/pairs/);
  });
});

describe('decodeBoxesTensor', () => {
  it('matches decodeBoxes (clamp included) and has a finite gradient', () => {
    const rng = new Rng(5);
    const anchors = randomBoxes(rng, 64);
    const deltas = new Float32Array(4 * 64).map(() => Math.fround(3 * rng.normal()));
    deltas[2] = 20; // above the clamp
    const want = decodeBoxes(anchors, deltas);
    const a = tf.tensor2d(anchors, [64, 4]);
    const d = tf.tensor2d(deltas, [64, 4]);
    const got = decodeBoxesTensor(a, d);
    const data = got.dataSync();
    for (let i = 0; i < want.length; i++) {
      expect(Math.abs(data[i]! - want[i]!), `coordinate ${i}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i]!)));
    }
    // Objective: the sum of the x2 coordinates, x2 = cx + exp(dw) aw / 2 with cx = dx aw + acx.
    const pick = tf.tensor2d(Array.from({ length: 64 }, () => [0, 0, 1, 0]));
    const g = tf
      .grad((x: tf.Tensor) => tf.sum(tf.mul(decodeBoxesTensor(a, x as tf.Tensor2D), pick)))(d)
      .dataSync();
    expect(g.every(Number.isFinite)).toBe(true);
    // Anchor 0's dw is clamped: no gradient; its dx moves x2 by the anchor width.
    expect(g[2]).toBe(0);
    expect(g[0]).toBeCloseTo(anchors[2]! - anchors[0]!, 4);
    // Anchor 1, unclamped: d x2 / d dw = exp(dw) aw / 2.
    expect(deltas[6]!).toBeLessThan(Math.log(1000 / 16));
    const aw1 = anchors[6]! - anchors[4]!;
    expect(g[6]! / ((Math.exp(deltas[6]!) * aw1) / 2)).toBeCloseTo(1, 5);
    pick.dispose();
    tf.dispose([a, d, got]);
  });
});
