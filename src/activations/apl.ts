import * as tf from '@tensorflow/tfjs-core';
import { apl as aplOp } from '../ops/apl.js';
import type { ActivationTrainingHooks } from './hooks.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { aplSpec } from './specs/apl.js';

/**
 * APL's training layer: one fused op with the spec's hand-written gradients (native kernels on torch, composite
 * elsewhere); the L2 penalty on a and b joins the training loss through the `regularizationLoss` hook.
 */
export class APLLayer extends SpecLayer<typeof aplSpec.options> implements ActivationTrainingHooks {
  static className = aplSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(aplSpec, config);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return aplOp(Array.isArray(inputs) ? inputs[0]! : inputs, this.weight('a').read(), this.weight('b').read());
  }

  regularizationLoss(): tf.Scalar | null {
    const l2 = this.options.l2;
    if (l2 === 0) return null;
    return tf.tidy(() => tf.mul<tf.Scalar>(tf.add(tf.sum(tf.square(this.weight('a').read())), tf.sum(tf.square(this.weight('b').read()))), l2));
  }
}
tf.serialization.registerClass(APLLayer);
