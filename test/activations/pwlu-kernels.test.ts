/**
 * The fused PWLU kernels (JS loops of src/backends/js-kernels/, registered for cpu and wasm) against
 * the composite tfjs-op version: forward and all six gradients, layer-wise and channel-wise, on
 * random inputs that hit every region, on the cpu and the wasm backends (and wasm against cpu); and
 * that the op's automatic choice runs exactly the fused kernels there (not the composite).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerJsKernels } from '../../src/backends/js-kernels/index.js';
import { initWasmBackend } from '../../src/backends/wasm/index.js';
import type { OpImpl } from '../../src/ops/fused-op.js';
import { PWLU_BACKWARD_KERNEL, PWLU_FORWARD_KERNEL } from '../../src/ops/kernel-names.js';
import { pwlu, pwluBackward, pwluForward } from '../../src/ops/pwlu.js';
import { hasNativeKernel } from '../../src/ops/native-kernel.js';
import { Rng } from '../../src/util/rng.js';
import { expectClose, sample } from '../helpers/fd.js';

interface Case {
  name: string;
  shape: number[];
  p: number;
  n: number;
}

const CASES: Case[] = [
  { name: 'layer-wise, N = 16', shape: [4, 6, 6, 5], p: 1, n: 16 },
  { name: 'layer-wise, N = 2', shape: [3, 7], p: 1, n: 2 },
  { name: 'channel-wise, N = 8', shape: [2, 5, 5, 6], p: 6, n: 8 },
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
  const x = sample(rng, size, -4, 4);
  // Put some inputs exactly on breakpoints and bounds of the first instance.
  const d = Math.fround(Math.fround(br[0]! - bl[0]!) / c.n);
  for (let i = 0; i <= c.n && i * c.p < size; i++) x[i * c.p] = Math.fround(bl[0]! + i * d);
  return { x, dy: sample(rng, size, -1, 1), y: sample(rng, c.p * (c.n + 1), -1, 2), kl: sample(rng, c.p, -1, 1), kr: sample(rng, c.p, -1, 2), bl, br };
}

/** Forward and backward on the active backend with one implementation, as plain arrays. */
function run(c: Case, d: Data, impl: OpImpl): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor(d.x, c.shape);
    const params = { y: tf.tensor2d(d.y, [c.p, c.n + 1]), kl: tf.tensor1d(d.kl), kr: tf.tensor1d(d.kr), bl: tf.tensor1d(d.bl), br: tf.tensor1d(d.br) };
    const out = pwluForward(x, params, impl);
    const grads = pwluBackward(tf.tensor(d.dy, c.shape), x, params, impl);
    return [out, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

const NAMES = ['forward', 'dx', 'dY', 'dKL', 'dKR', 'dBL', 'dBR'];

function compare(got: Float32Array[], want: Float32Array[], what: string): void {
  got.forEach((g, i) => expectClose(g, want[i]!, `${what} ${NAMES[i]}`, 2e-5));
}

describe('fused PWLU kernels equal the composite version', () => {
  const cpuResults = new Map<string, Float32Array[]>();

  beforeAll(async () => {
    registerJsKernels();
    await tf.setBackend('cpu');
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const c of CASES) {
    it(`cpu: ${c.name}`, () => {
      expect(hasNativeKernel(PWLU_FORWARD_KERNEL) && hasNativeKernel(PWLU_BACKWARD_KERNEL)).toBe(true);
      const d = data(c, 11);
      const fused = run(c, d, 'fused');
      compare(fused, run(c, d, 'composite'), `cpu ${c.name}`);
      cpuResults.set(c.name, fused);
    });
  }

  it('wasm: fused kernels registered, equal to the composite version and to cpu', async () => {
    await initWasmBackend();
    expect(tf.getBackend()).toBe('wasm');
    expect(hasNativeKernel(PWLU_FORWARD_KERNEL) && hasNativeKernel(PWLU_BACKWARD_KERNEL)).toBe(true);
    for (const c of CASES) {
      const d = data(c, 11);
      const fused = run(c, d, 'fused');
      compare(fused, run(c, d, 'composite'), `wasm ${c.name}`);
      compare(fused, cpuResults.get(c.name) ?? run(c, d, 'fused'), `wasm vs cpu ${c.name}`);
    }
    await tf.setBackend('cpu');
  });

  /** The kernels one training step of the op runs on the active backend, with the automatic choice. */
  async function kernelsOfStep(): Promise<string[]> {
    const c = CASES[2]!;
    const d = data(c, 13);
    const x = tf.tensor(d.x, c.shape);
    const params = { y: tf.tensor2d(d.y, [c.p, c.n + 1]), kl: tf.tensor1d(d.kl), kr: tf.tensor1d(d.kr), bl: tf.tensor1d(d.bl), br: tf.tensor1d(d.br) };
    const info = await tf.profile(() => {
      const grads = tf.grads((xs: tf.Tensor, y: tf.Tensor) => pwlu(xs, { ...params, y }))([x, params.y]);
      tf.dispose(grads);
    });
    tf.dispose([x, ...Object.values(params)]);
    return info.kernelNames;
  }

  it('cpu and wasm: the automatic choice runs the fused JS kernels, one each way, and no composite op', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      if (backend === 'wasm') await initWasmBackend();
      else await tf.setBackend('cpu');
      expect(tf.getBackend()).toBe(backend);
      const names = await kernelsOfStep();
      expect(names, backend).toContain(PWLU_FORWARD_KERNEL);
      expect(names, backend).toContain(PWLU_BACKWARD_KERNEL);
      expect(names, backend).not.toContain('GatherV2');
      expect(names, backend).not.toContain('UnsortedSegmentSum');
    }
    await tf.setBackend('cpu');
  });

  it('the fused backward is deterministic (bit-identical on repeat)', () => {
    const c = CASES[2]!;
    const d = data(c, 12);
    const a = run(c, d, 'fused');
    const b = run(c, d, 'fused');
    a.forEach((v, i) => expect(Array.from(b[i]!)).toEqual(Array.from(v)));
  });

  it('rejects parameters whose shapes do not fit the input', () => {
    const x = tf.zeros([2, 3]);
    const bad = { y: tf.zeros([2, 5]), kl: tf.zeros([2]), kr: tf.zeros([2]), bl: tf.zeros([2]), br: tf.ones([2]) };
    expect(() => pwluForward(x, bad)).toThrow(/P must be 1 or the channel count 3/);
    expect(() => pwluForward(x, { ...bad, y: tf.zeros([3, 5]) })).toThrow(/kl must be \[3\]/);
    tf.dispose([x, ...Object.values(bad)]);
  });
});
