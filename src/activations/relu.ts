import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationEntry, ActivationLayer, EpilogueActivation } from './types.js';
import { ACTIVATION_OPTIONS } from './options.js';

/** max(0, x): the baseline every architecture starts from. */
export class ReLULayer extends tfl.layers.Layer implements ActivationLayer, EpilogueActivation {
  static className = 'PwluReLU';
  readonly isActivation = true;
  readonly epilogue = 'relu';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.relu(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}
tf.serialization.registerClass(ReLULayer);

export const relu: ActivationEntry<Record<string, never>> = {
  name: 'relu',
  description: 'ReLU: max(0, x)',
  options: ACTIVATION_OPTIONS.relu,
  create: (_options, site) => new ReLULayer({ name: site.name }),
};
