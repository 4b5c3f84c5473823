/**
 * The detection losses against references written here: the sigmoid focal loss and its gradient
 * against torchvision's formula in float64 (central differences for the gradient), large logits
 * staying finite; smooth-L1 and GIoU against hand-computed values; the GIoU gradient against
 * float64 finite differences and finite on identical, nested and disjoint boxes.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-layers registers tfjs-core's gradients (tf.grad needs them), as in training.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { giouLoss, l1Loss, sigmoidFocalLoss, smoothL1Loss } from '../../src/detection/losses.js';
import { Rng } from '../../src/util/rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** |got - want| <= rel |want| + abs, elementwise, naming the first failure. */
function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rel = 1e-3, abs = 1e-6): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i]! - want[i]!) <= rel * Math.abs(want[i]!) + abs;
    expect(ok, `${what}[${i}]: got ${got[i]}, want ${want[i]}`).toBe(true);
  }
}

/** torchvision.ops.sigmoid_focal_loss, reduction none, in float64. */
function focal64(x: number, t: number, alpha: number, gamma: number): number {
  const p = 1 / (1 + Math.exp(-x));
  const ce = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
  const pt = p * t + (1 - p) * (1 - t);
  const loss = ce * (1 - pt) ** gamma;
  return alpha >= 0 ? (alpha * t + (1 - alpha) * (1 - t)) * loss : loss;
}

describe('sigmoidFocalLoss', () => {
  const rng = new Rng(3);
  const special = [-30, -12, -5, -1, -0.3, 0, 0.2, 1.5, 4, 12, 30];
  // Every special logit with target 0 and 1, then random logits with binary and soft targets.
  const xs: number[] = [...special, ...special];
  const ts: number[] = [...special.map(() => 0), ...special.map(() => 1)];
  for (let i = 0; i < 40; i++) {
    xs.push(4 * rng.normal());
    ts.push(i % 5 === 4 ? 0.3 : rng.int(2));
  }
  const n = xs.length;
  const x32 = Float32Array.from(xs);
  const t32 = Float32Array.from(ts);
  const w = Float32Array.from({ length: n }, () => 2 * rng.uniform() - 1);

  for (const [alpha, gamma] of [
    [0.25, 2],
    [-1, 2],
    [0.5, 0],
    [0.25, 1.5],
  ] as const) {
    it(`matches torchvision's formula and its float64 gradient (alpha ${alpha}, gamma ${gamma})`, () => {
      const x = tf.tensor1d(x32);
      const t = tf.tensor1d(t32);
      const wT = tf.tensor1d(w);
      const loss = sigmoidFocalLoss(x, t, alpha, gamma);
      const want = Array.from(x32, (v, i) => focal64(v, t32[i]!, alpha, gamma));
      expectNear(loss.dataSync(), want, 'loss');
      const grad = tf
        .grad((v: tf.Tensor) => tf.sum(tf.mul(sigmoidFocalLoss(v, t, alpha, gamma), wT)))(x)
        .dataSync();
      const h = 1e-5;
      const fd = Array.from(x32, (v, i) => (w[i]! * (focal64(v + h, t32[i]!, alpha, gamma) - focal64(v - h, t32[i]!, alpha, gamma))) / (2 * h));
      expectNear(grad, fd, 'gradient');
      tf.dispose([x, t, wT, loss]);
    });
  }

  it('stays finite for huge logits, with the right limits', () => {
    const x = tf.tensor1d([-1000, -100, 100, 1000, -1000, -100, 100, 1000]);
    const t = tf.tensor1d([0, 0, 0, 0, 1, 1, 1, 1]);
    const loss = sigmoidFocalLoss(x, t).dataSync();
    const grad = tf
      .grad((v: tf.Tensor) => tf.sum(sigmoidFocalLoss(v, t)))(x)
      .dataSync();
    expect(Array.from(loss).every(Number.isFinite)).toBe(true);
    expect(Array.from(grad).every(Number.isFinite)).toBe(true);
    // Confidently wrong: alpha_t |x| (0.75 x for t = 0, 0.25 |x| for t = 1), slope 0.75 and -0.25.
    expectNear([loss[3]!, loss[4]!, grad[3]!, grad[4]!], [750, 250, 0.75, -0.25], 'wrong');
    // Confidently right: 0.
    expectNear([loss[0]!, loss[7]!, grad[0]!, grad[7]!], [0, 0, 0, 0], 'right');
    tf.dispose([x, t]);
  });
});

describe('l1Loss / smoothL1Loss', () => {
  const d = [0, 0.05, 0.1, -0.5, 1, 2, -3];
  const pred = tf.tensor1d(d);
  const zero = tf.zerosLike(pred);

  it('l1 is |d|', () => {
    expectNear(l1Loss(pred, zero).dataSync(), [0, 0.05, 0.1, 0.5, 1, 2, 3], 'l1', 1e-6);
  });

  it('smooth-L1 with beta 1 (the default, torchvision RetinaNet): 0.5 d^2 below 1, |d| - 0.5 above', () => {
    expectNear(smoothL1Loss(pred, zero).dataSync(), [0, 0.00125, 0.005, 0.125, 0.5, 1.5, 2.5], 'beta 1', 1e-6);
  });

  it('smooth-L1 with beta 1/9: 4.5 d^2 below 1/9, |d| - 1/18 above', () => {
    const want = [0, 4.5 * 0.0025, 4.5 * 0.01, 0.5 - 1 / 18, 1 - 1 / 18, 2 - 1 / 18, 3 - 1 / 18];
    expectNear(smoothL1Loss(pred, zero, 1 / 9).dataSync(), want, 'beta 1/9', 1e-6);
  });

  it('smooth-L1 with beta 0 is L1', () => {
    expectNear(smoothL1Loss(pred, zero, 0).dataSync(), [0, 0.05, 0.1, 0.5, 1, 2, 3], 'beta 0', 1e-6);
  });
});

/** torchvision.ops.generalized_box_iou_loss for one pair, float64. */
function giou64(p: number[], g: number[], eps = 1e-7): number {
  const iw = Math.min(p[2]!, g[2]!) - Math.max(p[0]!, g[0]!);
  const ih = Math.min(p[3]!, g[3]!) - Math.max(p[1]!, g[1]!);
  const inter = iw > 0 && ih > 0 ? iw * ih : 0;
  const union = (p[2]! - p[0]!) * (p[3]! - p[1]!) + (g[2]! - g[0]!) * (g[3]! - g[1]!) - inter;
  const c = (Math.max(p[2]!, g[2]!) - Math.min(p[0]!, g[0]!)) * (Math.max(p[3]!, g[3]!) - Math.min(p[1]!, g[1]!));
  return 1 - (inter / (union + eps) - (c - union) / (c + eps));
}

describe('giouLoss', () => {
  it('gives the hand-computed values', () => {
    const pred = tf.tensor2d([
      [0, 0, 2, 2], // identical to the target: 0
      [0, 0, 2, 2], // inter 1, union 7, enclosing 9: 1 - (1/7 - 2/9) = 68/63
      [0, 0, 1, 1], // disjoint: inter 0, union 2, enclosing 3: 1 + 1/3
      [0, 0, 4, 4], // nested: inter 1, union 16, enclosing 16: 15/16
      [0, 0, 1, 1], // touching: inter 0, union 2, enclosing 2: 1
    ]);
    const target = tf.tensor2d([
      [0, 0, 2, 2],
      [1, 1, 3, 3],
      [2, 0, 3, 1],
      [1, 1, 2, 2],
      [1, 0, 2, 1],
    ]);
    const loss = giouLoss(pred, target);
    expect(loss.shape).toEqual([5]);
    expectNear(loss.dataSync(), [0, 68 / 63, 4 / 3, 15 / 16, 1], 'giou', 1e-6, 1e-6);
    tf.dispose([pred, target, loss]);
  });

  it('has the float64 finite-difference gradient, finite for identical, nested and disjoint boxes', () => {
    const preds = [
      [0.5, 1.2, 4.3, 5.1],
      [0, 0, 1, 2],
      [0.3, 0.2, 8.1, 7.7],
      [1.7, 0.4, 6.2, 3.9],
    ];
    const targets = [
      [1.7, 0.4, 6.2, 3.9], // partial overlap
      [3.5, 0.5, 5, 4], // disjoint
      [2.2, 1.9, 4.6, 5.3], // nested
      [1.7, 0.4, 6.2, 3.9], // identical
    ];
    const p = tf.tensor2d(preds);
    const g = tf.tensor2d(targets);
    const grad = tf
      .grad((v: tf.Tensor) => tf.sum(giouLoss(v as tf.Tensor2D, g)))(p)
      .dataSync();
    expect(Array.from(grad).every(Number.isFinite)).toBe(true);
    // Central differences on the first three pairs (the identical pair sits on min/max kinks).
    const h = 1e-6;
    const fd: number[] = [];
    for (let r = 0; r < 3; r++) {
      for (let k = 0; k < 4; k++) {
        const up = [...preds[r]!];
        const down = [...preds[r]!];
        up[k]! += h;
        down[k]! -= h;
        fd.push((giou64(up, targets[r]!) - giou64(down, targets[r]!)) / (2 * h));
      }
    }
    expectNear(Array.from(grad.subarray(0, 12)), fd, 'giou gradient', 1e-3, 1e-5);
    tf.dispose([p, g]);
  });
});
