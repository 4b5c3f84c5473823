import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hardswish as hardswishOp } from '../ops/hardswish.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS } from './options.js';

/** x * relu6(x + 3) / 6, as a plain function: one fused op with a hand-written gradient that saves only x (src/ops/hardswish.ts). */
export function hardSwish(x: tf.Tensor): tf.Tensor {
  return hardswishOp(x);
}

/** Hard-swish (Howard et al. 2019): MobileNet-V3's default activation, a cheap piecewise Swish. */
export class HardSwishLayer extends tfl.layers.Layer implements ActivationLayer {
  static className = 'PwluHardSwish';
  readonly isActivation = true;

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return hardSwish(Array.isArray(inputs) ? inputs[0]! : inputs);
  }
}
tf.serialization.registerClass(HardSwishLayer);

export const hardswish: ActivationEntry<Record<string, never>> = {
  name: 'hardswish',
  description: 'Hard-swish: x * relu6(x + 3) / 6 (MobileNet-V3)',
  options: ACTIVATION_OPTIONS.hardswish,
  create: (_options, site) => new HardSwishLayer({ name: site.name }),
};
