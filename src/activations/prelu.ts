import * as tf from '@tensorflow/tfjs-core';
import { prelu as preluOp } from '../ops/prelu.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { preluSpec } from './specs/prelu.js';

/** PReLU's training layer: one fused op each way with a hand-written gradient (dx and dalpha [C] in one pass). */
export class PReLULayer extends SpecLayer<typeof preluSpec.options> {
  static className = preluSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(preluSpec, config);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return preluOp(Array.isArray(inputs) ? inputs[0]! : inputs, this.weight('alpha').read());
  }
}
tf.serialization.registerClass(PReLULayer);
