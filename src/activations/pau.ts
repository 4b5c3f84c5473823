import * as tf from '@tensorflow/tfjs-core';
import { pau } from '../ops/pau.js';
import type { ActivationTrainingHooks } from './hooks.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { pauSpec } from './specs/pau.js';

export { pau } from '../ops/pau.js';
export { PAU_INIT_DENOMINATOR, PAU_INIT_NUMERATOR } from './specs/pau.js';

/**
 * PAU's training layer. Its parameter gradients are clipped (see `gradClipNorm`): the joint L2 norm over every PAU
 * layer's coefficients is capped at grad_clip (default 5, the official experiments' clip_grad_norm_ value, here
 * applied to PAU parameters only).
 */
export class PAULayer extends SpecLayer<typeof pauSpec.options> implements ActivationTrainingHooks {
  static className = pauSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(pauSpec, config);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return pau(Array.isArray(inputs) ? inputs[0]! : inputs, this.weight('numerator').read(), this.weight('denominator').read());
  }

  gradClipNorm(): number | null {
    return this.options.grad_clip > 0 ? this.options.grad_clip : null;
  }
}
tf.serialization.registerClass(PAULayer);
