/**
 * Kernel coverage of the native backend for what pwlu actually trains: one training step (forward,
 * backward, SGD update) and one eval of every registered architecture, and of every registered
 * activation, at micro scale. Every kernel they use must be native on 'torch' (no cpu fallback).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { modelNames } from '../../src/models/registry.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { buildModel, makeTrainStep, paramGroups } from '../../src/train/trainer.js';

const avail = torchAvailability();

/** Kernel names one training step + one eval step use (customGrad scopes filtered out). */
async function kernelsOfStep(arch: string, activation: string): Promise<string[]> {
  const config = ConfigSchema.parse({ model: { arch, width: 0.25 }, activation: { name: activation }, pwlu: { phase1_epochs: 0 }, train: { label_smoothing: 0.1 } });
  const shape: [number, number, number] = [8, 8, 3];
  const model = buildModel(config, { height: 8, width: 8, channels: 3, numClasses: 5 });
  const params = paramGroups(model, config.train.no_decay);
  const optimizer = new Optimizer(config.train, params);
  const step = makeTrainStep(model, optimizer, params.map((p) => p.variable), shape, 0.1);
  const x = new Float32Array(4 * 8 * 8 * 3).map((_, i) => Math.sin(i * 0.37));
  const y = new Int32Array([0, 1, 2, 4]);
  const profile = await tf.profile(() => {
    step(x, y, 4, 0.01);
    tf.tidy(() => {
      const logits = model.apply(tf.tensor4d(x, [4, ...shape]), { training: false }) as tf.Tensor2D;
      tf.topk(logits, 5).indices.dataSync();
    });
  });
  optimizer.dispose();
  model.dispose();
  return [...new Set(profile.kernelNames.filter((k) => tf.getKernel(k, 'torch') !== undefined))];
}

describe.skipIf(!avail.available)(`torch kernel coverage${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 1 });
    await tf.setBackend('torch');
  });

  const natives = () => new Set(nativeKernelNames());
  for (const arch of modelNames()) {
    it(`${arch}: a training step and eval use native kernels only`, async () => {
      const used = await kernelsOfStep(arch, arch.startsWith('mobilenet_v3') ? 'hardswish' : 'relu');
      expect(used.filter((k) => !natives().has(k))).toEqual([]);
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }
  for (const act of activationNames()) {
    it(`activation ${act}: a training step and eval use native kernels only`, async () => {
      const used = await kernelsOfStep('resnet20', act);
      expect(used.filter((k) => !natives().has(k))).toEqual([]);
      expect(fallbackKernelsUsed()).toEqual([]);
    });
  }
});
