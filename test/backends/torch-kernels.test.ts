/**
 * Every native kernel of the 'torch' backend against the pure-JS 'cpu' backend on the same random
 * inputs: elementwise ops with broadcasting, int32/bool dtypes, reductions, convolutions (strides,
 * same/valid/explicit padding, dilation, odd sizes, depthwise, fused bias+activation), pooling,
 * batch norm (fused kernels vs the composite), matmul, data movement, and gradients through the
 * tfjs engine. Skipped, with the reason in the suite name, when the addon is not built.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients (tfjs-core's node bundle has none)

import { loadAddon, readBuildInfo } from '../../src/backends/torch/addon.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const DIST = resolve(__dirname, '..', '..', 'dist');
const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

type Out = { shape: number[]; dtype: string; values: number[] };
type Build = (r: Rand) => tf.Tensor | tf.Tensor[];

/** Seeded inputs, identical on both backends. */
class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Uniform float tensor in [lo, hi). */
  f(shape: number[], lo = -1, hi = 1): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * this.next();
    return tf.tensor(v, shape, 'float32');
  }
  /** Integer tensor in [lo, hi). */
  i(shape: number[], lo: number, hi: number): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Int32Array(n);
    for (let k = 0; k < n; k++) v[k] = lo + Math.floor((hi - lo) * this.next());
    return tf.tensor(v, shape, 'int32');
  }
  b(shape: number[]): tf.Tensor {
    return tf.cast(this.i(shape, 0, 2), 'bool');
  }
}

function collect(r: tf.Tensor | tf.Tensor[]): Out[] {
  const ts = Array.isArray(r) ? r : [r];
  return ts.map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) }));
}

async function run(backend: string, build: Build, seed: number): Promise<Out[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => collect(build(new Rand(seed))));
}

/** Runs `build` on cpu and torch and compares shapes, dtypes and values. */
async function same(what: string, build: Build, { tol = 1e-4, seed = 1, reference }: { tol?: number; seed?: number; reference?: Build } = {}): Promise<void> {
  const want = await run('cpu', reference ?? build, seed);
  const got = await run('torch', build, seed);
  expect(got.length, `${what}: number of outputs`).toBe(want.length);
  for (let k = 0; k < want.length; k++) {
    const w = want[k]!;
    const g = got[k]!;
    const tag = `${what}[${k}]`;
    expect(g.shape, `${tag} shape`).toEqual(w.shape);
    expect(g.dtype, `${tag} dtype`).toBe(w.dtype);
    let worst = 0;
    let at = -1;
    for (let i = 0; i < w.values.length; i++) {
      const a = g.values[i]!;
      const b = w.values[i]!;
      if (Number.isNaN(b) || Number.isNaN(a)) {
        expect(Number.isNaN(a), `${tag}[${i}] NaN mismatch: got ${a}, want ${b}`).toBe(Number.isNaN(b));
        continue;
      }
      if (a === b) continue;
      const err = Math.abs(a - b) / Math.max(1, Math.abs(b));
      if (err > worst) {
        worst = err;
        at = i;
      }
    }
    expect(worst, `${tag}: worst relative error at ${at}: got ${g.values[at]}, want ${w.values[at]}`).toBeLessThanOrEqual(w.dtype === 'float32' ? tol : 0);
  }
}

type ConvPad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  x: number[];
  f: number[];
  s: number | [number, number];
  p: ConvPad;
  d?: number;
}
type ConvOp = (x: tf.Tensor4D, f: tf.Tensor4D, s: number | [number, number], p: ConvPad, d: number) => tf.Tensor4D;

/** Each case's convolution on torch against cpu and, without dilation, its input and filter gradients. */
async function sameConvs(label: string, op: ConvOp, cases: ConvCase[]): Promise<void> {
  for (const c of cases) {
    const tag = JSON.stringify(c);
    await same(`${label} ${tag}`, (r) => op(r.f(c.x) as tf.Tensor4D, r.f(c.f) as tf.Tensor4D, c.s, c.p, c.d ?? 1));
    if ((c.d ?? 1) !== 1) continue;
    await same(`${label} grads ${tag}`, (r) => {
      const x = r.f(c.x) as tf.Tensor4D;
      const f = r.f(c.f) as tf.Tensor4D;
      const dy = r.f(op(x, f, c.s, c.p, 1).shape);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.p, 1), dy)));
      return g([x, f]);
    });
  }
}

describe.skipIf(!avail.available)(`torch backend kernels vs cpu${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    tf.enableProdMode();
  });

  it('registers the native kernels', () => {
    const names = nativeKernelNames();
    for (const k of ['Conv2D', 'Conv2DBackpropFilter', 'PwluBatchNormTrain', 'PwluBatchNormGrad', 'Add', 'Sum', 'Relu']) {
      expect(names).toContain(k);
    }
  });

  it('unary float ops', async () => {
    const ops: Array<[string, (x: tf.Tensor) => tf.Tensor, number, number]> = [
      ['abs', tf.abs, -3, 3],
      ['neg', tf.neg, -3, 3],
      ['exp', tf.exp, -3, 3],
      ['log', tf.log, 0.1, 5],
      ['sqrt', tf.sqrt, 0, 5],
      ['rsqrt', tf.rsqrt, 0.1, 5],
      ['square', tf.square, -3, 3],
      ['reciprocal', tf.reciprocal, 0.5, 3],
      ['relu', tf.relu, -3, 3],
      ['relu6', tf.relu6, -3, 9],
      ['sigmoid', tf.sigmoid, -6, 6],
      ['tanh', tf.tanh, -3, 3],
      ['floor', tf.floor, -3, 3],
      ['ceil', tf.ceil, -3, 3],
      ['round', tf.round, -3, 3],
      ['sign', tf.sign, -3, 3],
      ['sin', tf.sin, -3, 3],
      ['cos', tf.cos, -3, 3],
      ['tan', tf.tan, -1, 1],
      ['asin', tf.asin, -0.9, 0.9],
      ['acos', tf.acos, -0.9, 0.9],
      ['atan', tf.atan, -3, 3],
      ['sinh', tf.sinh, -2, 2],
      ['cosh', tf.cosh, -2, 2],
      ['asinh', tf.asinh, -3, 3],
      ['acosh', tf.acosh, 1.1, 4],
      ['atanh', tf.atanh, -0.9, 0.9],
      ['erf', tf.erf, -2, 2],
      ['expm1', tf.expm1, -2, 2],
      ['log1p', tf.log1p, -0.5, 3],
      ['softplus', tf.softplus, -5, 5],
      ['selu', tf.selu, -3, 3],
      ['elu', tf.elu, -3, 3],
      ['leakyRelu', (x) => tf.leakyRelu(x, 0.3), -3, 3],
      ['step', (x) => tf.step(x, 0.25), -3, 3],
      ['clipByValue', (x) => tf.clipByValue(x, -0.5, 0.7), -2, 2],
      ['onesLike', tf.onesLike, -1, 1],
      ['zerosLike', tf.zerosLike, -1, 1],
    ];
    for (const [name, f, lo, hi] of ops) await same(name, (r) => f(r.f([3, 7], lo, hi)), { tol: 2e-5 });
    // exact halves for round (banker's rounding) and NaN handling
    await same('round-half', () => tf.round(tf.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])));
    const special = () => tf.tensor([NaN, Infinity, -Infinity, 0, -1, 2]);
    for (const f of [tf.isNaN, tf.isInf, tf.isFinite, (x: tf.Tensor) => tf.step(x), tf.relu, tf.abs]) await same(`special ${f.name}`, () => f(special()));
    await same('logicalNot', (r) => tf.logicalNot(r.b([4, 5])));
  });

  it('activation gradients (one-pass torch overrides of Relu/Relu6/Sigmoid/Mean) match tfjs', async () => {
    const acts: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
      ['relu', tf.relu],
      ['relu6', tf.relu6],
      ['sigmoid', tf.sigmoid],
      ['mean hw', (x) => tf.mean(x, [1, 2])],
      ['mean keepDims', (x) => tf.mean(x, [0, 3], true)],
      ['mean all', (x) => tf.mean(x)],
    ];
    for (const [name, f] of acts) {
      await same(`grad ${name}`, (r) => {
        const x = r.f([2, 3, 4, 5], -8, 8);
        const w = r.f(f(x).shape);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), w)))(x);
      });
    }
    // exact zeros at the kinks, as tfjs (step(0) = 0; relu6 passes 6)
    await same('relu/relu6 grads at kinks', () => {
      const x = tf.tensor([-1, 0, 3, 6, 7]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.relu(a)))(x), tf.grad((a: tf.Tensor) => tf.sum(tf.relu6(a)))(x)];
    });
  });

  it('keeps the one-pass gradients when tfjs-layers loads after the backend (its bundle re-registers every gradient)', () => {
    // a fresh process: the backend is registered before anything imports tfjs-layers, as a script may do
    const script = `
      import * as tf from '@tensorflow/tfjs-core';
      const { registerTorchBackend } = await import(${JSON.stringify(pathToFileURL(join(DIST, 'backends/torch/index.js')).href)});
      await registerTorchBackend({ threads: 1, device: 'cpu' });
      await tf.setBackend('torch');
      await import('@tensorflow/tfjs-layers');
      const calls = {};
      for (const k of ['PwluReluGrad', 'Step']) {
        const c = tf.getKernel(k, 'torch');
        const f = c.kernelFunc;
        c.kernelFunc = (a) => ((calls[k] = (calls[k] ?? 0) + 1), f(a));
      }
      tf.grad((x) => tf.sum(tf.relu(x)))(tf.tensor([-1, 2])).dataSync();
      process.stdout.write(JSON.stringify(calls));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(DIST, '..'), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ PwluReluGrad: 1 });
  });

  it('unary int32 ops', async () => {
    const ops: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
      ['abs', tf.abs],
      ['neg', tf.neg],
      ['square', tf.square],
      ['relu', tf.relu],
      ['sign', tf.sign],
      ['onesLike', tf.onesLike],
      ['zerosLike', tf.zerosLike],
      ['clip', (x) => tf.clipByValue(x, -2, 3)],
    ];
    for (const [name, f] of ops) await same(`int32 ${name}`, (r) => f(r.i([4, 5], -6, 6)));
  });

  it('binary ops with broadcasting', async () => {
    const pairs: Array<[number[], number[]]> = [
      [
        [2, 3, 4],
        [2, 3, 4],
      ],
      [
        [2, 3, 4],
        [3, 1],
      ],
      [[4], [2, 3, 4]],
      [
        [2, 1, 4],
        [3, 1],
      ],
      [[5], []],
    ];
    const ops: Array<[string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
      ['div', tf.div],
      ['maximum', tf.maximum],
      ['minimum', tf.minimum],
      ['squaredDifference', tf.squaredDifference],
      ['atan2', tf.atan2],
      ['mod', tf.mod],
      ['floorDiv', tf.floorDiv],
      ['equal', tf.equal],
      ['notEqual', tf.notEqual],
      ['less', tf.less],
      ['lessEqual', tf.lessEqual],
      ['greater', tf.greater],
      ['greaterEqual', tf.greaterEqual],
    ];
    for (const [sa, sb] of pairs) {
      for (const [name, f] of ops) {
        await same(`${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, (r) => f(r.f(sa, -3, 3), tf.add(r.f(sb, 0.5, 3), 0)), { tol: 2e-5 });
      }
      await same(`pow ${sa}`, (r) => tf.pow(r.f(sa, 0.1, 3), r.f(sb, -2, 2)), { tol: 2e-5 });
      await same(`prelu ${sa}`, (r) => tf.prelu(r.f(sa, -3, 3), r.f(sb, 0, 1)), { tol: 2e-5 });
    }
    // int32 arithmetic and comparisons (floor semantics for floorDiv / mod)
    for (const [name, f] of [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
      ['floorDiv', tf.floorDiv],
      ['mod', tf.mod],
      ['maximum', tf.maximum],
      ['minimum', tf.minimum],
      ['equal', tf.equal],
      ['less', tf.less],
    ] as const) {
      await same(`int32 ${name}`, (r) => f(r.i([3, 4], -9, 9), r.i([4], 1, 5)));
    }
    await same('int32 div → floorDiv', (r) => tf.div(r.i([3, 4], -9, 9), r.i([4], 1, 5)));
    await same('logicalAnd/Or', (r) => [tf.logicalAnd(r.b([3, 4]), r.b([4])), tf.logicalOr(r.b([3, 4]), r.b([3, 1]))]);
    await same('addN', (r) => tf.addN([r.f([3, 4]), r.f([3, 4]), r.f([3, 4])]));
  });

  it('reductions', async () => {
    const axesList: Array<number | number[] | undefined> = [undefined, 0, 1, -1, [0, 2], [1, 2]];
    for (const axis of axesList) {
      for (const keep of [false, true]) {
        const tag = `axis ${JSON.stringify(axis)} keep ${keep}`;
        await same(`float ${tag}`, (r) => {
          const x = r.f([3, 4, 5]);
          return [tf.sum(x, axis, keep), tf.mean(x, axis, keep), tf.max(x, axis, keep), tf.min(x, axis, keep), tf.prod(tf.add(x, 1.5), axis, keep)];
        });
        await same(`int32 ${tag}`, (r) => {
          const x = r.i([3, 4, 5], -5, 5);
          return [tf.sum(x, axis, keep), tf.max(x, axis, keep), tf.min(x, axis, keep), tf.prod(tf.clipByValue(x, 1, 2), axis, keep)];
        });
        await same(`bool ${tag}`, (r) => {
          const x = r.b([3, 4, 5]);
          return [tf.all(x, axis, keep), tf.any(x, axis, keep), tf.sum(x, axis, keep)];
        });
      }
    }
    for (const axis of [0, 1, 2]) await same(`argMax/argMin ${axis}`, (r) => [tf.argMax(r.f([3, 4, 5]), axis), tf.argMin(r.f([3, 4, 5]), axis)]);
    await same('argMax int32', (r) => tf.argMax(r.i([6, 7], -50, 50), 1));
    await same('sum of nothing', (r) => tf.sum(r.f([3, 4]), []));
  });

  it('conv2d: strides, paddings, dilations, odd sizes, fused bias + activation', async () => {
    const cases: ConvCase[] = [
      { x: [2, 7, 5, 3], f: [3, 3, 3, 4], s: 1, p: 'same' },
      { x: [2, 7, 5, 3], f: [3, 3, 3, 4], s: 2, p: 'same' },
      { x: [2, 8, 8, 3], f: [3, 3, 3, 4], s: 2, p: 'same' },
      { x: [1, 7, 6, 2], f: [3, 2, 2, 3], s: [2, 1], p: 'valid' },
      { x: [2, 6, 6, 3], f: [1, 1, 3, 5], s: 2, p: 'valid' },
      {
        x: [2, 6, 7, 3],
        f: [3, 3, 3, 2],
        s: 1,
        p: [
          [0, 0],
          [1, 2],
          [0, 1],
          [0, 0],
        ],
      },
      {
        x: [2, 8, 8, 3],
        f: [3, 3, 3, 4],
        s: 2,
        p: [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
      },
      { x: [1, 9, 9, 2], f: [3, 3, 2, 3], s: 1, p: 'same', d: 2 },
      { x: [1, 9, 8, 2], f: [2, 3, 2, 3], s: 1, p: 'valid', d: 2 },
    ];
    await sameConvs('conv2d', (x, f, st, p, d) => tf.conv2d(x, f, st, p, 'NHWC', d), cases);
    await same('conv2d 1x1 pointwise', (r) => tf.conv2d(r.f([2, 5, 5, 4]) as tf.Tensor4D, r.f([1, 1, 4, 6]) as tf.Tensor4D, 1, 'same'));
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const) {
      await same(`fused conv2d ${activation}`, (r) =>
        tf.fused.conv2d({
          x: r.f([2, 6, 5, 3]) as tf.Tensor4D,
          filter: r.f([3, 3, 3, 4]) as tf.Tensor4D,
          strides: 1,
          pad: 'same',
          bias: r.f([4]),
          activation,
          preluActivationWeights: activation === 'prelu' ? r.f([4], 0, 0.5) : undefined,
          leakyreluAlpha: 0.15,
        }),
      );
    }
    await same('fused conv2d grads (bias, relu)', (r) => {
      const x = r.f([2, 6, 5, 3]) as tf.Tensor4D;
      const f = r.f([3, 3, 3, 4]) as tf.Tensor4D;
      const bias = r.f([4]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.square(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 2, pad: 'same', bias: c, activation: 'relu' }))),
      );
      return g([x, f, bias]);
    });
  });

  it('1x1 convolutions routed around oneDNN (as where its 1x1 kernels crash) match cpu, with gradients', async () => {
    const addon = loadAddon();
    const before = readBuildInfo()?.oneDnn1x1?.ok === false;
    addon.setConv1x1Route(true);
    try {
      const cases: ConvCase[] = [
        { x: [2, 6, 6, 3], f: [1, 1, 3, 5], s: 1, p: 'valid' },
        { x: [2, 6, 6, 3], f: [1, 1, 3, 5], s: 2, p: 'valid' },
        { x: [2, 7, 5, 8], f: [1, 1, 8, 4], s: 2, p: 'same' },
        { x: [1, 9, 8, 2], f: [1, 1, 2, 3], s: [3, 2], p: 'valid' },
      ];
      await sameConvs('routed 1x1 conv2d', (x, f, st, p, d) => tf.conv2d(x, f, st, p, 'NHWC', d), cases);
      await same('routed fused 1x1 conv2d grads (bias, relu)', (r) => {
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.square(tf.fused.conv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, strides: 2, pad: 'valid', bias: c, activation: 'relu' }))),
        );
        return g([r.f([2, 5, 7, 3]), r.f([1, 1, 3, 4]), r.f([4])]);
      });
    } finally {
      addon.setConv1x1Route(before);
    }
  });

  it('depthwise conv2d and its gradients', async () => {
    const cases: ConvCase[] = [
      { x: [2, 7, 5, 3], f: [3, 3, 3, 1], s: 1, p: 'same' },
      { x: [2, 7, 7, 4], f: [3, 3, 4, 2], s: 2, p: 'same' },
      { x: [1, 8, 6, 2], f: [5, 5, 2, 1], s: 2, p: 'valid' },
      {
        x: [1, 6, 6, 3],
        f: [3, 3, 3, 2],
        s: 1,
        p: [
          [0, 0],
          [0, 1],
          [2, 1],
          [0, 0],
        ],
      },
      { x: [1, 9, 9, 2], f: [3, 3, 2, 1], s: 1, p: 'same', d: 2 },
      // outputs of 2x2 and 1x1: the direct filter-gradient path
      { x: [3, 2, 2, 5], f: [3, 3, 5, 1], s: 1, p: 'same' },
      { x: [2, 3, 3, 4], f: [3, 3, 4, 2], s: 2, p: 'same' },
      {
        x: [2, 4, 4, 3],
        f: [3, 3, 3, 1],
        s: 2,
        p: [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
      },
      { x: [4, 1, 1, 6], f: [3, 3, 6, 1], s: 1, p: 'same' },
    ];
    await sameConvs('depthwise', (x, f, st, p, d) => tf.depthwiseConv2d(x, f, st, p, 'NHWC', d), cases);
    await same('fused depthwise relu6', (r) =>
      tf.fused.depthwiseConv2d({
        x: r.f([2, 6, 6, 3]) as tf.Tensor4D,
        filter: r.f([3, 3, 3, 2]) as tf.Tensor4D,
        strides: 1,
        pad: 'same',
        bias: r.f([6]),
        activation: 'relu6',
      }),
    );
  });

  it('pooling and gradients', async () => {
    const cases: Array<{ x: number[]; k: number | [number, number]; s: number; p: 'same' | 'valid' }> = [
      { x: [2, 7, 5, 3], k: 2, s: 2, p: 'valid' },
      { x: [2, 7, 5, 3], k: 3, s: 2, p: 'same' },
      { x: [2, 8, 8, 3], k: 3, s: 1, p: 'same' },
      { x: [1, 6, 7, 2], k: [2, 3], s: 1, p: 'valid' },
      { x: [2, 8, 8, 2], k: 2, s: 2, p: 'same' },
    ];
    for (const c of cases) {
      const tag = JSON.stringify(c);
      await same(`maxPool ${tag}`, (r) => tf.maxPool(r.f(c.x) as tf.Tensor4D, c.k, c.s, c.p));
      await same(`avgPool ${tag}`, (r) => tf.avgPool(r.f(c.x) as tf.Tensor4D, c.k, c.s, c.p));
      await same(`maxPool grad ${tag}`, (r) => {
        const x = r.f(c.x) as tf.Tensor4D;
        const w = r.f(tf.maxPool(x, c.k, c.s, c.p).shape);
        return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.k, c.s, c.p), w)))(x);
      });
      // tfjs's cpu AvgPoolGrad divides by kh*kw even where 'same' padding shrinks the window; the
      // torch kernel gives the exact gradient (as TensorFlow), so the reference is avgPool written as
      // a depthwise conv with a ones filter divided by the window counts, differentiated on cpu.
      const [kh, kw] = typeof c.k === 'number' ? [c.k, c.k] : c.k;
      await same(
        `avgPool grad ${tag}`,
        (r) => {
          const x = r.f(c.x) as tf.Tensor4D;
          const w = r.f(tf.avgPool(x, c.k, c.s, c.p).shape);
          return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, c.k, c.s, c.p), w)))(x);
        },
        {
          reference: (r) => {
            const x = r.f(c.x) as tf.Tensor4D;
            const ch = c.x[3]!;
            const ones = tf.ones([kh, kw, ch, 1]) as tf.Tensor4D;
            const counts = tf.depthwiseConv2d(tf.onesLike(x), ones, c.s, c.p);
            const w = r.f(counts.shape);
            return tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.div(tf.depthwiseConv2d(a as tf.Tensor4D, ones, c.s, c.p), counts), w)))(x);
          },
        },
      );
    }
  });

  it('fused batch-norm kernels match the composite', async () => {
    for (const shape of [
      [4, 5, 3, 6],
      [8, 5],
      [3, 2, 7, 4],
    ]) {
      const eps = 1e-3;
      const c = shape[shape.length - 1]!;
      const axes = shape.slice(0, -1).map((_, i) => i);
      const count = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const data = (r: Rand) => ({ x: r.f(shape, -2, 3), scale: r.f([c], 0.5, 1.5), offset: r.f([c]), dy: r.f(shape), rm: r.f([c]), rv: r.f([c], 0.5, 2) });
      const momentum = 0.1;
      // cpu: composite (as src/ops/batch-norm.ts without native kernels)
      const composite = (r: Rand) => {
        const { x, scale, offset, dy, rm, rv } = data(r);
        const { mean, variance } = tf.moments(x, axes);
        // running statistics: PyTorch's update with the unbiased batch variance
        const runningMean = tf.add(tf.mul(rm, 1 - momentum), tf.mul(mean, momentum));
        const runningVar = tf.add(tf.mul(rv, 1 - momentum), tf.mul(variance, (momentum * count) / (count - 1)));
        const invstd = tf.rsqrt(tf.add(variance, eps));
        const y = tf.add(tf.mul(tf.sub(x, mean), tf.mul(invstd, scale)), offset);
        const xhat = tf.mul(tf.sub(x, mean), invstd);
        const doffset = tf.sum(dy, axes);
        const dscale = tf.sum(tf.mul(dy, xhat), axes);
        const k = tf.div(tf.mul(scale, invstd), count);
        const dx = tf.mul(tf.sub(tf.sub(tf.mul(dy, count), doffset), tf.mul(xhat, dscale)), k);
        return [y, mean, invstd, runningMean, runningVar, dx, dscale, doffset];
      };
      const native = (r: Rand) => {
        const { x, scale, offset, dy, rm, rv } = data(r);
        const inputs = { x, scale, offset, runningMean: rm, runningVar: rv };
        const [y, mean, invstd, runningMean, runningVar] = tf.engine().runKernel<tf.Tensor[]>('PwluBatchNormTrain', inputs, { epsilon: eps, momentum });
        const g = tf.engine().runKernel<tf.Tensor[]>('PwluBatchNormGrad', { dy, x, scale, mean: mean!, invstd: invstd! }, { epsilon: eps });
        return [y!, mean!, invstd!, runningMean!, runningVar!, ...g];
      };
      const want = await run('cpu', composite, 5);
      const got = await run('torch', native, 5);
      for (let k = 0; k < want.length; k++) {
        expect(got[k]!.shape, `bn ${shape} output ${k} shape`).toEqual(want[k]!.shape);
        const worst = Math.max(...want[k]!.values.map((v, i) => Math.abs(v - got[k]!.values[i]!) / Math.max(1, Math.abs(v))));
        expect(worst, `bn ${shape} output ${k}`).toBeLessThan(2e-4);
      }
    }
    await same('tf.batchNorm (FusedBatchNorm, per channel)', (r) =>
      tf.batchNorm(r.f([2, 4, 3, 5]), r.f([5]), r.f([5], 0.5, 2), r.f([5]), r.f([5], 0.5, 1.5), 1e-3),
    );
    await same('tf.batchNorm (FusedBatchNorm, broadcast params)', (r) =>
      tf.batchNorm(r.f([2, 4, 3, 5]), r.f([3, 5]), r.f([1, 5], 0.5, 2), undefined, r.f([3, 5], 0.5, 1.5), 1e-3),
    );
  });

  it('matmul (transposes, batches, broadcast, fused bias + activation)', async () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      await same(`matMul ${ta} ${tb}`, (r) => tf.matMul(r.f(ta ? [4, 3] : [3, 4]), r.f(tb ? [5, 4] : [4, 5]), ta, tb));
      await same(`batched matMul ${ta} ${tb}`, (r) => tf.matMul(r.f(ta ? [2, 4, 3] : [2, 3, 4]), r.f(tb ? [2, 5, 4] : [2, 4, 5]), ta, tb));
    }
    await same('broadcast batch matMul', (r) => tf.matMul(r.f([2, 3, 4]), r.f([1, 4, 5])));
    for (const activation of ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu'] as const) {
      await same(`fused matMul ${activation}`, (r) => tf.fused.matMul({ a: r.f([3, 4]), b: r.f([4, 5]), bias: r.f([5]), activation }));
    }
    await same('matMul grads', (r) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D))))([r.f([3, 4]), r.f([4, 5])]),
    );
  });

  it('softmax, log-softmax, top-k, one-hot, cross-entropy with label smoothing', async () => {
    await same('softmax', (r) => [tf.softmax(r.f([4, 7], -5, 5)), tf.logSoftmax(r.f([4, 7], -5, 5))]);
    await same('topk', (r) => {
      const { values, indices } = tf.topk(r.f([4, 9]), 3);
      return [values, indices];
    });
    await same('oneHot', (r) => [tf.oneHot(r.i([6], -1, 5), 4), tf.oneHot(r.i([2, 3], 0, 4), 4, 2, -1)]);
    await same('softmax cross-entropy (label smoothing) and grads', (r) => {
      const logits = r.f([5, 7], -3, 3);
      const labels = tf.oneHot(r.i([5], 0, 7), 7);
      const f = (l: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, l, undefined, 0.1);
      return [f(logits), tf.grad(f)(logits)];
    });
  });

  it('data movement kernels', async () => {
    await same('transpose', (r) => [tf.transpose(r.f([2, 3, 4]), [2, 0, 1]), tf.transpose(r.i([3, 4], 0, 9))]);
    await same('tile', (r) => tf.tile(r.f([2, 3]), [2, 3]));
    await same('pad', (r) => [
      tf.pad(
        r.f([2, 3, 4]),
        [
          [0, 1],
          [2, 0],
          [1, 1],
        ],
        0.5,
      ),
      tf.pad(r.i([2, 3], 0, 5), [
        [1, 1],
        [0, 2],
      ]),
    ]);
    await same('mirrorPad', (r) => [
      tf.mirrorPad(
        r.f([4, 5]),
        [
          [1, 2],
          [2, 1],
        ],
        'reflect',
      ),
      tf.mirrorPad(
        r.f([4, 5]),
        [
          [1, 2],
          [2, 1],
        ],
        'symmetric',
      ),
    ]);
    await same('slice', (r) => [tf.slice(r.f([4, 5, 6]), [1, 0, 2], [2, -1, 3]), tf.slice(r.i([5], 0, 9), 1, 3)]);
    await same('stridedSlice', (r) => {
      const x = r.f([5, 6, 4]);
      return [
        tf.stridedSlice(x, [0, 1, 0], [5, 6, 4], [2, 2, 1]),
        tf.stridedSlice(x, [4, 5, 3], [0, 0, 0], [-1, -2, -1]),
        tf.stridedSlice(x, [1, 0], [3, 0], [1, 1], 0, 2),
        tf.stridedSlice(x, [1], [2], [1], 0, 0, 0, 0, 1),
        tf.stridedSlice(x, [-1, 0, 0], [-4, 6, 4], [-1, 3, 2]),
      ];
    });
    await same('concat', (r) => [
      tf.concat([r.f([2, 3]), r.f([2, 4]), r.f([2, 0])], 1),
      tf.concat([r.i([1, 3], 0, 5), r.i([2, 3], 0, 5)], 0),
      tf.concat([r.f([2, 3])], 0),
    ]);
    await same('stack/unstack', (r) => [tf.stack([r.f([2, 3]), r.f([2, 3])], 1), ...tf.unstack(r.f([3, 4]), 1)]);
    await same('split', (r) => [...tf.split(r.f([6, 4]), 3, 0), ...tf.split(r.f([3, 7]), [2, 5], 1), ...tf.split(r.f([3, 7]), [2, -1], 1)]);
    await same('reverse', (r) => [tf.reverse(r.f([3, 4, 2]), [0, 2]), tf.reverse(r.i([5], 0, 9))]);
    await same('flipLeftRight', (r) => tf.image.flipLeftRight(r.f([2, 3, 4, 3]) as tf.Tensor4D));
    await same('gather', (r) => [
      tf.gather(r.f([5, 3]), r.i([4], 0, 5)),
      tf.gather(r.f([3, 5, 2]), r.i([2, 3], 0, 5), 1),
      tf.gather(r.i([6], 0, 100), r.i([3, 2], 0, 6)),
      tf.gather(r.f([2, 5, 3]), r.i([2, 4], 0, 5), 1, 1),
    ]);
    await same('gatherND', (r) => [tf.gatherND(r.f([4, 5, 3]), r.i([6, 2], 0, 4)), tf.gatherND(r.f([4, 5]), r.i([3, 1], 0, 4))]);
    await same('unsortedSegmentSum', (r) => [
      tf.unsortedSegmentSum(r.f([7, 3]), r.i([7], 0, 4) as tf.Tensor1D, 4),
      tf.unsortedSegmentSum(r.f([9]), r.i([9], -1, 5) as tf.Tensor1D, 4),
      tf.unsortedSegmentSum(r.i([6], -5, 5), r.i([6], 0, 3) as tf.Tensor1D, 3),
    ]);
    await same('where', (r) => [tf.where(r.b([3, 4]), r.f([3, 4]), r.f([3, 4])), tf.where(r.b([3, 4]), r.f([4]), r.f([3, 1]))]);
    await same('fill/range/linspace', () => [
      tf.fill([2, 3], 1.5),
      tf.fill([3], 4, 'int32'),
      tf.range(0, 10, 3),
      tf.range(5, -3, -2, 'int32'),
      tf.range(2, 2.9, 0.3),
      tf.linspace(-1, 2, 7),
      tf.ones([2, 2], 'bool'),
    ]);
    await same('cumsum/cumprod', (r) => {
      const x = r.f([3, 5], 0.5, 1.5);
      return [tf.cumsum(x, 1), tf.cumsum(x, 0, true), tf.cumsum(x, 1, false, true), tf.cumsum(x, 1, true, true), tf.cumprod(x, 1), tf.cumsum(r.i([6], -3, 3))];
    });
    await same('cast', (r) => {
      const x = r.f([3, 4], -3, 3);
      return [tf.cast(x, 'int32'), tf.cast(x, 'bool'), tf.cast(r.i([5], -2, 3), 'bool'), tf.cast(r.b([5]), 'float32'), tf.cast(r.i([5], -9, 9), 'float32')];
    });
    await same('reshape/expandDims/squeeze/clone', (r) => {
      const x = r.f([2, 3, 4]);
      const y = tf.reshape(x, [6, 4]);
      return [tf.add(y, 1), tf.expandDims(x, 1), tf.squeeze(tf.expandDims(x, -1)), tf.clone(x), tf.reshape(tf.add(x, 0), [-1])];
    });
  });

  it('gradients through the engine: a small CNN on variables', async () => {
    await same('variableGrads', (r) => {
      const x = r.f([2, 9, 9, 3]);
      const w1 = tf.variable(r.f([3, 3, 3, 4], -0.5, 0.5));
      const dw = tf.variable(r.f([3, 3, 4, 1], -0.5, 0.5));
      const w2 = tf.variable(r.f([4, 5], -0.5, 0.5));
      const b2 = tf.variable(r.f([5], -0.1, 0.1));
      const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), 5);
      const { value, grads } = tf.variableGrads(() => {
        let h = tf.relu6(tf.conv2d(x as tf.Tensor4D, w1 as unknown as tf.Tensor4D, 2, 'same'));
        h = tf.maxPool(tf.depthwiseConv2d(h, dw as unknown as tf.Tensor4D, 1, 'same'), 2, 1, 'same');
        const z = tf.sigmoid(tf.mean(h, [1, 2]));
        const logits = tf.add(tf.matMul(tf.mul(tf.mean(h, [1, 2]), z), w2), b2);
        return tf.losses.softmaxCrossEntropy(labels, logits, undefined, 0.1) as tf.Scalar;
      }, [w1, dw, w2, b2]);
      const out = [value, grads[w1.name]!, grads[dw.name]!, grads[w2.name]!, grads[b2.name]!];
      tf.dispose([w1, dw, w2, b2]);
      return out;
    });
  });

  it('string tensors and complex kernels fall back with a warning', async () => {
    await tf.setBackend('torch');
    const s = tf.tensor(['a', 'bb', 'a']);
    expect(Array.from(s.dataSync() as unknown as string[])).toEqual(['a', 'bb', 'a']);
    const t = tf.tidy(() => tf.reshape(s, [3, 1]));
    expect(t.shape).toEqual([3, 1]);
    tf.dispose([s, t]);
    const u = tf.tidy(() => tf.unique(tf.tensor1d([3, 1, 3, 2], 'int32')).values);
    expect(Array.from(u.dataSync())).toEqual([3, 1, 2]);
    u.dispose();
    expect(fallbackKernelsUsed()).toContain('Unique');
  });
});
