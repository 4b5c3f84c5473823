import * as tf from '@tensorflow/tfjs-core';
import { defineActivation } from '../spec.js';
import { NoOptions } from './common.js';

/** Hard-swish (Howard et al. 2019), PyTorch's definition x * relu6(x + 3) / 6: MobileNet-V3's default. */
export const hardswishSpec = defineActivation({
  name: 'hardswish',
  className: 'PwluHardSwish',
  description: 'Hard-swish: x * relu6(x + 3) / 6 (MobileNet-V3)',
  options: NoOptions,
  color: '#edc948',
  weights: () => [],
  infer: (x) => tf.tidy(() => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6))),
  onnx: (g, x, _w, _o, prefix) => g.node('HardSwish', [x.name], {}, g.name(prefix)),
});
