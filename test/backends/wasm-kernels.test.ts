/**
 * The wasm training kernels, checked numerically against the pure-JS `cpu` backend: each kernel
 * directly (strides 1/2/3, same/valid/explicit padding, dilation 1/2, odd sizes, batch > 1,
 * channel multiplier 1 and 2), the engine's gradients of conv2d/depthwiseConv2d, and a few SGD
 * steps of a small CNN built from tfjs-core ops.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's Node bundle registers no gradients; tfjs-layers' bundle registers all of them.
import '@tensorflow/tfjs-layers';
import { initWasmBackend, registerWasmTrainingKernels } from '../../src/backends/wasm/index.js';
import { wasmTrainingKernelConfigs } from '../../src/backends/wasm/register.js';

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
type Pair = [number, number];

/** Deterministic values in [-1, 1) (mulberry32). */
function randomValues(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Switches to `backend`. Both backends are initialised in beforeAll, so tf.setBackend makes the switch
 * synchronously (it awaits only a backend's first initialisation); its promise carries nothing left to wait for.
 */
function use(backend: 'cpu' | 'wasm'): void {
  void tf.setBackend(backend);
}

/** Runs `f` on a backend and returns its result as plain data. */
function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor): { shape: number[]; values: Float32Array } {
  use(backend);
  return tf.tidy(() => {
    const t = f();
    return { shape: t.shape, values: t.dataSync() as Float32Array };
  });
}

function expectClose(got: { shape: number[]; values: Float32Array }, want: { shape: number[]; values: Float32Array }, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  let scale = 1;
  for (const v of want.values) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.values.length; i++) worst = Math.max(worst, Math.abs(got.values[i]! - want.values[i]!));
  expect(worst / scale, `${what}: max abs error ${worst} (scale ${scale})`).toBeLessThan(2e-5);
}

/** Zero-inserts a filter [kh,kw,a,b] so that dilation d becomes dilation 1 (the cpu kernels ignore dilations). */
function dilateFilter(f: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D {
  const [kh, kw, a, b] = f.shape;
  const rows = tf.reshape(
    tf.pad(tf.reshape(f, [kh, 1, kw, 1, a, b]), [
      [0, 0],
      [0, dh - 1],
      [0, 0],
      [0, dw - 1],
      [0, 0],
      [0, 0],
    ]),
    [kh * dh, kw * dw, a, b],
  ) as tf.Tensor4D;
  return tf.slice(rows, [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b]);
}

const X: [number, number, number, number] = [2, 7, 9, 3];
const EXPLICIT: Pad = [
  [0, 0],
  [1, 2],
  [2, 0],
  [0, 0],
];
const BIG_PAD: Pad = [
  [0, 0],
  [4, 0],
  [0, 5],
  [0, 0],
];

interface ConvCase {
  /** output-size rounding for numeric padding */
  round?: 'floor' | 'ceil';
  k: Pair;
  strides: Pair;
  pad: Pad;
  dilations: Pair;
}

function cases(kernels: Pair[], strides: Pair[], pads: Pad[], dilations: Pair[] = [[1, 1]]): ConvCase[] {
  const out: ConvCase[] = [];
  for (const k of kernels) for (const s of strides) for (const pad of pads) for (const d of dilations) out.push({ k, strides: s, pad, dilations: d });
  return out;
}

function roundAttr(c: ConvCase): { dimRoundingMode?: 'floor' | 'ceil' } {
  return c.round ? { dimRoundingMode: c.round } : {};
}

function label(c: ConvCase): string {
  return `k=${c.k.join('x')} s=${c.strides.join(',')} d=${c.dilations.join(',')} pad=${JSON.stringify(c.pad)}${c.round ? ` ${c.round}` : ''}`;
}

// strides 1/2/3 (and mixed) with 3x3, 1x1, 5x5 filters; paddings same/valid/explicit (incl. pads larger than the filter reach).
const CONV_CASES: ConvCase[] = [
  ...cases(
    [
      [3, 3],
      [1, 1],
      [5, 5],
    ],
    [
      [1, 1],
      [2, 2],
      [3, 3],
    ],
    ['same', 'valid', EXPLICIT],
  ),
  ...cases(
    [
      [3, 3],
      [1, 1],
    ],
    [
      [2, 1],
      [1, 3],
    ],
    ['same', BIG_PAD],
  ),
  ...cases(
    [
      [3, 3],
      [2, 3],
    ],
    [[1, 1]],
    ['same', 'valid', EXPLICIT],
    [
      [2, 2],
      [1, 2],
    ],
  ),
  ...cases([[3, 3]], [[2, 2]], ['valid'], [[2, 2]]),
  // numeric padding with floor/ceil output rounding
  ...cases(
    [
      [3, 3],
      [1, 1],
    ],
    [
      [2, 2],
      [3, 3],
    ],
    [1, 2],
  ).flatMap((c) => [
    { ...c, round: 'floor' as const },
    { ...c, round: 'ceil' as const },
  ]),
];

beforeAll(async () => {
  await initWasmBackend();
  await initWasmBackend(); // idempotent
  registerWasmTrainingKernels();
  expect(tf.getBackend()).toBe('wasm');
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('registration', () => {
  it('registers every training kernel for wasm, replacing the stock Conv2DBackpropInput, idempotently', () => {
    registerWasmTrainingKernels();
    for (const config of wasmTrainingKernelConfigs) {
      expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc, config.kernelName).toBe(config.kernelFunc);
    }
    expect(wasmTrainingKernelConfigs.map((c) => c.kernelName).sort()).toEqual(
      ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum'].sort(),
    );
  });
});

describe('Conv2DBackpropFilter / Conv2DBackpropInput on wasm match cpu', () => {
  const co = 4;
  for (const c of CONV_CASES) {
    it(label(c), () => {
      const [n, h, w, ci] = X;
      const xv = randomValues(size(X), 1);
      const fShape: [number, number, number, number] = [c.k[0], c.k[1], ci, co];
      const fv = randomValues(size(fShape), 2);
      // Output shape from the forward op on cpu (dilated filter == dilation).
      const fwd = on('cpu', () => {
        const f = dilateFilter(tf.tensor4d(fv, fShape), c.dilations);
        return tf.conv2d(tf.tensor4d(xv, X), f, c.strides, c.pad, 'NHWC', 1, c.round);
      });
      const dyv = randomValues(size(fwd.shape), 3);
      const dyShape = fwd.shape as [number, number, number, number];

      const filterGrad = (backend: 'cpu' | 'wasm') =>
        on(backend, () => {
          const x = tf.tensor4d(xv, X);
          const dy = tf.tensor4d(dyv, dyShape);
          if (backend === 'cpu') {
            const [dh, dw] = c.dilations;
            const effShape: [number, number, number, number] = [(c.k[0] - 1) * dh + 1, (c.k[1] - 1) * dw + 1, ci, co];
            const full = tf
              .engine()
              .runKernel(
                'Conv2DBackpropFilter',
                { x, dy },
                { strides: c.strides, pad: c.pad, ...roundAttr(c), dataFormat: 'NHWC', filterShape: effShape },
              ) as tf.Tensor4D;
            return tf.stridedSlice(full, [0, 0, 0, 0], effShape, [dh, dw, 1, 1]);
          }
          return tf
            .engine()
            .runKernel(
              'Conv2DBackpropFilter',
              { x, dy },
              { strides: c.strides, pad: c.pad, ...roundAttr(c), dataFormat: 'NHWC', filterShape: fShape, dilations: c.dilations },
            ) as tf.Tensor;
        });
      expectClose(filterGrad('wasm'), filterGrad('cpu'), 'filter grad');

      const inputGrad = (backend: 'cpu' | 'wasm') =>
        on(backend, () => {
          const dy = tf.tensor4d(dyv, dyShape);
          const f = tf.tensor4d(fv, fShape);
          if (backend === 'cpu') {
            return tf
              .engine()
              .runKernel(
                'Conv2DBackpropInput',
                { dy, filter: dilateFilter(f, c.dilations) },
                { strides: c.strides, pad: c.pad, ...roundAttr(c), dataFormat: 'NHWC', inputShape: [n, h, w, ci] },
              ) as tf.Tensor;
          }
          return tf
            .engine()
            .runKernel(
              'Conv2DBackpropInput',
              { dy, filter: f },
              { strides: c.strides, pad: c.pad, ...roundAttr(c), dataFormat: 'NHWC', inputShape: [n, h, w, ci], dilations: c.dilations },
            ) as tf.Tensor;
        });
      expectClose(inputGrad('wasm'), inputGrad('cpu'), 'input grad');
    });
  }
});

// Depthwise: strides 1/2/3 with dilation 1, dilation 2 with stride 1 (tfjs allows only one of them > 1).
const DW_CASES: ConvCase[] = [
  ...cases(
    [
      [3, 3],
      [1, 1],
      [5, 5],
    ],
    [
      [1, 1],
      [2, 2],
      [3, 3],
    ],
    ['same', 'valid', EXPLICIT],
  ),
  ...cases([[3, 3]], [[2, 1]], [BIG_PAD]),
  ...cases(
    [[3, 3]],
    [
      [2, 2],
      [3, 3],
    ],
    [1],
  ).flatMap((c) => [
    { ...c, round: 'floor' as const },
    { ...c, round: 'ceil' as const },
  ]),
  ...cases(
    [
      [3, 3],
      [2, 3],
    ],
    [[1, 1]],
    ['same', 'valid', EXPLICIT],
    [
      [2, 2],
      [1, 2],
    ],
  ),
];

// Small inputs (batch 1 and 3) make the depthwise filter gradient use 5x5 dy blocks, one block per image.
const DW_INPUTS: [[number, number, number, number], ConvCase[]][] = [
  [X, DW_CASES],
  [
    [1, 4, 5, 3],
    cases(
      [
        [3, 3],
        [1, 1],
      ],
      [
        [1, 1],
        [2, 2],
      ],
      ['same', 'valid'],
    ),
  ],
  [
    [3, 4, 4, 2],
    cases(
      [
        [3, 3],
        [2, 2],
      ],
      [[1, 1]],
      ['same', EXPLICIT],
      [
        [1, 1],
        [2, 1],
      ],
    ),
  ],
];

describe('DepthwiseConv2dNativeBackpropFilter / Input on wasm match cpu', () => {
  for (const [xShape, dwCases] of DW_INPUTS) {
    for (const mult of [1, 2]) {
      for (const c of dwCases) {
        it(`x [${xShape.join(',')}] multiplier ${mult} ${label(c)}`, () => {
          const X = xShape;
          const [n, h, w, ch] = X;
          const xv = randomValues(size(X), 4);
          const fShape: [number, number, number, number] = [c.k[0], c.k[1], ch, mult];
          const fv = randomValues(size(fShape), 5);
          const fwd = on('cpu', () =>
            tf.depthwiseConv2d(tf.tensor4d(xv, X), dilateFilter(tf.tensor4d(fv, fShape), c.dilations), c.strides, c.pad, 'NHWC', 1, c.round),
          );
          const dyv = randomValues(size(fwd.shape), 6);
          const dyShape = fwd.shape as [number, number, number, number];
          const [dh, dw] = c.dilations;
          const effShape: [number, number, number, number] = [(c.k[0] - 1) * dh + 1, (c.k[1] - 1) * dw + 1, ch, mult];

          const filterGrad = (backend: 'cpu' | 'wasm') =>
            on(backend, () => {
              const x = tf.tensor4d(xv, X);
              const dy = tf.tensor4d(dyv, dyShape);
              if (backend === 'cpu') {
                const full = tf
                  .engine()
                  .runKernel(
                    'DepthwiseConv2dNativeBackpropFilter',
                    { x, dy },
                    { strides: c.strides, pad: c.pad, ...roundAttr(c), dilations: [1, 1], filterShape: effShape },
                  ) as tf.Tensor4D;
                return tf.stridedSlice(full, [0, 0, 0, 0], effShape, [dh, dw, 1, 1]);
              }
              return tf
                .engine()
                .runKernel(
                  'DepthwiseConv2dNativeBackpropFilter',
                  { x, dy },
                  { strides: c.strides, pad: c.pad, ...roundAttr(c), dilations: c.dilations, filterShape: fShape },
                ) as tf.Tensor;
            });
          expectClose(filterGrad('wasm'), filterGrad('cpu'), 'depthwise filter grad');

          const inputGrad = (backend: 'cpu' | 'wasm') =>
            on(backend, () => {
              const dy = tf.tensor4d(dyv, dyShape);
              const f = tf.tensor4d(fv, fShape);
              if (backend === 'cpu') {
                return tf
                  .engine()
                  .runKernel(
                    'DepthwiseConv2dNativeBackpropInput',
                    { dy, filter: dilateFilter(f, c.dilations) },
                    { strides: c.strides, pad: c.pad, ...roundAttr(c), dilations: [1, 1], inputShape: [n, h, w, ch] },
                  ) as tf.Tensor;
              }
              return tf
                .engine()
                .runKernel(
                  'DepthwiseConv2dNativeBackpropInput',
                  { dy, filter: f },
                  { strides: c.strides, pad: c.pad, ...roundAttr(c), dilations: c.dilations, inputShape: [n, h, w, ch] },
                ) as tf.Tensor;
            });
          expectClose(inputGrad('wasm'), inputGrad('cpu'), 'depthwise input grad');
        });
      }
    }
  }
});

describe('gradients through the tfjs engine on wasm match cpu', () => {
  const engineCases: { name: string; strides: Pair; pad: 'same' | 'valid'; depthwise: boolean; mult: number; k: number }[] = [
    { name: 'conv2d 3x3 s1 same', strides: [1, 1], pad: 'same', depthwise: false, mult: 1, k: 3 },
    { name: 'conv2d 3x3 s2 same', strides: [2, 2], pad: 'same', depthwise: false, mult: 1, k: 3 },
    { name: 'conv2d 5x5 s3 valid', strides: [3, 3], pad: 'valid', depthwise: false, mult: 1, k: 5 },
    { name: 'conv2d 1x1 s2 valid', strides: [2, 2], pad: 'valid', depthwise: false, mult: 1, k: 1 },
    { name: 'depthwise 3x3 s1 same x1', strides: [1, 1], pad: 'same', depthwise: true, mult: 1, k: 3 },
    { name: 'depthwise 3x3 s2 same x2', strides: [2, 2], pad: 'same', depthwise: true, mult: 2, k: 3 },
    { name: 'depthwise 5x5 s3 valid x2', strides: [3, 3], pad: 'valid', depthwise: true, mult: 2, k: 5 },
  ];
  for (const c of engineCases) {
    it(c.name, () => {
      const ci = X[3];
      const fShape: [number, number, number, number] = [c.k, c.k, ci, c.depthwise ? c.mult : 5];
      const xv = randomValues(size(X), 7);
      const fv = randomValues(size(fShape), 8);
      const run = (backend: 'cpu' | 'wasm') => {
        use(backend);
        return tf.tidy(() => {
          const x = tf.tensor4d(xv, X);
          const f = tf.tensor4d(fv, fShape);
          const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => {
            const y = c.depthwise
              ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad)
              : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad);
            // A non-uniform weighting so that dy is not constant.
            return tf.sum(tf.mul(tf.square(y), tf.tensor(randomValues(y.size, 9), y.shape)));
          };
          const [dx, df] = tf.grads(loss)([x, f]);
          return [dx!, df!].map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
        });
      };
      const [wdx, wdf] = run('wasm');
      const [cdx, cdf] = run('cpu');
      expectClose(wdx!, cdx!, 'dL/dx');
      expectClose(wdf!, cdf!, 'dL/dfilter');
    });
  }
});

describe('UnsortedSegmentSum on wasm matches cpu', () => {
  it('sums duplicates and drops out-of-range ids (2-D and 1-D x)', () => {
    const xv = randomValues(24, 10);
    const idsList = [
      [0, 2, 2, 1, 0, 3],
      [0, 2, 2, -1, 5, 1],
    ];
    for (const ids of idsList) {
      for (const shape of [[6, 4], [6]] as const) {
        const values = xv.subarray(0, size([...shape]));
        const f = () => tf.unsortedSegmentSum(tf.tensor(values, [...shape]), tf.tensor1d(ids, 'int32'), 4);
        expectClose(on('wasm', f), on('cpu', f), `ids ${ids.join(',')} shape ${shape.join('x')}`);
      }
    }
  });
});

describe('a small CNN trains identically on wasm and cpu', () => {
  const N = 4;
  const CLASSES = 5;

  interface Params {
    [name: string]: tf.Variable;
  }

  function makeParams(): Params {
    const v = (shape: number[], seed: number, scale: number) => tf.variable(tf.mul(tf.tensor(randomValues(size(shape), seed), shape), scale));
    return {
      conv1: v([3, 3, 3, 8], 11, 0.3),
      dw: v([3, 3, 8, 2], 12, 0.3),
      conv2: v([1, 1, 16, 8], 13, 0.3),
      conv3: v([3, 3, 8, 8], 14, 0.2),
      gamma: tf.variable(tf.ones([8])),
      beta: tf.variable(tf.zeros([8])),
      dense: v([8, CLASSES], 15, 0.3),
      classBias: v([CLASSES], 16, 0.1),
    };
  }

  function batchNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor4D {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), gamma), beta) as tf.Tensor4D;
  }

  function logitsOf(p: Params, x: tf.Tensor4D): tf.Tensor2D {
    const h1 = tf.relu(tf.conv2d(x, p.conv1 as tf.Tensor4D, 1, 'same'));
    const h2 = tf.relu(tf.depthwiseConv2d(h1, p.dw as tf.Tensor4D, 2, 'same'));
    const h3 = batchNorm(tf.conv2d(h2, p.conv2 as tf.Tensor4D, 1, 'valid'), p.gamma!, p.beta!);
    const h4 = tf.relu(tf.add(h3, tf.conv2d(tf.relu(h3), p.conv3 as tf.Tensor4D, [1, 1], 'same'))) as tf.Tensor4D;
    const h5 = tf.conv2d(h4, p.conv3 as tf.Tensor4D, 2, 'same');
    const pooled = tf.mean(h5, [1, 2]) as tf.Tensor2D;
    // gather's gradient needs UnsortedSegmentSum.
    return tf.add(tf.matMul(pooled, p.dense as tf.Tensor2D), tf.gather(p.classBias!, tf.tensor1d([4, 3, 2, 1, 0], 'int32')));
  }

  function lossFn(p: Params, x: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
    const logp = tf.logSoftmax(logitsOf(p, x));
    const flatIdx = tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(CLASSES, 'int32')), labels);
    const nll = tf.neg(tf.mean(tf.gather(tf.reshape(logp, [-1]), flatIdx)));
    const smooth = tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, CLASSES), logp), 1)));
    return tf.add(tf.mul(nll, 0.9), tf.mul(smooth, 0.1)) as tf.Scalar;
  }

  function train(backend: 'cpu' | 'wasm', steps: number): { losses: number[]; top1: number[]; numTensors: number[]; numDataIds: number[] } {
    use(backend);
    const p = makeParams();
    const vars = Object.values(p);
    const x = tf.tensor4d(randomValues(N * 11 * 13 * 3, 17), [N, 11, 13, 3]);
    const labels = tf.tensor1d([0, 3, 1, 4], 'int32');
    const losses: number[] = [];
    const top1: number[] = [];
    const numTensors: number[] = [];
    // Buffers held by the backend: catches intermediates a kernel forgot to free.
    const numDataIds: number[] = [];
    for (let i = 0; i < steps; i++) {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => lossFn(p, x, labels), vars);
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name]!, 0.1)));
        losses.push(value.dataSync()[0]!);
        // top-1 accuracy of the updated model, via tf.topk.
        const { indices } = tf.topk(logitsOf(p, x), 1);
        top1.push(tf.mean(tf.cast(tf.equal(tf.reshape(indices, [N]), labels), 'float32')).dataSync()[0]!);
      });
      numTensors.push(tf.memory().numTensors);
      numDataIds.push(tf.engine().backend.numDataIds());
    }
    tf.dispose([x, labels, ...vars]);
    return { losses, top1, numTensors, numDataIds };
  }

  it('a few SGD steps give the same losses; tensor count stays flat', () => {
    const wasm = train('wasm', 4);
    const cpu = train('cpu', 4);
    for (let i = 0; i < cpu.losses.length; i++) expect(wasm.losses[i]).toBeCloseTo(cpu.losses[i]!, 4);
    expect(wasm.losses[3]).toBeLessThan(wasm.losses[0]!);
    expect(wasm.top1).toEqual(cpu.top1);
    expect(new Set(wasm.numTensors).size, `numTensors per step: ${wasm.numTensors.join(',')}`).toBe(1);
    expect(new Set(wasm.numDataIds).size, `wasm buffers per step: ${wasm.numDataIds.join(',')}`).toBe(1);
  });
});
