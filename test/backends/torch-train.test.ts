/**
 * Training on the 'torch' backend matches the cpu backend: a micro ResNet (fused BN kernels), a
 * micro MobileNet/EfficientNet-style net (depthwise, SE, swish, hard-swish, pooling) and a
 * tfjs-layers model, a few optimizer steps each; the kernels they use are all native.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers'; // also registers the gradients

import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
// @ts-expect-error plain-JS helper shared with scripts/torch-speed.mjs
import { makeMobileNet, makeResNet, randn, rng, topK, trainStep } from '../../scripts/torch-models.mjs';

const avail = torchAvailability();
if (!avail.available) console.warn(`[torch tests] skipped: ${avail.reason}`);

interface Model {
  forward: (x: tf.Tensor, training: boolean) => tf.Tensor;
  vars: tf.Variable[];
  state: tf.Variable[];
}

const N = 4;
function batch(): { x: tf.Tensor; labels: tf.Tensor1D } {
  const r = rng(11) as () => number;
  return { x: tf.tensor(randn([N, 8, 8, 3], r) as Float32Array, [N, 8, 8, 3]), labels: tf.tensor1d([1, 3, 0, 7], 'int32') };
}

/** Losses of `steps` optimizer steps, the eval top-1/top-5 counts, and the kernels used. */
async function train(backend: string, make: () => Model, optimizer: () => tf.Optimizer, steps: number) {
  await tf.setBackend(backend);
  const model = make();
  const opt = optimizer();
  const { x, labels } = batch();
  const losses: number[] = [];
  const profile = await tf.profile(() => {
    for (let i = 0; i < steps; i++) {
      const l = trainStep(model, opt, x, labels, 10) as tf.Scalar;
      losses.push(l.dataSync()[0]!);
      l.dispose();
    }
    return tf.tensor(0);
  });
  const acc = tf.tidy(() => topK(model.forward(x, false), labels, 5)) as [number, number];
  const weights = model.vars.map((v) => Array.from(v.dataSync()));
  opt.dispose();
  tf.dispose([x, labels, ...model.vars, ...model.state]);
  return { losses, acc, weights, kernels: profile.kernelNames };
}

function expectClose(got: number[], want: number[], tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThan(tol);
  }
}

describe.skipIf(!avail.available)(`torch backend training${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 1 });
    tf.enableProdMode();
  });

  const cases: Array<[string, () => Model, () => tf.Optimizer]> = [
    ['micro ResNet, SGD momentum', () => makeResNet({ blocks: 1, widths: [4, 8, 8], seed: 5 }) as Model, () => tf.train.momentum(0.05, 0.9)],
    ['micro MobileNet (depthwise, SE, swish, hard-swish, pooling), SGD momentum', () => makeMobileNet({ seed: 6 }) as Model, () => tf.train.momentum(0.02, 0.9)],
  ];
  for (const [name, make, optimizer] of cases) {
    it(`${name}: same losses, weights and eval as cpu, no fallback`, async () => {
      const want = await train('cpu', make, optimizer, 4);
      const got = await train('torch', make, optimizer, 4);
      expectClose(got.losses, want.losses, 1e-4, 'loss');
      got.weights.forEach((w, i) => expectClose(w, want.weights[i]!, 1e-3, `weight ${i}`));
      expect(got.acc).toEqual(want.acc);
      const natives = new Set(nativeKernelNames());
      // profile names also list customGrad scopes: keep the registered kernels only
      const kernels = got.kernels.filter((k) => tf.getKernel(k, 'torch') !== undefined);
      expect(kernels.filter((k) => !natives.has(k)), 'kernels without a native implementation').toEqual([]);
      expect(got.kernels).toContain('PwluBatchNormTrain');
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }

  it('optimizer updates (SGD, momentum, Adam, RMSProp, Adagrad) match cpu', async () => {
    const run = async (backend: string, make: () => tf.Optimizer) => {
      await tf.setBackend(backend);
      const r = rng(21) as () => number;
      const v = tf.variable(tf.tensor(randn([3, 4], r) as Float32Array, [3, 4]), true, `opt-${backend}-${Math.random()}`);
      const opt = make();
      for (let i = 0; i < 3; i++) {
        const g = tf.tensor(randn([3, 4], r) as Float32Array, [3, 4]);
        opt.applyGradients({ [v.name]: g });
        g.dispose();
      }
      const out = Array.from(v.dataSync());
      opt.dispose();
      v.dispose();
      return out;
    };
    for (const [name, make] of [
      ['sgd', () => tf.train.sgd(0.1)],
      ['momentum', () => tf.train.momentum(0.1, 0.9, true)],
      ['adam', () => tf.train.adam(0.01)],
      ['rmsprop', () => tf.train.rmsprop(0.01, 0.9, 0.1, 1e-7, true)],
      ['adagrad', () => tf.train.adagrad(0.1)],
    ] as Array<[string, () => tf.Optimizer]>) {
      expectClose(await run('torch', make), await run('cpu', make), 1e-5, name);
    }
    expect(fallbackKernelsUsed()).toEqual([]);
  });

  it('tfjs-layers model (Conv2D/BN/DepthwiseConv2D/MaxPooling2D/ZeroPadding2D/GAP/Dense): same losses as cpu', async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const m = tfl.sequential();
      m.add(tfl.layers.zeroPadding2d({ padding: 1, inputShape: [8, 8, 3] }));
      m.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid', useBias: false, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
      m.add(tfl.layers.batchNormalization());
      m.add(tfl.layers.activation({ activation: 'relu' }));
      m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
      m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
      m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu6', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
      m.add(tfl.layers.globalAveragePooling2d({}));
      m.add(tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
      m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const { x, labels } = batch();
      const y = tf.oneHot(labels, 10);
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) losses.push((await m.trainOnBatch(x, y)) as unknown as number[] as unknown as number);
      const pred = Array.from((m.predict(x) as tf.Tensor).dataSync());
      m.dispose();
      tf.dispose([x, labels, y]);
      return { losses: losses.flat() as number[], pred };
    };
    const want = await run('cpu');
    const got = await run('torch');
    expectClose(got.losses, want.losses, 1e-4, 'layers loss');
    expectClose(got.pred, want.pred, 1e-3, 'layers predictions');
    expect(fallbackKernelsUsed()).toEqual([]);
  });
});
