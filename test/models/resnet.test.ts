import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeActivationFactory } from '../../src/activations/registry.js';
import { ActivationSchema } from '../../src/config/schema.js';
import { getModel } from '../../src/models/registry.js';
import { activationParamCount, countTrainable } from '../../src/models/census.js';

function build(arch: string, act: string, inputShape: [number, number, number], classes = 10, extra: Record<string, unknown> = {}) {
  const entry = getModel(arch);
  if (!entry) throw new Error(arch);
  return entry.build({
    inputShape,
    numClasses: classes,
    width: 1,
    stem: 'small',
    activation: makeActivationFactory(ActivationSchema.parse({ name: act, [act]: extra }), 0),
    seed: 0,
  });
}

describe('CIFAR ResNets', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('ResNet-20 has the reference parameter count (PyTorch reference: 272,474)', () => {
    const m = build('resnet20', 'relu', [32, 32, 3]);
    expect(countTrainable(m)).toBe(272_474);
    m.dispose();
  });

  it('gives [batch, classes] logits at 28x28x1 and 32x32x3', () => {
    for (const shape of [
      [28, 28, 1],
      [32, 32, 3],
    ] as [number, number, number][]) {
      const m = build('resnet20', 'relu', shape, 7);
      const y = tf.tidy(() => m.apply(tf.zeros([2, ...shape]), { training: false }) as tf.Tensor);
      expect(y.shape).toEqual([2, 7]);
      y.dispose();
      m.dispose();
    }
  });

  it('gives every site its own activation instance, named by stage/block/role', () => {
    const m = build('resnet20', 'swish', [32, 32, 3], 10, { trainable_beta: true });
    const acts = m.layers.filter((l) => l.name.includes('act'));
    // stem + 9 blocks x 2 sites
    expect(acts.length).toBe(19);
    expect(new Set(acts.map((l) => l.name)).size).toBe(19);
    expect(acts.map((l) => l.name)).toContain('stage2.block0.act1');
    expect(activationParamCount(m)).toBe(19);
    m.dispose();
  });

  it('is deterministic in the seed', () => {
    const a = build('resnet20', 'relu', [28, 28, 1]);
    const b = build('resnet20', 'relu', [28, 28, 1]);
    const wa = a.getWeights()[0].dataSync();
    const wb = b.getWeights()[0].dataSync();
    expect(Array.from(wa)).toEqual(Array.from(wb));
    a.dispose();
    b.dispose();
  });
});
