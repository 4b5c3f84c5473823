import * as tf from '@tensorflow/tfjs-core';
import { swish as swishOp } from '../ops/swish.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { swishSpec } from './specs/swish.js';

/** Swish's training layer: one fused op with a hand-written gradient (saves only x), beta fixed or learned. */
export class SwishLayer extends SpecLayer<typeof swishSpec.options> {
  static className = swishSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(swishSpec, config);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return swishOp(x, this.options.trainable_beta ? this.weight('beta').read() : this.options.beta);
  }
}
tf.serialization.registerClass(SwishLayer);
