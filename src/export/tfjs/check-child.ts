/**
 * Loads a tfjs export the way a deployment would, with tfjs-core, the cpu backend, tfjs-layers and `pwlu/layers`
 * only (nothing else of pwlu, so the module is shown to stand alone), and writes its logits for a batch.
 * Run by `pwlu export` in a child process: node check-child.js MODEL_DIR INPUT.f32 N,H,W,C OUTPUT.f32
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import '../../layers/index.js';

const [dir, inputFile, shapeText, outputFile] = process.argv.slice(2);
const modelJson = JSON.parse(readFileSync(join(dir!, 'model.json'), 'utf8')) as {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
};
const manifest = modelJson.weightsManifest[0]!;
const bin = readFileSync(join(dir!, manifest.paths[0]!));
await tf.setBackend('cpu');
const model = await tfl.loadLayersModel(
  tf.io.fromMemory({
    modelTopology: modelJson.modelTopology,
    weightSpecs: manifest.weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  }),
);
const raw = readFileSync(inputFile!);
const x = tf.tensor(new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), shapeText!.split(',').map(Number));
const y = model.predict(x) as tf.Tensor;
writeFileSync(outputFile!, Buffer.from((y.dataSync() as Float32Array).buffer));
