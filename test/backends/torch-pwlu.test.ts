/**
 * The native PWLU kernels of the 'torch' backend (native/src/ops_pwlu.cc) against the JS kernels of
 * the cpu backend (src/ops/pwlu.ts): forward and all six backward outputs, layer-wise and
 * channel-wise, ranks 1-4, odd shapes, inputs on every breakpoint and on both bounds, a degenerate
 * instance (BL = BR), multi-chunk sizes run on 1 and 2 threads (bitwise identical), and a training
 * step through the trainer without any cpu fallback. Skipped when the addon is not built.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import { PWLU_BACKWARD_KERNEL, PWLU_FORWARD_KERNEL, PWLU_INFER_KERNEL, PWLU_WIDEN_BOUNDS_KERNEL } from '../../src/ops/kernel-names.js';
import { pwluBackward, pwluForward, pwluWidenBounds, type PwluTensors } from '../../src/ops/pwlu.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { Rng } from '../../src/util/rng.js';
import { sample } from '../helpers/fd.js';
import { expectKernelOutputs, microTrain } from '../helpers/micro-train.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

interface Case {
  name: string;
  shape: number[];
  p: number;
  n: number;
  /** Make instance 0 degenerate: BL = BR. */
  degenerate?: boolean;
  /** Feed x through a transpose (a kernel output) rather than a fresh upload. */
  transposed?: boolean;
}

const CASES: Case[] = [
  { name: 'rank 1, layer-wise, N = 4', shape: [11], p: 1, n: 4 },
  { name: 'rank 1, channel-wise, N = 2', shape: [7], p: 7, n: 2 },
  { name: 'rank 2, layer-wise, N = 2', shape: [3, 7], p: 1, n: 2 },
  { name: 'rank 2, channel-wise P = 3, N = 4', shape: [5, 3], p: 3, n: 4 },
  { name: 'rank 3, channel-wise P = 2, N = 6, BL = BR', shape: [3, 4, 2], p: 2, n: 6, degenerate: true },
  { name: 'rank 4, layer-wise, N = 16', shape: [4, 6, 6, 5], p: 1, n: 16 },
  { name: 'rank 4, channel-wise, N = 8', shape: [2, 5, 5, 6], p: 6, n: 8 },
  { name: 'rank 4, channel-wise odd, N = 6, transposed input', shape: [3, 7, 9, 13], p: 13, n: 6, transposed: true },
  { name: 'rank 4, layer-wise, several chunks', shape: [4, 32, 32, 17], p: 1, n: 16 },
  { name: 'rank 4, channel-wise, several chunks', shape: [4, 33, 35, 17], p: 17, n: 16 },
];

interface Data {
  x: Float32Array;
  dy: Float32Array;
  y: Float32Array;
  kl: Float32Array;
  kr: Float32Array;
  bl: Float32Array;
  br: Float32Array;
}

function data(c: Case, seed: number): Data {
  const rng = new Rng(seed);
  const size = c.shape.reduce((a, b) => a * b, 1);
  const bl = sample(rng, c.p, -2, -0.5);
  const br = sample(rng, c.p, 0.5, 2.5);
  if (c.degenerate) br[0] = bl[0]!;
  const x = sample(rng, size, -4, 4);
  // Every breakpoint B_i (i = 0..N, so both bounds too) of every instance, then B_i's float neighbours.
  let e = 0;
  for (let q = 0; q < c.p; q++) {
    const d = Math.fround(Math.fround(br[q]! - bl[q]!) / c.n);
    for (let i = 0; i <= c.n; i++) {
      const b = Math.fround(bl[q]! + i * d);
      for (const v of [b, Math.fround(b * (1 + 2 ** -22)), Math.fround(b * (1 - 2 ** -22))]) {
        // element k * P + q belongs to instance q (any q when P = 1)
        const at = e * c.p + q;
        if (at < size) x[at] = v;
        e++;
      }
    }
    e = 0;
  }
  return {
    x,
    dy: sample(rng, size, -1, 1),
    y: sample(rng, c.p * (c.n + 1), -1, 2),
    kl: sample(rng, c.p, -1, 1),
    kr: sample(rng, c.p, -1, 2),
    bl,
    br,
  };
}

const NAMES = ['forward', 'dx', 'dY', 'dKL', 'dKR', 'dBL', 'dBR'];

/** Forward and the six gradients with the fused kernels of the active backend. */
function run(c: Case, d: Data): Float32Array[] {
  return tf.tidy(() => {
    let x = tf.tensor(d.x, c.shape);
    if (c.transposed) {
      const perm = [...c.shape.keys()].reverse(); // its own inverse
      x = tf.transpose(tf.transpose(x, perm), perm);
    }
    const params = { y: tf.tensor2d(d.y, [c.p, c.n + 1]), kl: tf.tensor1d(d.kl), kr: tf.tensor1d(d.kr), bl: tf.tensor1d(d.bl), br: tf.tensor1d(d.br) };
    const out = pwluForward(x, params, 'fused');
    const grads = pwluBackward(tf.tensor(d.dy, c.shape), x, params, 'fused');
    return [out, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

async function on<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

describe.skipIf(!avail.available)(`torch PWLU kernels vs cpu${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
  });

  it('registers PwluForward and PwluBackward natively', () => {
    expect(nativeKernelNames()).toEqual(expect.arrayContaining([PWLU_FORWARD_KERNEL, PWLU_BACKWARD_KERNEL]));
    expect(tf.getKernel(PWLU_FORWARD_KERNEL, 'torch')).toBeDefined();
    expect(tf.getKernel(PWLU_BACKWARD_KERNEL, 'torch')).toBeDefined();
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const d = data(c, 7);
      const want = await on('cpu', () => run(c, d));
      const got = await on('torch', () => run(c, d));
      expectKernelOutputs(got, want, NAMES, c.name);
    });
  }

  it('NaN inputs propagate as in the JS kernels', async () => {
    const c: Case = { name: 'nan', shape: [4, 3], p: 3, n: 4 };
    const d = data(c, 3);
    d.x[1] = NaN;
    d.x[6] = NaN;
    expectKernelOutputs(await on('torch', () => run(c, d)), await on('cpu', () => run(c, d)), NAMES, 'NaN');
  });

  it('is deterministic: 1 and 2 threads give bitwise identical results', async () => {
    for (const c of CASES.slice(-2)) {
      const d = data(c, 11);
      await registerTorchBackend({ threads: 1, device: torchTestDevice() });
      const one = await on('torch', () => run(c, d));
      await registerTorchBackend({ threads: 2, device: torchTestDevice() });
      const two = await on('torch', () => run(c, d));
      const again = await on('torch', () => run(c, d));
      one.forEach((v, k) => {
        expect(Array.from(two[k]!), `${c.name} ${NAMES[k]} threads`).toEqual(Array.from(v));
        expect(Array.from(again[k]!), `${c.name} ${NAMES[k]} rerun`).toEqual(Array.from(v));
      });
    }
  });

  for (const granularity of ['layer', 'channel'] as const) {
    it(`a ${granularity}-wise PWLU training step on torch runs no kernel on the cpu`, async () => {
      await tf.setBackend('torch');
      const micro = microTrain('resnet20', { name: 'pwlu', pwlu: { phase1_epochs: 0, granularity } });
      const profile = await tf.profile(() => micro.step());
      micro.dispose();
      expect(profile.kernelNames).toEqual(expect.arrayContaining([PWLU_FORWARD_KERNEL, PWLU_BACKWARD_KERNEL]));
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }
});

describe.skipIf(!avail.available)('torch PwluInfer (float32 inference form)', () => {
  /** Random PWLU parameters for P instances of N intervals, bounds around [-2, 2.5]. */
  function params(r: Rng, p: number, n: number): PwluTensors {
    const f = (len: number, lo: number, hi: number) => sample(r, len, lo, hi);
    return {
      y: tf.tensor2d(f(p * (n + 1), -1, 2), [p, n + 1]),
      kl: tf.tensor1d(f(p, -0.5, 0.5)),
      kr: tf.tensor1d(f(p, 0.5, 1.5)),
      bl: tf.tensor1d(f(p, -2.2, -1.8)),
      br: tf.tensor1d(f(p, 2.3, 2.7)),
    };
  }

  it('equals PwluForward up to float rounding (layer- and channel-wise, tails, breakpoints, NaN and infinities)', async () => {
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
    await tf.setBackend('torch');
    const r = new Rng(9);
    // [P, N, shape]: 1x16 and 5x4 use the float32 table path; 8x16 (144 entries) falls back to PwluForward's loops
    for (const [p, n, shape] of [
      [1, 16, [3, 7, 5, 1]],
      [1, 16, [70001]],
      [5, 4, [2, 9, 11, 5]],
      [8, 16, [3, 5, 8]],
    ] as const) {
      const prm = params(r, p, n);
      const size = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const xs = sample(r, size, -4, 4);
      // exact breakpoints of instance 0, and the special values
      const bl = prm.bl.dataSync()[0]!;
      const d = (prm.br.dataSync()[0]! - bl) / n;
      for (let i = 0; i <= n && i * p < size; i++) xs[i * p] = Math.fround(bl + i * d);
      [NaN, Infinity, -Infinity, 0, -0].forEach((v, i) => (xs[size - 1 - i * p] = v));
      const x = tf.tensor(xs, [...shape]);
      const got = tf.engine().runKernel(PWLU_INFER_KERNEL, { x, ...prm }, {}) as tf.Tensor;
      const want = pwluForward(x, prm, 'fused');
      const g = got.dataSync();
      const w = want.dataSync();
      for (let i = 0; i < size; i++) {
        if (Number.isNaN(w[i]!)) {
          expect(Number.isNaN(g[i]!), `P ${p} N ${n} [${i}] NaN`).toBe(true);
          continue;
        }
        if (!Number.isFinite(w[i]!)) {
          expect(g[i], `P ${p} N ${n} [${i}]`).toBe(w[i]);
          continue;
        }
        expect(Math.abs(g[i]! - w[i]!), `P ${p} N ${n} x ${xs[i]}`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(w[i]!)));
      }
      tf.dispose([x, got, want, prm.y, prm.kl, prm.kr, prm.bl, prm.br]);
    }
  });
});

describe.skipIf(!avail.available)('torch PwluWidenBounds (the bounds guard after each update)', () => {
  it('equals the composite bit for bit: narrow instances widened about their midpoint, the others unchanged', async () => {
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
    await tf.setBackend('torch');
    const r = new Rng(4);
    const p = 64;
    const bl = sample(r, p, -3, 1);
    // widths from crossed bounds (-0.4) to well above the minimum, and exactly the minimum
    const br = Float32Array.from(bl, (v, i) => Math.fround(v + (i % 8 === 0 ? 0.25 : -0.4 + (i / p) * 1.6)));
    const t = (v: Float32Array) => tf.tensor1d(v);
    for (const minWidth of [0.25, 1e-3]) {
      const [b0, b1] = [t(bl), t(br)];
      const fused = tf.engine().runKernel<tf.Tensor[]>(PWLU_WIDEN_BOUNDS_KERNEL, { bl: b0, br: b1 }, { minWidth });
      const composite = pwluWidenBounds(b0, b1, minWidth, 'composite');
      const [fl, fr, cl, cr] = [...fused, ...composite].map((x) => x.dataSync());
      expect(Array.from(fl!)).toEqual(Array.from(cl!));
      expect(Array.from(fr!)).toEqual(Array.from(cr!));
      for (let i = 0; i < p; i++) {
        const width = Math.fround(br[i]! - bl[i]!);
        if (width >= Math.fround(minWidth)) {
          expect([fl![i], fr![i]], `instance ${i} kept`).toEqual([bl[i], br[i]]);
        } else {
          expect(fr![i]! - fl![i]!, `instance ${i} width`).toBeCloseTo(minWidth, 5);
          expect((fr![i]! + fl![i]!) / 2, `instance ${i} midpoint`).toBeCloseTo((bl[i]! + br[i]!) / 2, 5);
        }
      }
      tf.dispose([b0, b1, ...fused, ...composite]);
    }
  });
});
