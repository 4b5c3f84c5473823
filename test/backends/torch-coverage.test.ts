/**
 * Kernel coverage of the native backend for what pwlu actually trains: one training step (forward,
 * backward, SGD update) and one eval of every registered architecture, and of every registered
 * activation, at micro scale. Every kernel they use must be native on 'torch' (no cpu fallback).
 * Also: the addon registers exactly the kernels its tables list (torch-kernel-names.test.ts checks
 * those tables without the addon), every pwlu kernel name among them.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { fallbackKernelsUsed, nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { torchKernelNames } from '../../src/backends/torch/kernels/index.js';
import { modelNames } from '../../src/models/registry.js';
import { predict } from '../../src/models/infer.js';
import * as kernelNames from '../../src/ops/kernel-names.js';
import { microTrain } from '../helpers/micro-train.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

/** Kernel names one training step + one eval step use (customGrad scopes filtered out). */
async function kernelsOfStep(arch: string, activation: string): Promise<string[]> {
  const micro = microTrain(arch, { name: activation, pwlu: { phase1_epochs: 0 } });
  const profile = await tf.profile(() => {
    micro.step();
    tf.tidy(() => {
      // evaluation runs the folded inference plan (fused conv + bias + activation kernels)
      const logits = predict(micro.model, tf.tensor4d(micro.x, [4, 8, 8, 3]));
      tf.topk(logits, 5).indices.dataSync();
    });
  });
  micro.dispose();
  return [...new Set(profile.kernelNames.filter((k) => tf.getKernel(k, 'torch') !== undefined))];
}

describe.skipIf(!avail.available)(`torch kernel coverage${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    await tf.setBackend('torch');
  });

  const natives = () => new Set(nativeKernelNames());
  it('registers exactly the kernels of its tables, a native kernel under every pwlu kernel name', () => {
    expect(nativeKernelNames()).toEqual([...torchKernelNames()].sort());
    for (const [constant, name] of Object.entries(kernelNames)) {
      expect(natives().has(name), `${constant} = '${name}'`).toBe(true);
      expect(tf.getKernel(name, 'torch'), `${constant} = '${name}'`).toBeDefined();
    }
  });
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
