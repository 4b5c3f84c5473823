import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { checkOnnx } from '../../src/export/onnx/check.js';
import { exportOnnx } from '../../src/export/onnx/model.js';
import { perturb } from '../helpers/perturb.js';
import { buildArch, factory, MICRO_OPTIONS, ZOO } from '../helpers/zoo.js';

const ARCHS = ['resnet20', 'plainnet', ...ZOO] as const;

describe('pwlu export: ONNX', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const arch of ARCHS) {
    it(`${arch}: every activation exports, and onnxruntime's logits match the model's within 1e-4 relative`, async () => {
      for (const act of activationNames()) {
        const m = buildArch(arch, { inputShape: [16, 16, 3], numClasses: 5, ...MICRO_OPTIONS[arch], activation: factory(act) });
        perturb(m, 7);
        const x = tf.randomNormal([3, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
        // Folded (the default) for every activation; batch norm kept as its own node for one of them.
        for (const foldBn of act === 'swish' ? [true, false] : [true]) {
          const bytes = exportOnnx(m, { batch: 'dynamic', foldBn });
          if (!foldBn && arch !== 'plainnet') expect(Buffer.from(bytes).includes('BatchNormalization')).toBe(true);
          if (foldBn && act === 'swish') expect(Buffer.from(bytes).includes('BatchNormalization')).toBe(false);
          const r = await checkOnnx(m, bytes, x);
          expect(r.max_rel_diff, `${arch} + ${act}${foldBn ? '' : ' (BN kept)'}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
          expect(r.same_top1).toBe(true);
        }
        x.dispose();
        m.dispose();
      }
    }, 120_000);
  }

  it('channel-wise PWLU and Swish with a learned beta export exactly too', async () => {
    for (const [act, options] of [
      ['pwlu', { granularity: 'channel', n: 8 }],
      ['swish', { trainable_beta: true }],
    ] as const) {
      const m = buildArch('resnet20', { inputShape: [16, 16, 3], numClasses: 5, ...MICRO_OPTIONS.resnet20, activation: factory(act, options) });
      perturb(m, 11);
      const x = tf.randomNormal([2, 16, 16, 3], 0, 2, 'float32', 5) as tf.Tensor4D;
      const r = await checkOnnx(m, exportOnnx(m, { batch: 2 }), x);
      x.dispose();
      m.dispose();
      expect(r.max_rel_diff, `${act}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
    }
  });
});
