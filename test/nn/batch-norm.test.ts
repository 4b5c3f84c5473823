import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchNorm } from '../../src/nn/batch-norm.js';

describe('BatchNorm frozen mode (FrozenBatchNorm2d)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const x = () => tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 9], [2, 2, 1, 2]);

  function layer(frozen: boolean): BatchNorm {
    const bn = new BatchNorm({ name: 'bn', frozen });
    bn.apply(tf.zeros([1, 1, 1, 2]));
    bn.setWeights([tf.tensor1d([2, 0.5]), tf.tensor1d([1, -1]), tf.tensor1d([3, 4]), tf.tensor1d([4, 0.25])]);
    return bn;
  }

  it('normalises with the running statistics in training too, leaves them unchanged and trains no weight', () => {
    const bn = layer(true);
    expect(bn.trainableWeights.length).toBe(0);
    expect(bn.nonTrainableWeights.map((w) => w.originalName)).toEqual(['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']);
    const y = bn.apply(x(), { training: true }) as tf.Tensor;
    // channel 0: 2 * (v - 3) / sqrt(4 + 1e-5) + 1; channel 1: 0.5 * (v - 4) / sqrt(0.25 + 1e-5) - 1
    const want = [1, 2, 3, 4, 5, 6, 7, 9].map((v, i) => (i % 2 === 0 ? (2 * (v - 3)) / Math.sqrt(4 + 1e-5) + 1 : (0.5 * (v - 4)) / Math.sqrt(0.25 + 1e-5) - 1));
    Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    expect(Array.from(bn.movingMean.read().dataSync())).toEqual([3, 4]);
    expect(Array.from(bn.movingVariance.read().dataSync())).toEqual([4, 0.25]);
    expect(bn.getConfig().frozen).toBe(true);
  });

  it('is ordinary batch norm when not frozen: batch statistics, running update, trainable gamma/beta', () => {
    const bn = layer(false);
    expect(bn.trainableWeights.map((w) => w.originalName)).toEqual(['bn/gamma', 'bn/beta']);
    expect(bn.getConfig().frozen).toBe(false);
    (bn.apply(x(), { training: true }) as tf.Tensor).dispose();
    // batch mean of channel 0: (1 + 3 + 5 + 7) / 4 = 4; running 0.9 * 3 + 0.1 * 4
    expect(bn.movingMean.read().dataSync()[0]).toBeCloseTo(3.1, 5);
  });
});
