import * as tf from '@tensorflow/tfjs-core';
import type { NoOptions } from './specs/common.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { reluSpec } from './specs/relu.js';
import type { EpilogueActivation } from './types.js';

/** ReLU's training layer: an inference plan folds it into the preceding convolution's epilogue. */
export class ReLULayer extends SpecLayer<typeof NoOptions> implements EpilogueActivation {
  static className = reluSpec.className;
  readonly epilogue = 'relu';

  constructor(config: SpecLayerConfig = {}) {
    super(reluSpec, config);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.relu(Array.isArray(inputs) ? inputs[0]! : inputs);
  }
}
tf.serialization.registerClass(ReLULayer);
