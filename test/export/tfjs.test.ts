import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { compareLogits, ownLogits } from '../../src/export/compare.js';
import { exportTfjs } from '../../src/export/tfjs/model.js';
// Registers pwlu/layers' inference classes under the training classes' names: tfl.loadLayersModel below uses them.
import '../../src/layers/index.js';
import { EXPORT_ARCHS, OPTION_VARIANTS, withExportModel } from '../helpers/export-models.js';

/** Round trip through model.json + weights.bin and pwlu/layers; the loaded model's logits against the original's. */
async function roundTrip(m: tfl.LayersModel, x: tf.Tensor4D) {
  const { modelJson, weights } = await exportTfjs(m);
  const manifest = (modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[])[0]!;
  const json = JSON.parse(JSON.stringify(modelJson)) as { modelTopology: object };
  const loaded = await tfl.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: manifest.weights, weightData: weights.slice().buffer }),
  );
  const want = ownLogits(m, x);
  const got = tf.tidy(() => loaded.predict(x) as tf.Tensor);
  const r = compareLogits(want.values, got.dataSync(), want.classes);
  got.dispose();
  loaded.dispose();
  return r;
}

describe('pwlu export: TensorFlow.js layers format, loaded with pwlu/layers', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const arch of EXPORT_ARCHS) {
    it(`${arch}: every activation round-trips within 1e-4 relative`, async () => {
      for (const act of activationNames()) {
        await withExportModel(arch, act, {}, async (m, x) => {
          const r = await roundTrip(m, x);
          expect(r.max_rel_diff, `${arch} + ${act}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
          expect(r.same_top1).toBe(true);
        });
      }
    }, 120_000);
  }

  it('channel-wise PWLU and Swish with a learned beta', async () => {
    for (const [act, options] of OPTION_VARIANTS) {
      await withExportModel('resnet20', act, options, async (m, x) => {
        const r = await roundTrip(m, x);
        expect(r.max_rel_diff, `${act}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
      });
    }
  });

  it('pwlu/layers bundles for a browser from tfjs-core, tfjs-layers, zod, side-effect-free spec modules and the ops they run only', async () => {
    const { build } = await import('esbuild');
    const packages = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'zod'];
    const r = await build({
      entryPoints: ['src/layers/index.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      external: packages,
      logLevel: 'silent',
    });
    const files = Object.keys(r.metafile.inputs);
    const allowed = /^src\/(layers\/|activations\/(spec|layer|onnx)\.ts$|activations\/specs\/|ops\/|util\/rng\.ts$)/;
    expect(files.filter((f) => !allowed.test(f))).toEqual([]);
    const external = new Set(Object.values(r.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
    expect(new Set(packages)).toEqual(external);
  });
});
