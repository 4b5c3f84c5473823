import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyFixed, type FixedActivation, TorchMaxPool } from '../../src/nn/fixed-layers.js';
import { countActivationSites, countAllSites } from '../../src/models/sites.js';
import { buildArch, factory, ZOO } from '../helpers/zoo.js';

/** Spatial side of the last feature map (the global pool's input). */
function finalSide(m: tfl.LayersModel): number | null {
  const input = m.getLayer('pool').input as tfl.SymbolicTensor;
  return input.shape[1];
}

// Tiny widths keep the forward passes fast on the pure-JS backend.
const TINY: Record<string, number> = {
  resnet18: 0.125,
  resnet34: 0.125,
  resnet50: 0.0625,
  mobilenet_v2: 0.1,
  mobilenet_v3_large: 0.1,
  mobilenet_v3_small: 0.1,
  efficientnet_b0: 0.1,
};

describe('architecture zoo: output shapes', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const arch of ZOO) {
    it(`${arch}: small stem at 32x32x3 and 28x28x1 (8x downsampling), ImageNet stem at 224 (32x)`, () => {
      const cases: [number, number, 'small' | 'imagenet', number][] = [
        [32, 3, 'small', 4],
        [28, 1, 'small', 4],
        [224, 3, 'imagenet', 7],
      ];
      for (const [size, channels, stem, side] of cases) {
        const m = buildArch(arch, { inputShape: [size, size, channels], numClasses: 7, width: TINY[arch], stem });
        expect(finalSide(m)).toBe(side);
        expect(m.outputs[0].shape).toEqual([null, 7]);
        const y = tf.tidy(() => m.apply(tf.randomNormal([size > 64 ? 1 : 2, size, size, channels], 0, 1, 'float32', 1), { training: false }) as tf.Tensor);
        expect(y.shape).toEqual([size > 64 ? 1 : 2, 7]);
        expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
        y.dispose();
        m.dispose();
      }
    });
  }
});

describe('fixed layers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('hard-swish / hard-sigmoid follow PyTorch (x/6 + 1/2), not Keras (0.2x + 0.5)', () => {
    const x = tf.tensor1d([-4, -3, -1, 0, 1.5, 3, 5]);
    const hs = applyFixed('hardswish', x).arraySync() as number[];
    const hg = applyFixed('hardsigmoid', x).arraySync() as number[];
    const expectHs = [0, 0, -1 / 3, 0, 1.125, 3, 5];
    const expectHg = [0, 0, 1 / 3, 0.5, 0.75, 1, 1];
    hs.forEach((v, i) => expect(v).toBeCloseTo(expectHs[i], 6));
    hg.forEach((v, i) => expect(v).toBeCloseTo(expectHg[i], 6));
    x.dispose();
  });

  it('max-pool pads with -inf like PyTorch, so negative activations survive at the border', () => {
    const pool = new TorchMaxPool({ poolSize: 3, strides: 2 });
    const x = tf.fill([1, 4, 4, 1], -1);
    const y = pool.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 2, 2, 1]);
    expect(Array.from(y.dataSync())).toEqual([-1, -1, -1, -1]);
    const odd = pool.apply(tf.zeros([1, 7, 7, 2])) as tf.Tensor;
    expect(odd.shape).toEqual([1, 4, 4, 2]);
    tf.dispose([x, y, odd]);
  });

  it("a spatial activation (FReLU) replaces every feature-map site; MobileNet-V3's classifier site keeps hard-swish", () => {
    for (const arch of ['mobilenet_v3_large', 'mobilenet_v3_small'] as const) {
      const m = buildArch(arch, { width: TINY[arch], activation: factory('frelu') });
      expect(countActivationSites(m)).toBe(countAllSites(m) - 1);
      const kept = m.getLayer('classifier.act') as FixedActivation;
      expect([kept.getClassName(), kept.kind, kept.isSite]).toEqual(['PwluFixedActivation', 'hardswish', true]);
      const y = tf.tidy(() => m.apply(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1), { training: false }) as tf.Tensor);
      expect(y.shape).toEqual([2, 10]);
      y.dispose();
      m.dispose();
    }
  });
});
