/**
 * The fused Swish and PReLU kernels of the 'torch' backend (native/src/ops_swish_prelu.cc) against the
 * composite versions (src/ops/swish.ts, prelu.ts) on the cpu backend and against
 * float64 references: forward, dx, dbeta (trainable beta) and dalpha, ranks 1-4, odd sizes, a
 * transposed (non-fresh) input, multi-chunk sizes, special values (0, -0, |x| beyond the exp
 * clamp, NaN); reductions bitwise identical on 1 and 2 threads; finite differences of the layers
 * on torch; and training steps that run the fused kernels with no cpu fallback. Skipped when the
 * addon is not built.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import { PReLULayer } from '../../src/activations/prelu.js';
import { PRELU_BACKWARD_KERNEL, PRELU_FORWARD_KERNEL, SWISH_BACKWARD_KERNEL, SWISH_FORWARD_KERNEL } from '../../src/ops/kernel-names.js';
import { preluBackward, preluForward } from '../../src/ops/prelu.js';
import { SwishLayer } from '../../src/activations/swish.js';
import type { OpImpl } from '../../src/ops/fused-op.js';
import { swishBackward, swishForward } from '../../src/ops/swish.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { Rng } from '../../src/util/rng.js';
import { checkLayerGradients, sample } from '../helpers/fd.js';
import { microTrain } from '../helpers/micro-train.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

interface Case {
  name: string;
  shape: number[];
  /** Feed x through a transpose (a kernel output) rather than a fresh upload. */
  transposed?: boolean;
}

const CASES: Case[] = [
  { name: 'rank 1, 11 elements', shape: [11] },
  { name: 'rank 2, [3, 7]', shape: [3, 7] },
  { name: 'rank 2, [5, 3] (3 channels)', shape: [5, 3] },
  { name: 'rank 3, [3, 4, 2]', shape: [3, 4, 2] },
  { name: 'rank 4, [2, 5, 5, 6]', shape: [2, 5, 5, 6] },
  { name: 'rank 4, odd [3, 7, 9, 13], transposed input', shape: [3, 7, 9, 13], transposed: true },
  { name: 'rank 4, several chunks, 17 channels', shape: [4, 33, 35, 17] },
  { name: 'rank 2, several chunks, 70 channels (> 64)', shape: [1013, 70] },
  { name: 'rank 1, several chunks, odd length', shape: [70001] },
];

const SIZE = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Data {
  x: Float32Array;
  dy: Float32Array;
  alpha: Float32Array;
}

/** x in [-6, 6) with 0, -0 and values beyond the exp clamp (|beta x| > 88) mixed in; dy in [-1, 1). */
function data(c: Case, seed: number): Data {
  const rng = new Rng(seed);
  const n = SIZE(c.shape);
  const x = sample(rng, n, -6, 6);
  const special = [0, -0, 95, -95, 1e4, -1e4, 87.9, -87.9, 40, -40, 1e-30, -1e-30];
  for (let i = 0; i < special.length && 3 * i < n; i++) x[3 * i] = special[i]!;
  const ch = c.shape[c.shape.length - 1]!;
  return { x, dy: sample(rng, n, -1, 1), alpha: sample(rng, ch, -0.5, 1.5) };
}

function input(c: Case, v: Float32Array): tf.Tensor {
  const x = tf.tensor(v, c.shape);
  if (!c.transposed) return x;
  const perm = [...c.shape.keys()].reverse(); // its own inverse
  return tf.transpose(tf.transpose(x, perm), perm);
}

/** Swish outputs [y, dx] (number beta) or [y, dx, dbeta] (tensor beta) with the given implementation. */
function runSwish(c: Case, d: Data, beta: number, trainable: boolean, impl: OpImpl): Float32Array[] {
  return tf.tidy(() => {
    const x = input(c, d.x);
    const b = trainable ? tf.scalar(beta) : beta;
    const grads = swishBackward(tf.tensor(d.dy, c.shape), x, b, impl);
    return [swishForward(x, b, impl), ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

function runPrelu(c: Case, d: Data, impl: 'fused' | 'composite'): Float32Array[] {
  return tf.tidy(() => {
    const x = input(c, d.x);
    const a = tf.tensor1d(d.alpha);
    return [preluForward(x, a, impl), ...preluBackward(tf.tensor(d.dy, c.shape), x, a, impl)].map((t) => t.dataSync() as Float32Array);
  });
}

/** float64 Swish reference: y, dx, and dbeta with the sum of |terms| (the scale its rounding error is relative to). */
function swishRef(d: Data, beta: number) {
  const n = d.x.length;
  const y = new Float64Array(n);
  const dx = new Float64Array(n);
  let db = 0;
  let dbScale = 0;
  for (let i = 0; i < n; i++) {
    const v = d.x[i]!;
    const z = beta * v;
    // sigmoid and s(1-s) without overflow or cancellation
    const e = Math.exp(-Math.abs(z));
    const s = z >= 0 ? 1 / (1 + e) : e / (1 + e);
    const q = e / ((1 + e) * (1 + e));
    y[i] = v * s;
    dx[i] = d.dy[i]! * (s + z * q);
    const t = d.dy[i]! * v * v * q;
    db += t;
    dbScale += Math.abs(t);
  }
  return { y, dx, db, dbScale };
}

/** float64 dalpha per channel and the sums of |terms|. */
function preluRef(d: Data, ch: number) {
  const da = new Float64Array(ch);
  const scale = new Float64Array(ch);
  d.x.forEach((v, i) => {
    if (!(v > 0)) {
      const t = v * d.dy[i]!;
      da[i % ch] += t;
      scale[i % ch] += Math.abs(t);
    }
  });
  return { da, scale };
}

/** max_i |got - want| / max(1, |want|) (NaN must match NaN). */
function worstRel(got: ArrayLike<number>, want: ArrayLike<number>, what: string): number {
  expect(got.length, `${what} length`).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (Number.isNaN(w) || Number.isNaN(g)) {
      expect(Number.isNaN(g), `${what}[${i}] NaN: got ${g}, want ${w}`).toBe(Number.isNaN(w));
      continue;
    }
    worst = Math.max(worst, Math.abs(g - w) / Math.max(1, Math.abs(w)));
  }
  return worst;
}

/** Sums: |got - want| relative to the sum of |terms| (the scale of their rounding error), worst element. */
function expectSums(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, `${what} length`).toBe(want.length);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!) / Math.max(1e-6, scale[i]!);
    if (!(err <= worst)) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}[${at}]: got ${got[at]}, want ${want[at]} (sum |terms| ${scale[at]})`).toBeLessThan(tol);
}

async function on<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

describe.skipIf(!avail.available)(`torch Swish / PReLU kernels${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
  });

  it('registers the four kernels natively (and the cpu backend has none: composite there)', () => {
    const names = [SWISH_FORWARD_KERNEL, SWISH_BACKWARD_KERNEL, PRELU_FORWARD_KERNEL, PRELU_BACKWARD_KERNEL];
    expect(nativeKernelNames()).toEqual(expect.arrayContaining(names));
    for (const k of names) {
      expect(tf.getKernel(k, 'torch'), k).toBeDefined();
      expect(tf.getKernel(k, 'cpu'), k).toBeUndefined();
    }
  });

  for (const c of CASES) {
    it(`swish, fixed beta 1 and 1.7: ${c.name}`, async () => {
      const d = data(c, 3);
      for (const beta of [1, 1.7]) {
        const ref = swishRef(d, beta);
        const want = await on('cpu', () => runSwish(c, d, beta, false, 'composite'));
        const got = await on('torch', () => runSwish(c, d, beta, false, 'fused'));
        expect(got.length).toBe(2);
        // float32 evaluation: a few ulps of the float64 reference, and of the composite
        expect(worstRel(got[0]!, ref.y, `beta ${beta} y vs f64`)).toBeLessThan(1e-6);
        expect(worstRel(got[1]!, ref.dx, `beta ${beta} dx vs f64`)).toBeLessThan(1e-6);
        expect(worstRel(got[0]!, want[0]!, `beta ${beta} y vs composite`)).toBeLessThan(2e-6);
        expect(worstRel(got[1]!, want[1]!, `beta ${beta} dx vs composite`)).toBeLessThan(2e-6);
      }
    });

    it(`swish, trainable beta 0.8: ${c.name}`, async () => {
      const d = data(c, 5);
      const ref = swishRef(d, 0.8);
      const want = await on('cpu', () => runSwish(c, d, 0.8, true, 'composite'));
      const got = await on('torch', () => runSwish(c, d, 0.8, true, 'fused'));
      expect(got.length).toBe(3);
      expect(worstRel(got[0]!, ref.y, 'y vs f64')).toBeLessThan(1e-6);
      expect(worstRel(got[1]!, ref.dx, 'dx vs f64')).toBeLessThan(1e-6);
      expect(worstRel(got[1]!, want[1]!, 'dx vs composite')).toBeLessThan(2e-6);
      expectSums(got[2]!, [ref.db], [ref.dbScale], 2e-6, 'dbeta vs f64');
      expectSums(want[2]!, [ref.db], [ref.dbScale], 1e-4, 'composite dbeta vs f64');
    });

    it(`prelu: ${c.name}`, async () => {
      const d = data(c, 7);
      const ch = c.shape[c.shape.length - 1]!;
      const want = await on('cpu', () => runPrelu(c, d, 'composite'));
      const got = await on('torch', () => runPrelu(c, d, 'fused'));
      // forward and dx are one float32 multiply or a copy: bitwise equal to the composite
      expect(worstRel(got[0]!, want[0]!, 'y')).toBe(0);
      expect(worstRel(got[1]!, want[1]!, 'dx')).toBe(0);
      const ref = preluRef(d, ch);
      expect(got[2]!.length).toBe(ch);
      expectSums(got[2]!, ref.da, ref.scale, 1e-6, 'dalpha vs f64');
      expectSums(want[2]!, ref.da, ref.scale, 1e-4, 'composite dalpha vs f64');
    });
  }

  it('NaN inputs propagate as in the composite versions', async () => {
    const c: Case = { name: 'nan', shape: [4, 3] };
    const d = data(c, 9);
    d.x[1] = NaN;
    d.x[6] = NaN;
    for (const [beta, trainable] of [
      [1, false],
      [1.3, true],
    ] as const) {
      const got = await on('torch', () => runSwish(c, d, beta, trainable, 'fused'));
      const want = await on('cpu', () => runSwish(c, d, beta, trainable, 'composite'));
      got.forEach((g, k) => expect(worstRel(g, want[k]!, `swish ${beta} output ${k}`)).toBeLessThan(1e-6));
    }
    const got = await on('torch', () => runPrelu(c, d, 'fused'));
    const want = await on('cpu', () => runPrelu(c, d, 'composite'));
    got.forEach((g, k) => expect(worstRel(g, want[k]!, `prelu output ${k}`)).toBeLessThan(1e-6));
  });

  it('is deterministic: 1 and 2 threads give bitwise identical results (reductions included)', async () => {
    for (const c of CASES.slice(-3)) {
      const d = data(c, 11);
      const both = () => [...runSwish(c, d, 1.2, true, 'fused'), ...runPrelu(c, d, 'fused')];
      await registerTorchBackend({ threads: 1, device: torchTestDevice() });
      const one = await on('torch', both);
      await registerTorchBackend({ threads: 2, device: torchTestDevice() });
      const two = await on('torch', both);
      one.forEach((v, k) => expect(Array.from(two[k]!), `${c.name} output ${k}`).toEqual(Array.from(v)));
    }
  });

  it('the layers on torch: gradients (fused path) match central differences', async () => {
    await tf.setBackend('torch');
    const rng = new Rng(21);
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    const settings = [
      [1, false],
      [1.7, false],
      [1.3, true],
    ] as const;
    for (const [k, [beta, trainable]] of settings.entries()) {
      checkLayerGradients({
        layer: new SwishLayer({ name: `swish_torch_${k}`, beta, trainable_beta: trainable }),
        x: sample(rng, 24, -4, 4),
        shape: [2, 3, 4],
        ref: (x, [b]) => x.map((v) => v * sigmoid((b ? b[0]! : beta) * v)),
      });
    }
    const C = 3;
    checkLayerGradients({
      layer: new PReLULayer({ name: 'prelu_t' }),
      x: sample(rng, 2 * 2 * 2 * C, -3, 3, [0]),
      shape: [2, 2, 2, C],
      set: { alpha: [0.25, -0.4, 1.7] },
      ref: (x, [a]) => x.map((v, e) => Math.max(0, v) + a![e % C]! * Math.min(0, v)),
    });
    expect(fallbackKernelsUsed()).toEqual([]);
  });

  for (const [activation, extra, kernels] of [
    ['swish', {}, [SWISH_FORWARD_KERNEL, SWISH_BACKWARD_KERNEL]],
    ['swish', { beta: 1.5, trainable_beta: true }, [SWISH_FORWARD_KERNEL, SWISH_BACKWARD_KERNEL]],
    ['prelu', {}, [PRELU_FORWARD_KERNEL, PRELU_BACKWARD_KERNEL]],
  ] as const) {
    it(`a ${activation} ${JSON.stringify(extra)} training step on torch runs the fused kernels and nothing on the cpu`, async () => {
      await tf.setBackend('torch');
      const micro = microTrain('resnet20', { name: activation, [activation]: extra });
      const actWeights = micro.model.layers.filter((l) => l instanceof SwishLayer || l instanceof PReLULayer).flatMap((l) => l.trainableWeights);
      const before = actWeights.map((w) => w.read().dataSync()[0]!);
      const profile = await tf.profile(() => micro.step());
      const after = actWeights.map((w) => w.read().dataSync()[0]!);
      micro.dispose();
      expect(profile.kernelNames).toEqual(expect.arrayContaining([...kernels]));
      expect(profile.kernelNames).not.toContain('Prelu');
      expect(profile.kernelNames).not.toContain('Sigmoid');
      if (activation === 'prelu' || 'trainable_beta' in extra) {
        // the activation parameters received gradients and moved
        expect(before.length).toBeGreaterThan(0);
        expect(after.some((v, i) => v !== before[i])).toBe(true);
      }
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }
});
