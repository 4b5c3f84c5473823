/**
 * The folded inference plan (src/models/infer.ts) computes what model.apply computes in inference mode,
 * for every registered architecture, with non-trivial batch-norm statistics; it folds the conv + BN
 * chains it should; and it notices when a weight changes (training between evaluations).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';

import { BatchNorm } from '../../src/nn/batch-norm.js';
import { disposeModel, InferencePlan, predict } from '../../src/models/infer.js';
import { modelNames } from '../../src/models/registry.js';
import { registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { Rng } from '../../src/util/rng.js';
import { buildArch, factory, MICRO_OPTIONS } from '../helpers/zoo.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

/** Random batch-norm statistics and affine weights, so that folding them is not the identity. */
function randomiseBatchNorms(m: tfl.LayersModel, seed: number): void {
  const r = new Rng(seed);
  for (const l of m.layers) {
    if (!(l instanceof BatchNorm)) continue;
    const c = l.gamma.shape[0]!;
    const v = (f: () => number) => tf.tensor1d(Float32Array.from({ length: c }, f));
    l.gamma.write(v(() => 0.5 + r.uniform()));
    l.beta.write(v(() => r.normal() * 0.2));
    l.movingMean.write(v(() => r.normal() * 0.2));
    l.movingVariance.write(v(() => 0.5 + r.uniform()));
  }
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  const scale = Math.max(1e-3, ...Array.from(y, Math.abs));
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  return d / scale;
}

function check(arch: string, act: string): void {
  const m = buildArch(arch, { inputShape: [16, 16, 3], numClasses: 5, activation: factory(act), ...MICRO_OPTIONS[arch] });
  randomiseBatchNorms(m, 3);
  const plan = InferencePlan.compile(m);
  expect(plan).not.toBeNull();
  const bns = m.layers.filter((l) => l instanceof BatchNorm).length;
  // every batch norm of these families follows a convolution (FReLU's own BN is inside its layer)
  expect(plan!.foldedCount).toBe(bns);
  // strided convolutions pad as PyTorch does: ZeroPadding2D + 'valid', run as one padded convolution
  const pads = m.layers.filter((l) => l.getClassName() === 'ZeroPadding2D').length;
  expect(plan!.absorbedPads).toBe(pads);
  plan!.dispose();
  const x = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 5);
  const ref = m.apply(x, { training: false }) as tf.Tensor;
  const got = predict(m, x);
  expect(got.shape).toEqual(ref.shape);
  expect(maxRelDiff(got, ref)).toBeLessThan(2e-5);
  // changed batch-norm weights must reach the next prediction (the folded weights are rebuilt); plainnet has none
  const bn = m.layers.filter((l) => l instanceof BatchNorm).pop();
  if (bn) {
    bn.gamma.write(tf.add(tf.mul(bn.gamma.read(), 3), 0.5));
    bn.movingMean.write(tf.sub(bn.movingMean.read(), 1));
  }
  const ref2 = m.apply(x, { training: false }) as tf.Tensor;
  const got2 = predict(m, x);
  if (bn) expect(maxRelDiff(got2, ref)).toBeGreaterThan(1e-4);
  expect(maxRelDiff(got2, ref2)).toBeLessThan(2e-5);
  const before = tf.memory().numTensors;
  tf.dispose(predict(m, x));
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([x, ref, got, ref2, got2]);
  const n = tf.memory().numTensors;
  disposeModel(m);
  expect(tf.memory().numTensors).toBeLessThan(n);
}

describe('folded inference plan (cpu)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  for (const arch of modelNames()) {
    it(`${arch}: same logits as model.apply`, () => check(arch, 'relu'));
  }
  it('leaves learnable activations unfolded (prelu) and still matches', () => check('resnet20', 'prelu'));
  it('frees each intermediate after its last reader: peak memory no higher than model.apply', async () => {
    for (const arch of ['resnet20', 'mobilenet_v2']) {
      const m = buildArch(arch, { inputShape: [16, 16, 3], numClasses: 5, activation: factory('relu'), ...MICRO_OPTIONS[arch] });
      const x = tf.randomNormal([8, 16, 16, 3], 0, 1, 'float32', 5);
      tf.dispose(predict(m, x)); // folds and caches the weights first
      const peak = async (f: () => tf.Tensor) => (await tf.profile(() => tf.dispose(f()))).peakBytes;
      const applied = await peak(() => m.apply(x, { training: false }) as tf.Tensor);
      const planned = await peak(() => predict(m, x));
      expect(planned, arch).toBeLessThanOrEqual(applied);
      x.dispose();
      disposeModel(m);
    }
  });
});

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);
describe.skipIf(!avail.available)('folded inference plan (torch)', () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    await tf.setBackend('torch');
  });
  for (const arch of ['resnet20', 'mobilenet_v2', 'efficientnet_b0']) {
    it(`${arch}: same logits as model.apply`, () => check(arch, 'relu'));
  }
});
