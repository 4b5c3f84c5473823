import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { SeededDropout } from '../../src/nn/fixed-layers.js';
import { loadModelTensors, modelTensors } from '../../src/train/state.js';
import { buildArch, factory } from '../helpers/zoo.js';

function forward(m: tfl.LayersModel, x: tf.Tensor, training: boolean): number[] {
  return tf.tidy(() => Array.from((m.apply(x, { training }) as tf.Tensor).dataSync()));
}

describe('architecture zoo: state', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('round-trips through modelTensors / loadModelTensors with a learnable activation, dropout and stochastic depth resuming exactly', () => {
    const opts = { inputShape: [8, 8, 3] as [number, number, number], numClasses: 5, width: 0.1, activation: factory('swish', { trainable_beta: true }) };
    const a = buildArch('efficientnet_b0', { ...opts, seed: 1 });
    const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 3);
    // Move away from the initial state: BN running stats, dropout counters, activation parameters.
    forward(a, x, true);
    forward(a, x, true);
    for (const w of a.trainableWeights) if (w.originalName.endsWith('/beta') && w.shape.length === 0) w.write(tf.scalar(1.25));
    const saved = modelTensors(a);
    expect(saved.some((t) => t.name === 'classifier.dropout/step' && t.values[0] === 2)).toBe(true);
    expect(saved.some((t) => t.name === 'features.0.act/beta' && t.values[0] === 1.25)).toBe(true);

    // A resumed run rebuilds the model from the same config (same seed), then loads the checkpoint.
    const b = buildArch('efficientnet_b0', { ...opts, seed: 1 });
    expect(forward(b, x, false)).not.toEqual(forward(a, x, false));
    loadModelTensors(b, saved, 'test');
    expect(forward(b, x, false)).toEqual(forward(a, x, false));
    const steps = b.layers.filter((l) => l instanceof SeededDropout).map((l) => l.getWeights()[0].dataSync()[0]);
    expect(steps.length).toBeGreaterThan(5);
    expect(new Set(steps)).toEqual(new Set([2]));
    // The next training step draws the same dropout / drop-path masks in both.
    expect(forward(b, x, true)).toEqual(forward(a, x, true));
    [a, b].forEach((m) => m.dispose());
    x.dispose();
  });

  it('seeded dropout: deterministic per step, different across steps, identity at inference, unbiased scaling', () => {
    const drop = new SeededDropout({ rate: 0.5, mode: 'element', seed: 9 });
    const x = tf.ones([1000]);
    const m1 = Array.from((drop.apply(x, { training: true }) as tf.Tensor).dataSync());
    const m2 = Array.from((drop.apply(x, { training: true }) as tf.Tensor).dataSync());
    expect(m1).not.toEqual(m2);
    expect(new Set(m1)).toEqual(new Set([0, 2]));
    const kept = m1.filter((v) => v > 0).length;
    expect(kept).toBeGreaterThan(400);
    expect(kept).toBeLessThan(600);
    expect(Array.from((drop.apply(x, { training: false }) as tf.Tensor).dataSync())).toEqual(Array.from(x.dataSync()));
    // Rewinding the counter replays the same mask.
    drop.weights[0].write(tf.scalar(0));
    expect(Array.from((drop.apply(x, { training: true }) as tf.Tensor).dataSync())).toEqual(m1);

    const rows = new SeededDropout({ rate: 0.5, mode: 'row', seed: 9 });
    const y = tf.reshape(rows.apply(tf.ones([64, 2, 2, 3]), { training: true }) as tf.Tensor, [64, 12]).arraySync() as number[][];
    for (const r of y) expect(new Set(r).size).toBe(1);
    expect(new Set(y.map((r) => r[0]))).toEqual(new Set([0, 2]));
  });
});
