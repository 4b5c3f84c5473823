/**
 * The fused hard-swish kernels of the 'torch' backend (native/src/ops_swish_prelu.cc) against the
 * composite version (src/ops/hardswish.ts) on the cpu backend and on torch itself, and
 * against float64 references: forward and dx bitwise equal to the composite (same float32 steps in the
 * same order) on ranks 1-4, odd sizes, a transposed (non-fresh) input, multi-chunk sizes and special
 * values (exactly -3, 3, 0, -0, neighbours of the kinks, huge values, +-inf, NaN); 1 and 2 threads
 * bitwise identical; the PyTorch convention at the kinks; and training steps (registry activation and
 * MobileNet-V3's applyFixed sites) that run the fused kernels with no cpu fallback. Skipped when the
 * addon is not built.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import { HardSwishLayer } from '../../src/activations/hardswish.js';
import { HARDSWISH_BACKWARD_KERNEL, HARDSWISH_FORWARD_KERNEL } from '../../src/ops/kernel-names.js';
import type { OpImpl } from '../../src/ops/fused-op.js';
import { hardswish, hardswishBackward, hardswishForward } from '../../src/ops/hardswish.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { applyFixed } from '../../src/nn/fixed-layers.js';
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
  { name: 'rank 1, 1 element', shape: [1] },
  { name: 'rank 1, 37 elements (specials)', shape: [37] },
  { name: 'rank 2, [3, 7]', shape: [3, 7] },
  { name: 'rank 3, [3, 4, 5]', shape: [3, 4, 5] },
  { name: 'rank 4, odd [3, 7, 9, 13], transposed input', shape: [3, 7, 9, 13], transposed: true },
  { name: 'rank 4, several chunks, [4, 33, 35, 17]', shape: [4, 33, 35, 17] },
  { name: 'rank 1, several chunks, odd length 70001', shape: [70001] },
];

const SIZE = (s: number[]) => s.reduce((a, b) => a * b, 1);

const F32 = (v: number) => Math.fround(v);
/** Exactly the kinks, 0 and -0, the float32 neighbours of +-3, saturation at 3 = relu6's 6, huge values, infinities, NaN, tiny values. */
const SPECIAL = [
  -3,
  3,
  0,
  -0,
  F32(2.9999998),
  F32(3.0000002),
  F32(-2.9999998),
  F32(-3.0000002),
  6,
  -6,
  1e4,
  -1e4,
  1e30,
  -1e30,
  3e38,
  -3e38,
  Infinity,
  -Infinity,
  NaN,
  1e-30,
  -1e-30,
  1e-45,
  -1e-45,
  F32(0.1),
  F32(-0.1),
  F32(1 / 3),
  F32(-1 / 3),
  1.5,
  -1.5,
  4.5,
  -4.5,
];

interface Data {
  x: Float32Array;
  dy: Float32Array;
}

/** x in [-8, 8) with every special value mixed in (first, then spread); dy in [-1, 1) with a few -0 / 0. */
function data(c: Case, seed: number): Data {
  const rng = new Rng(seed);
  const n = SIZE(c.shape);
  const x = sample(rng, n, -8, 8);
  const dy = sample(rng, n, -1, 1);
  for (let i = 0; i < SPECIAL.length && i < n; i++) x[i] = SPECIAL[i]!;
  for (let i = 0; i < SPECIAL.length && 7 * i + 5 < n; i++) x[7 * i + 5] = SPECIAL[(i * 5) % SPECIAL.length]!;
  if (n > 40) dy[40] = -0;
  return { x, dy };
}

function input(c: Case, v: Float32Array): tf.Tensor {
  const x = tf.tensor(v, c.shape);
  if (!c.transposed) return x;
  const perm = [...c.shape.keys()].reverse(); // its own inverse
  return tf.transpose(tf.transpose(x, perm), perm);
}

/** [y, dx] with the given implementation on the active backend. */
function run(c: Case, d: Data, impl: OpImpl): Float32Array[] {
  return tf.tidy(() => {
    const x = input(c, d.x);
    return [hardswishForward(x, impl), hardswishBackward(tf.tensor(d.dy, c.shape), x, impl)].map((t) => t.dataSync() as Float32Array);
  });
}

/** Bit patterns equal, element by element (any NaN matches any NaN; -0 must match -0). */
function expectBitwise(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, `${what} length`).toBe(want.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]!) || Number.isNaN(got[i]!)) {
      expect(Number.isNaN(got[i]!), `${what}[${i}] NaN: got ${got[i]}, want ${want[i]}`).toBe(Number.isNaN(want[i]!));
      continue;
    }
    if (g[i] !== w[i])
      expect(`${what}[${i}] (x-index ${i}): got ${Object.is(got[i], -0) ? '-0' : got[i]}`).toBe(`want ${Object.is(want[i], -0) ? '-0' : want[i]}`);
  }
}

/**
 * float64 reference of y and dx (torch's convention: the kinks take the middle branch; NaN x gives NaN),
 * with the scale of each dx's float32 rounding error: |dy| * (|x|/3 + 1/2) in the middle branch, where
 * x/3 + 1/2 cancels near x = -1.5 (so a relative bound there would be meaningless), |dx| elsewhere.
 */
function ref(d: Data): { y: Float64Array; dx: Float64Array; dxScale: Float64Array } {
  const n = d.x.length;
  const y = new Float64Array(n);
  const dx = new Float64Array(n);
  const dxScale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = d.x[i]!;
    const g = d.dy[i]!;
    y[i] = (v * Math.min(Math.max(v + 3, 0), 6)) / 6;
    dx[i] = v < -3 ? 0 : v > 3 ? g : g * ((2 * v + 3) / 6);
    dxScale[i] = v >= -3 && v <= 3 ? Math.abs(g) * (Math.abs(v) / 3 + 0.5) : Math.abs(dx[i]!);
  }
  return { y, dx, dxScale };
}

/**
 * max_i |got - want| / max(FLT_MIN, scale) (scale = |want| by default; absolute below the normal range)
 * over finite references whose float32 result is finite; NaN must match NaN, exact zeros must be zero.
 */
function worstRel(got: Float32Array, want: Float64Array, what: string, scale?: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (Number.isNaN(w)) {
      expect(Number.isNaN(got[i]!), `${what}[${i}] NaN`).toBe(true);
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(got[i]!)) continue; // inf inputs; (x * 6) overflowing near 3e38
    if (w === 0) {
      expect(got[i] === 0, `${what}[${i}]: got ${got[i]}, want 0`).toBe(true);
      continue;
    }
    const s = scale ? scale[i]! : Math.abs(w);
    worst = Math.max(worst, Math.abs(got[i]! - w) / Math.max(1.1754943508222875e-38, s));
  }
  return worst;
}

async function on<T>(backend: string, f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

describe.skipIf(!avail.available)(`torch hard-swish kernels${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 2, device: torchTestDevice() });
  });

  it('registers the two kernels natively (and the cpu backend has none: composite there)', () => {
    const names = [HARDSWISH_FORWARD_KERNEL, HARDSWISH_BACKWARD_KERNEL];
    expect(nativeKernelNames()).toEqual(expect.arrayContaining(names));
    for (const k of names) {
      expect(tf.getKernel(k, 'torch'), k).toBeDefined();
      expect(tf.getKernel(k, 'cpu'), k).toBeUndefined();
    }
  });

  for (const c of CASES) {
    it(`fused = composite bitwise (cpu and torch composite), and within an ulp of float64: ${c.name}`, async () => {
      const d = data(c, 3 + SIZE(c.shape));
      const cpu = await on('cpu', () => run(c, d, 'composite'));
      const torchComposite = await on('torch', () => run(c, d, 'composite'));
      const got = await on('torch', () => run(c, d, 'fused'));
      expectBitwise(got[0]!, cpu[0]!, 'y vs cpu composite');
      expectBitwise(got[1]!, cpu[1]!, 'dx vs cpu composite');
      expectBitwise(got[0]!, torchComposite[0]!, 'y vs torch composite');
      expectBitwise(got[1]!, torchComposite[1]!, 'dx vs torch composite');
      const r = ref(d);
      // three correctly rounded float32 steps each: a few ulps of the float64 value (of its error scale for dx)
      expect(worstRel(got[0]!, r.y, 'y vs f64')).toBeLessThan(4e-7);
      expect(worstRel(got[1]!, r.dx, 'dx vs f64', r.dxScale)).toBeLessThan(4e-7);
    });
  }

  it('special values: the kinks take the middle branch (PyTorch), -0 and NaN as torch', async () => {
    const x = Float32Array.from([-3, 3, 0, -0, -4, 4, -3.5, NaN, Infinity, -Infinity, 1e38]);
    const dy = new Float32Array(x.length).fill(1);
    dy[4] = -2; // x < -3: dx is +0 (not dy * 0 = -0)
    const [y, dx] = await on('torch', () => run({ name: 'specials', shape: [x.length] }, { x, dy }, 'fused'));
    const show = (a: Float32Array) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));
    // torch.nn.functional.hardswish: y(-3) = -0, y(-4) = -0, y(-inf) = -inf * 0 = NaN; (x * 6) / 6 overflows at 1e38
    expect(show(y!)).toEqual(['-0', '3', '0', '-0', '-0', '4', '-0', 'NaN', 'Infinity', 'NaN', 'Infinity']);
    // hardswish_backward: slope -0.5 at x = -3 and 1.5 at x = 3 (torch's scalar / CUDA kernels and autograd formula)
    expect(show(dx!)).toEqual(['-0.5', '1.5', '0.5', '0.5', '0', '1', '0', 'NaN', '1', '0', '1']);
  });

  it('is deterministic: 1 and 2 threads give bitwise identical results', async () => {
    for (const c of CASES.slice(-2)) {
      const d = data(c, 11);
      await registerTorchBackend({ threads: 1, device: torchTestDevice() });
      const one = await on('torch', () => run(c, d, 'fused'));
      await registerTorchBackend({ threads: 2, device: torchTestDevice() });
      const two = await on('torch', () => run(c, d, 'fused'));
      one.forEach((v, k) => expectBitwise(two[k]!, v, `${c.name} output ${k}`));
    }
  });

  it('the layer and applyFixed on torch: the fused kernels, gradients matching central differences', async () => {
    await tf.setBackend('torch');
    const rng = new Rng(21);
    checkLayerGradients({
      layer: new HardSwishLayer({ name: 'hswish_torch' }),
      x: sample(rng, 40, -5, 5, [-3, 3]),
      shape: [2, 5, 4],
      ref: (x) => x.map((v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6),
    });
    const xs = tf.tensor1d(sample(rng, 64, -5, 5));
    const profile = await tf.profile(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(applyFixed('hardswish', t)))(xs);
      g.dataSync();
      g.dispose();
    });
    expect(profile.kernelNames).toEqual(expect.arrayContaining([HARDSWISH_FORWARD_KERNEL, HARDSWISH_BACKWARD_KERNEL]));
    expect(profile.kernelNames).not.toContain('Relu6');
    const [viaFixed, viaOp] = tf.tidy(() => [applyFixed('hardswish', xs), hardswish(xs)].map((t) => t.dataSync() as Float32Array));
    expectBitwise(viaFixed!, viaOp!, 'applyFixed vs op');
    xs.dispose();
    expect(fallbackKernelsUsed()).toEqual([]);
  });

  for (const arch of ['resnet20', 'mobilenet_v3_small']) {
    it(`a ${arch} hardswish training step on torch runs the fused kernels and nothing on the cpu`, async () => {
      await tf.setBackend('torch');
      const micro = microTrain(arch, { name: 'hardswish' });
      const profile = await tf.profile(() => micro.step());
      micro.dispose();
      expect(profile.kernelNames).toEqual(expect.arrayContaining([HARDSWISH_FORWARD_KERNEL, HARDSWISH_BACKWARD_KERNEL]));
      // the composite's kernels are gone (resnet20 has no other relu6; MobileNet-V3's h-sigmoid gates keep theirs)
      if (arch === 'resnet20') for (const k of ['Relu6', 'PwluRelu6Grad']) expect(profile.kernelNames).not.toContain(k);
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }
});
