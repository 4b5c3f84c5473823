import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationParamCount } from '../../src/models/census.js';
import { buildArch, factory, ZOO, MICRO_OPTIONS } from '../helpers/zoo.js';

/** Gradients of a cross-entropy loss on random data w.r.t. every trainable weight, in training mode. */
function trainGrads(m: tfl.LayersModel, size: number, channels: number, batch: number): Map<string, Float32Array> {
  const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
  const out = new Map<string, Float32Array>();
  tf.tidy(() => {
    const x = tf.randomNormal([batch, size, size, channels], 0, 1, 'float32', 7);
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: batch }, (_, i) => i % 5),
        'int32',
      ),
      5,
    );
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, m.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, vars);
    m.trainableWeights.forEach((w, i) => out.set(w.originalName, grads[vars[i].name].dataSync() as Float32Array));
  });
  return out;
}

describe('architecture zoo: a training step at micro scale', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const arch of ZOO) {
    it(`${arch}: every trainable weight gets a finite, nonzero gradient (learnable activation included)`, () => {
      const m = buildArch(arch, { inputShape: [8, 8, 3], numClasses: 5, activation: factory('swish', { trainable_beta: true }), ...MICRO_OPTIONS[arch] });
      expect(activationParamCount(m)).toBeGreaterThan(0);
      const grads = trainGrads(m, 8, 3, 4);
      expect(grads.size).toBe(m.trainableWeights.length);
      const dead = [...grads].filter(([, g]) => !g.some((v) => v !== 0)).map(([n]) => n);
      const bad = [...grads].filter(([, g]) => !g.every(Number.isFinite)).map(([n]) => n);
      expect(dead).toEqual([]);
      expect(bad).toEqual([]);
      m.dispose();
    });
  }
});
