/**
 * Training on the 'torch' backend matches the cpu backend: pwlu's own micro networks through its trainer
 * (ResNet-20 with ReLU and with Swish: conv, fused BN kernels; MobileNet-V3 Small: depthwise, SE with a
 * hard-sigmoid (ReLU6) gate, hard-swish, dropout; all with global pooling, dense and label-smoothed
 * cross-entropy), the tfjs optimizers and a tfjs-layers model, a few steps each; the kernels they use are all
 * native. (EfficientNet-B0's and MobileNet-V2's batch norms over 4 samples at 1x1 amplify float rounding too
 * much at this scale for the cpu comparison; torch-coverage.test.ts checks their kernels.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers'; // also registers the gradients

import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { predict } from '../../src/models/infer.js';
import { topKCorrect } from '../../src/train/metrics.js';
import { Rng } from '../../src/util/rng.js';
import { sample } from '../helpers/fd.js';
import { microTrain } from '../helpers/micro-train.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

/** Losses of `steps` training steps, the eval top-1/top-3 counts, the weights after, and the kernels used. */
async function train(backend: string, arch: string, width: number, activation: Record<string, unknown>, steps: number) {
  await tf.setBackend(backend);
  const micro = microTrain(arch, activation, { model: { arch, width } });
  const losses: number[] = [];
  const profile = await tf.profile(() => {
    for (let i = 0; i < steps; i++) losses.push(micro.step().loss);
    return tf.tensor(0);
  });
  const acc = tf.tidy(() => {
    const { top1, topk } = topKCorrect(predict(micro.model, tf.tensor4d(micro.x, [4, 8, 8, 3])) as tf.Tensor2D, tf.tensor1d(micro.y, 'int32'), 3);
    return [top1.dataSync()[0]!, topk.dataSync()[0]!];
  });
  const weights = micro.model.weights.map((w) => Array.from(w.read().dataSync()));
  micro.dispose();
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
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    tf.enableProdMode();
  });

  const cases: Array<[string, string, number, Record<string, unknown>]> = [
    ['micro ResNet-20 (conv, fused BN, ReLU)', 'resnet20', 0.125, { name: 'relu' }],
    ['micro ResNet-20 with Swish', 'resnet20', 0.125, { name: 'swish' }],
    ['micro MobileNet-V3 Small (depthwise, SE, hard-swish, ReLU6 gate, dropout)', 'mobilenet_v3_small', 0.1, { name: 'hardswish', sites: 'default' }],
  ];
  for (const [name, arch, width, activation] of cases) {
    it(`${name}, SGD momentum: same losses, weights and eval as cpu, no fallback`, async () => {
      const want = await train('cpu', arch, width, activation, 3);
      const got = await train('torch', arch, width, activation, 3);
      expectClose(got.losses, want.losses, 1e-4, 'loss');
      got.weights.forEach((w, i) => expectClose(w, want.weights[i]!, 1e-3, `weight ${i}`));
      expect(got.acc).toEqual(want.acc);
      const natives = new Set(nativeKernelNames());
      // profile names also list customGrad scopes: keep the registered kernels only
      const kernels = got.kernels.filter((k) => tf.getKernel(k, 'torch') !== undefined);
      expect(
        kernels.filter((k) => !natives.has(k)),
        'kernels without a native implementation',
      ).toEqual([]);
      expect(got.kernels).toContain('PwluBatchNormTrain');
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }

  it('optimizer updates (SGD, momentum, Adam, RMSProp, Adagrad) match cpu', async () => {
    const run = async (backend: string, make: () => tf.Optimizer) => {
      await tf.setBackend(backend);
      const r = new Rng(21);
      const v = tf.variable(tf.tensor(sample(r, 12, -2, 2), [3, 4]), true, `opt-${backend}-${Math.random()}`);
      const opt = make();
      for (let i = 0; i < 3; i++) {
        const g = tf.tensor(sample(r, 12, -2, 2), [3, 4]);
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
      const x = tf.tensor(sample(new Rng(11), 4 * 8 * 8 * 3, -2, 2), [4, 8, 8, 3]);
      const labels = tf.tensor1d([1, 3, 0, 7], 'int32');
      const y = tf.oneHot(labels, 10);
      // with a metric, trainOnBatch resolves to [loss, accuracy]
      const losses: number[][] = [];
      for (let i = 0; i < 3; i++) losses.push((await m.trainOnBatch(x, y)) as number[]);
      const pred = Array.from((m.predict(x) as tf.Tensor).dataSync());
      m.dispose();
      tf.dispose([x, labels, y]);
      return { losses: losses.flat(), pred };
    };
    const want = await run('cpu');
    const got = await run('torch');
    expectClose(got.losses, want.losses, 1e-4, 'layers loss');
    expectClose(got.pred, want.pred, 1e-3, 'layers predictions');
    expect(fallbackKernelsUsed()).toEqual([]);
  });
});
