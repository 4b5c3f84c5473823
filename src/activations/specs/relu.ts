import * as tf from '@tensorflow/tfjs-core';
import { defineActivation } from '../spec.js';
import { NoOptions } from './common.js';

/** max(0, x): the baseline every architecture starts from. */
export const reluSpec = defineActivation({
  name: 'relu',
  className: 'PwluReLU',
  description: 'ReLU: max(0, x)',
  options: NoOptions,
  color: '#4e79a7',
  weights: () => [],
  infer: (x) => tf.relu(x),
  onnx: (g, x, _w, _o, prefix) => g.node('Relu', [x.name], {}, g.name(prefix)),
});
