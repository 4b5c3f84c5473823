/** Model introspection: how many parameters a built model has, and how many of them its activation layers add. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { isActivationLayer } from '../activations/types.js';

/** Trainable parameter count (what timm and torchvision report). */
export function countTrainable(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
}

/** Trainable parameters that belong to activation layers (what a learnable activation adds; running statistics excluded). */
export function activationParamCount(model: tfl.LayersModel): number {
  let n = 0;
  for (const layer of model.layers) {
    if (!isActivationLayer(layer)) continue;
    for (const w of layer.trainableWeights) n += (w.shape as number[]).reduce((a, b) => a * b, 1);
  }
  return n;
}
