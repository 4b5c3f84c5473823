/**
 * The torch backend's one-kernel SGD-momentum update (PwluSgdMomentum) gives the weights and momentum
 * buffers of the optimizer's elementwise path on the cpu backend: momentum, Nesterov, coupled L2 decay on
 * some parameters only, a parameter without a gradient, several steps with a changing learning rate.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { ConfigSchema } from '../../src/config/schema.js';
import { SGD_MOMENTUM_KERNEL } from '../../src/ops/kernel-names.js';
import { hasNativeKernel } from '../../src/ops/native-kernel.js';
import { registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { Rng } from '../../src/util/rng.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

const SHAPES = [[3, 3, 4, 5], [5], [7, 3], [1]];

function randomArrays(seed: number): Float32Array[] {
  const r = new Rng(seed);
  return SHAPES.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => r.normal()));
}

/** Weights and buffers after three steps of `Optimizer` on `backend`. */
async function run(backend: string, nesterov: boolean): Promise<{ weights: number[][]; buffers: number[][]; usedFused: boolean }> {
  await tf.setBackend(backend);
  const init = randomArrays(1);
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(init[i]!, s), true, `opt_test_${backend}_${nesterov}_${i}`));
  const params = vars.map((v, i) => ({ variable: v, name: `p${i}`, decay: i % 2 === 0 }));
  const { train } = ConfigSchema.parse({ train: { optimizer: { name: 'sgd', momentum: 0.9, nesterov }, weight_decay: 5e-4 } });
  const opt = new Optimizer(train, params);
  for (let step = 0; step < 3; step++) {
    const g = randomArrays(10 + step);
    const grads: Record<string, tf.Tensor> = {};
    // the last parameter gets no gradient: it must stay as it is
    vars.slice(0, -1).forEach((v, i) => (grads[v.name] = tf.tensor(g[i]!, SHAPES[i])));
    opt.apply(grads, 0.1 / (step + 1));
    tf.dispose(Object.values(grads));
  }
  const weights = vars.map((v) => Array.from(v.dataSync()));
  const buffers = opt.getState().slots.map((s) => Array.from(s.tensor.dataSync()));
  const usedFused = hasNativeKernel(SGD_MOMENTUM_KERNEL);
  opt.dispose();
  tf.dispose(vars);
  return { weights, buffers, usedFused };
}

describe.skipIf(!avail.available)('torch SGD-momentum kernel', () => {
  for (const nesterov of [false, true]) {
    it(`matches the elementwise update on cpu (nesterov ${nesterov})`, async () => {
      await registerTorchBackend({ threads: 1, device: torchTestDevice() });
      const native = await run('torch', nesterov);
      const cpu = await run('cpu', nesterov);
      expect(native.usedFused).toBe(true);
      expect(cpu.usedFused).toBe(false);
      expect(native.buffers.length).toBe(3);
      expect(native.weights[3]).toEqual(cpu.weights[3]);
      native.weights.forEach((w, i) => w.forEach((v, j) => expect(v).toBeCloseTo(cpu.weights[i]![j]!, 6)));
      native.buffers.forEach((b, i) => b.forEach((v, j) => expect(v).toBeCloseTo(cpu.buffers[i]![j]!, 6)));
    });
  }
});
