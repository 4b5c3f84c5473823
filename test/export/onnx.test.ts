import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { checkOnnx } from '../../src/export/onnx/check.js';
import { exportOnnx } from '../../src/export/onnx/model.js';
import { EXPORT_ARCHS, OPTION_VARIANTS, withExportModel } from '../helpers/export-models.js';

describe('pwlu export: ONNX', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const arch of EXPORT_ARCHS) {
    it(`${arch}: every activation exports, and onnxruntime's logits match the model's within 1e-4 relative`, async () => {
      for (const act of activationNames()) {
        await withExportModel(arch, act, {}, async (m, x) => {
          // Folded (the default) for every activation; batch norm kept as its own node for one of them.
          for (const foldBn of act === 'swish' ? [true, false] : [true]) {
            const bytes = exportOnnx(m, { batch: 'dynamic', foldBn });
            if (!foldBn && arch !== 'plainnet') expect(Buffer.from(bytes).includes('BatchNormalization')).toBe(true);
            if (foldBn && act === 'swish') expect(Buffer.from(bytes).includes('BatchNormalization')).toBe(false);
            const r = await checkOnnx(m, bytes, x);
            expect(r.max_rel_diff, `${arch} + ${act}${foldBn ? '' : ' (BN kept)'}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
            expect(r.same_top1).toBe(true);
          }
        });
      }
    }, 120_000);
  }

  it('channel-wise PWLU and Swish with a learned beta export exactly too (fixed batch size)', async () => {
    for (const [act, options] of OPTION_VARIANTS) {
      await withExportModel('resnet20', act, options, async (m, x) => {
        const r = await checkOnnx(m, exportOnnx(m, { batch: 3 }), x);
        expect(r.max_rel_diff, `${act}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
      });
    }
  });
});
