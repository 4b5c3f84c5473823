import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { defineActivation, requireChannels } from '../spec.js';
import { convAttrs, convWeight } from '../onnx.js';
import { NoOptions } from './common.js';

/** FReLU's batch norm conventions (PyTorch's, as the models' BatchNorm): momentum 0.1, epsilon 1e-5. */
export const FRELU_BN = { momentum: 0.1, epsilon: 1e-5 } as const;

/** FReLU's activations.json record: the 3x3 kernel of each channel (row-major) and the BN affine parameters. */
export const FReLUDescribe = z.object({ kernel: z.array(z.array(z.number())), gamma: z.array(z.number()), beta: z.array(z.number()) });
export type FReLUDescribe = z.infer<typeof FReLUDescribe>;

/**
 * Funnel activation (Ma et al. 2020): max(x, BN(DWConv3x3(x))), depthwise 3x3, stride 1, same padding, with its
 * own batch norm. Adds 9C kernel weights plus BN per layer. The kernel starts Kaiming-normal (fan-out), as the
 * model builder initialises its depthwise convolutions.
 */
export const freluSpec = defineActivation({
  name: 'frelu',
  className: 'PwluFReLU',
  description: 'FReLU: max(x, BN(DWConv3x3(x))), depthwise 3x3 + BN per layer (adds 9C weights + BN)',
  options: NoOptions,
  spatialOnly: true,
  color: '#bab0ac',
  weights: (_o, site) => {
    if (site.rank !== 4) throw new Error(`FReLU needs NHWC input, got rank ${site.rank}`);
    const c = requireChannels(site, 'FReLU');
    return [
      { name: 'kernel', shape: [3, 3, c, 1], init: { varianceScaling: { scale: 2, mode: 'fanOut', distribution: 'normal' } }, trainable: true },
      { name: 'gamma', shape: [c], init: { fill: 1 }, trainable: true },
      { name: 'beta', shape: [c], init: { fill: 0 }, trainable: true },
      { name: 'moving_mean', shape: [c], init: { fill: 0 }, trainable: false },
      { name: 'moving_variance', shape: [c], init: { fill: 1 }, trainable: false },
    ];
  },
  infer: (x, w) =>
    tf.tidy(() => {
      const t = tf.depthwiseConv2d(x as tf.Tensor4D, w.kernel as tf.Tensor4D, 1, 'same');
      return tf.maximum(x, tf.batchNorm(t, w.moving_mean!, w.moving_variance!, w.beta, w.gamma, FRELU_BN.epsilon));
    }),
  onnx: (g, x, w, _o, prefix) => {
    const c = w.gamma!.length;
    const k = convWeight(w.kernel!, [3, 3, c, 1], true);
    const dw = g.node('Conv', [x.name, g.constant(`${prefix}.kernel`, k.data, k.dims)], convAttrs(1, [1, 1], [1, 1], [3, 3], c));
    const bn = g.node(
      'BatchNormalization',
      [dw, ...(['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).map((n, i) => g.constant(`${prefix}.bn${i}`, w[n]!, [c]))],
      { epsilon: { float: FRELU_BN.epsilon } },
    );
    return g.node('Max', [x.name, bn], {}, g.name(prefix));
  },
  describe: (w) => {
    const c = w.gamma!.length;
    const k = w.kernel!;
    return {
      kernel: Array.from({ length: c }, (_, ch) => Array.from({ length: 9 }, (_, i) => k[i * c + ch]!)),
      gamma: Array.from(w.gamma!),
      beta: Array.from(w.beta!),
    };
  },
  describeSchema: FReLUDescribe,
});
