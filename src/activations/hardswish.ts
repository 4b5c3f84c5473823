import * as tf from '@tensorflow/tfjs-core';
import { hardswish as hardswishOp } from '../ops/hardswish.js';
import type { NoOptions } from './specs/common.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { hardswishSpec } from './specs/hardswish.js';

/** x * relu6(x + 3) / 6, as a plain function: one fused op with a hand-written gradient that saves only x (src/ops/hardswish.ts). */
export function hardSwish(x: tf.Tensor): tf.Tensor {
  return hardswishOp(x);
}

/** Hard-swish's training layer: the fused op. */
export class HardSwishLayer extends SpecLayer<typeof NoOptions> {
  static className = hardswishSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(hardswishSpec, config);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return hardSwish(Array.isArray(inputs) ? inputs[0]! : inputs);
  }
}
tf.serialization.registerClass(HardSwishLayer);
