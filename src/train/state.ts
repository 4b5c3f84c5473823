import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import type { StoredTensor } from '../run/checkpoint.js';

/** Every weight of the model (trainable and running statistics), under process-stable names. */
export function modelTensors(model: tfl.LayersModel): StoredTensor[] {
  return model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[], values: w.read().dataSync() as Float32Array }));
}

/** Loads weights saved by modelTensors; a missing or mis-shaped weight is an error naming it. */
export function loadModelTensors(model: tfl.LayersModel, tensors: StoredTensor[], source: string): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const w of model.weights) {
    const t = byName.get(w.originalName);
    if (!t) throw new UserError(`${source}: checkpoint has no weight '${w.originalName}' (was it written for another model?)`);
    const shape = w.shape as number[];
    if (t.shape.join('x') !== shape.join('x')) {
      throw new UserError(`${source}: weight '${w.originalName}' has shape [${t.shape}] in the checkpoint but [${shape}] in the model`);
    }
    w.write(tf.tensor(t.values, shape));
  }
}
