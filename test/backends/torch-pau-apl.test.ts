/**
 * The native PAU and APL kernels of the 'torch' backend (native/src/ops_pau_apl.cc) against the
 * composite tfjs versions on the cpu backend (src/ops/pau.ts, apl.ts): forward, dx and
 * every parameter gradient, ranks 1-4, odd sizes, multi-chunk sizes; PAU with inputs on the |x| kink
 * (0, -0, subnormals) and zero / negative denominator coefficients; APL with inputs exactly on every
 * hinge b_s and on 0; NaN propagation; 1 and 2 threads bitwise identical; and training steps through
 * the trainer that run the fused kernels with no cpu fallback. Skipped when the addon is not built.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import { APL_BACKWARD_KERNEL, APL_FORWARD_KERNEL, PAU_BACKWARD_KERNEL, PAU_FORWARD_KERNEL } from '../../src/ops/kernel-names.js';
import { aplBackward, aplForward, apl } from '../../src/ops/apl.js';
import { PAU_INIT_DENOMINATOR, PAU_INIT_NUMERATOR } from '../../src/activations/pau.js';
import { pau, pauBackward, pauForward } from '../../src/ops/pau.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { Rng } from '../../src/util/rng.js';
import { sample } from '../helpers/fd.js';
import { expectKernelOutputs, microTrain } from '../helpers/micro-train.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

async function on<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

// ---- PAU ----------------------------------------------------------------------------------------

interface PauCase {
  name: string;
  shape: number[];
  a: number[];
  b: number[];
}

const rngCoef = new Rng(5);
const PAU_CASES: PauCase[] = [
  { name: 'rank 1, init coefficients', shape: [11], a: PAU_INIT_NUMERATOR, b: PAU_INIT_DENOMINATOR },
  { name: 'rank 2, odd, negative and zero denominator coefficients', shape: [3, 7], a: [0.2, -0.7, 0.5, 0.1, -0.3, 0.05], b: [0.7, -0.3, 0, -0.5] },
  { name: 'rank 3, random coefficients', shape: [3, 5, 9], a: Array.from(sample(rngCoef, 6, -1, 1)), b: Array.from(sample(rngCoef, 4, -1, 1)) },
  { name: 'rank 4, init coefficients', shape: [2, 6, 6, 5], a: PAU_INIT_NUMERATOR, b: PAU_INIT_DENOMINATOR },
  { name: 'rank 4, odd, several chunks (not a multiple of 8)', shape: [2, 33, 35, 17], a: Array.from(sample(rngCoef, 6, -1, 1)), b: [-0.2, 1.5, -0.01, 0.3] },
];

function pauX(shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = sample(rng, size(shape), -4, 4);
  // The |x| kink and its neighbourhood: zeros of both signs, subnormals, tiny and unit values.
  const specials = [0, -0, 1e-40, -1e-40, 1e-30, -1e-30, 2 ** -24, -(2 ** -24), 1, -1, 3, -3];
  specials.forEach((v, i) => {
    if (i < x.length) x[i] = v;
  });
  return x;
}

const PAU_NAMES = ['forward', 'dx', 'da', 'db'];

function runPau(c: PauCase, x: Float32Array, dy: Float32Array, impl: 'fused' | 'composite'): Float32Array[] {
  return tf.tidy(() => {
    const xt = tf.tensor(x, c.shape);
    const a = tf.tensor1d(c.a);
    const b = tf.tensor1d(c.b);
    const out = pauForward(xt, a, b, impl);
    const grads = pauBackward(tf.tensor(dy, c.shape), xt, a, b, impl);
    return [out, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

// ---- APL ----------------------------------------------------------------------------------------

interface AplCase {
  name: string;
  shape: number[];
  s: number;
}

const APL_CASES: AplCase[] = [
  { name: 'rank 1, S = 2', shape: [7], s: 2 },
  { name: 'rank 2, one channel, S = 3', shape: [50, 1], s: 3 },
  { name: 'rank 2, odd, S = 2', shape: [5, 3], s: 2 },
  { name: 'rank 3, S = 5', shape: [3, 4, 2], s: 5 },
  { name: 'rank 4, S = 2', shape: [2, 5, 5, 16], s: 2 },
  { name: 'rank 4, odd channels, S = 3', shape: [3, 7, 9, 13], s: 3 },
  { name: 'rank 4, several chunks, S = 4', shape: [4, 33, 35, 17], s: 4 },
];

interface AplData {
  x: Float32Array;
  dy: Float32Array;
  a: Float32Array;
  b: Float32Array;
}

function aplData(c: AplCase, seed: number): AplData {
  const rng = new Rng(seed);
  const C = c.shape[c.shape.length - 1]!;
  const a = sample(rng, c.s * C, -1, 1);
  const b = sample(rng, c.s * C, -1.5, 1.5);
  const x = sample(rng, size(c.shape), -3, 3);
  // Rows 0..S-1: x exactly on hinge s of its channel; row S: x = 0; row S+1: x = -0.
  for (let s = 0; s < c.s; s++) for (let ch = 0; ch < C; ch++) if (s * C + ch < x.length) x[s * C + ch] = b[s * C + ch]!;
  for (let ch = 0; ch < C; ch++) {
    if (c.s * C + ch < x.length) x[c.s * C + ch] = 0;
    if ((c.s + 1) * C + ch < x.length) x[(c.s + 1) * C + ch] = -0;
  }
  return { x, dy: sample(rng, x.length, -1, 1), a, b };
}

const APL_NAMES = ['forward', 'dx', 'da', 'db'];

function runApl(c: AplCase, d: AplData, impl: 'fused' | 'composite'): Float32Array[] {
  return tf.tidy(() => {
    const C = c.shape[c.shape.length - 1]!;
    const x = tf.tensor(d.x, c.shape);
    const a = tf.tensor2d(d.a, [c.s, C]);
    const b = tf.tensor2d(d.b, [c.s, C]);
    const out = aplForward(x, a, b, impl);
    const grads = aplBackward(tf.tensor(d.dy, c.shape), x, a, b, impl);
    return [out, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

describe.skipIf(!avail.available)(`torch PAU and APL kernels vs the composite on cpu${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
  });

  it('registers the four kernels natively', () => {
    expect(nativeKernelNames()).toEqual(expect.arrayContaining([PAU_FORWARD_KERNEL, PAU_BACKWARD_KERNEL, APL_FORWARD_KERNEL, APL_BACKWARD_KERNEL]));
  });

  for (const c of PAU_CASES) {
    it(`PAU ${c.name}`, async () => {
      const x = pauX(c.shape, 7);
      const dy = sample(new Rng(8), x.length, -1, 1);
      const want = await on('cpu', () => runPau(c, x, dy, 'composite'));
      const got = await on('torch', () => runPau(c, x, dy, 'fused'));
      expectKernelOutputs(got, want, PAU_NAMES, c.name);
    });
  }

  for (const c of APL_CASES) {
    it(`APL ${c.name}`, async () => {
      const d = aplData(c, 9);
      const want = await on('cpu', () => runApl(c, d, 'composite'));
      const got = await on('torch', () => runApl(c, d, 'fused'));
      expectKernelOutputs(got, want, APL_NAMES, c.name);
    });
  }

  it('NaN inputs propagate as in the composite', async () => {
    const pc = PAU_CASES[1]!;
    const x = pauX(pc.shape, 3);
    x[4] = NaN;
    const dy = sample(new Rng(4), x.length, -1, 1);
    expectKernelOutputs(await on('torch', () => runPau(pc, x, dy, 'fused')), await on('cpu', () => runPau(pc, x, dy, 'composite')), PAU_NAMES, 'PAU NaN');
    const ac = APL_CASES[2]!;
    const d = aplData(ac, 5);
    d.x[7] = NaN;
    expectKernelOutputs(await on('torch', () => runApl(ac, d, 'fused')), await on('cpu', () => runApl(ac, d, 'composite')), APL_NAMES, 'APL NaN');
  });

  it('gradients through the customGrad ops (auto) agree between torch and cpu', async () => {
    const shape = [3, 5, 4];
    const rng = new Rng(12);
    const x = sample(rng, size(shape), -3, 3);
    const w = sample(rng, x.length, -1, 1);
    const a6 = Array.from(sample(rng, 6, -1, 1));
    const b4 = [0.4, -0.8, 0.1, 0.2];
    const aS = sample(rng, 2 * 4, -1, 1);
    const bS = sample(rng, 2 * 4, -1, 1);
    const grads = () =>
      tf.tidy(() => {
        const wt = tf.tensor(w, shape);
        const gp = tf.grads((xs: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(pau(xs, a, b), wt)))([
          tf.tensor(x, shape),
          tf.tensor1d(a6),
          tf.tensor1d(b4),
        ]);
        const ga = tf.grads((xs: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(apl(xs, a, b), wt)))([
          tf.tensor(x, shape),
          tf.tensor2d(aS, [2, 4]),
          tf.tensor2d(bS, [2, 4]),
        ]);
        return [...gp, ...ga].map((t) => t.dataSync() as Float32Array);
      });
    const want = await on('cpu', grads);
    const got = await on('torch', grads);
    expectKernelOutputs(got, want, ['pau dx', 'pau da', 'pau db', 'apl dx', 'apl da', 'apl db'], 'grads', 0);
  });

  it('is deterministic: 1 and 2 threads give bitwise identical results', async () => {
    const pc = PAU_CASES[PAU_CASES.length - 1]!;
    const px = pauX(pc.shape, 13);
    const pdy = sample(new Rng(14), px.length, -1, 1);
    const ac = APL_CASES[APL_CASES.length - 1]!;
    const ad = aplData(ac, 15);
    const both = () => [...runPau(pc, px, pdy, 'fused'), ...runApl(ac, ad, 'fused')];
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    const one = await on('torch', both);
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
    const two = await on('torch', both);
    const again = await on('torch', both);
    one.forEach((v, k) => {
      expect(Array.from(two[k]!), `output ${k} threads`).toEqual(Array.from(v));
      expect(Array.from(again[k]!), `output ${k} rerun`).toEqual(Array.from(v));
    });
  });

  for (const [activation, kernels] of [
    ['pau', [PAU_FORWARD_KERNEL, PAU_BACKWARD_KERNEL]],
    ['apl', [APL_FORWARD_KERNEL, APL_BACKWARD_KERNEL]],
  ] as const) {
    it(`a ${activation} training step on torch runs the fused kernels and nothing on the cpu`, async () => {
      await tf.setBackend('torch');
      const micro = microTrain('resnet20', { name: activation });
      const profile = await tf.profile(() => micro.step());
      micro.dispose();
      expect(profile.kernelNames).toEqual(expect.arrayContaining([...kernels]));
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }
});
