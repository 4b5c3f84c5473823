/**
 * A trained model in TensorFlow.js's layers format: model.json (topology and weights manifest) and one binary
 * weights file, as `tf.loadLayersModel` reads them. The topology names pwlu's layer classes; `pwlu/layers`
 * (src/layers/index.ts) registers inference versions of them for any tfjs program, browsers included.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** The weights file model.json points to. */
export const TFJS_WEIGHTS_FILE = 'weights.bin';

/** model.json's content and the weights' bytes. */
export async function exportTfjs(model: tfl.LayersModel): Promise<{ modelJson: Record<string, unknown>; weights: Uint8Array }> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  const a = artifacts as tf.io.ModelArtifacts | null;
  if (!a || !a.modelTopology || !a.weightSpecs) throw new Error(`${model.name}: tfjs did not serialise the model`);
  const parts = a.weightData === undefined ? [] : Array.isArray(a.weightData) ? a.weightData : [a.weightData];
  const weights = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    weights.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_core}`,
    convertedBy: 'pwlu export',
    modelTopology: a.modelTopology,
    weightsManifest: [{ paths: [TFJS_WEIGHTS_FILE], weights: a.weightSpecs }],
  };
  return { modelJson, weights };
}
