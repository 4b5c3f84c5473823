import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { applyBatchNorm, type BatchNormWeights } from '../nn/batch-norm.js';
import type { ActivationTrainingHooks } from './hooks.js';
import type { NoOptions } from './specs/common.js';
import { SpecLayer, type SpecLayerConfig } from './layer.js';
import { FRELU_BN, freluSpec } from './specs/frelu.js';

/**
 * FReLU's training layer: the depthwise conv, then `applyBatchNorm` (PyTorch conventions as the BatchNorm layer:
 * batch statistics and unbiased running variance when training). The kernel is a convolution weight, so it gets
 * weight decay (`decayedWeights`); the BN affine parameters do not.
 */
export class FReLULayer extends SpecLayer<typeof NoOptions> implements ActivationTrainingHooks, BatchNormWeights {
  static className = freluSpec.className;
  readonly momentum = FRELU_BN.momentum;
  readonly epsilon = FRELU_BN.epsilon;

  constructor(config: SpecLayerConfig = {}) {
    super(freluSpec, config);
  }

  get gamma(): tfl.LayerVariable {
    return this.weight('gamma');
  }
  get beta(): tfl.LayerVariable {
    return this.weight('beta');
  }
  get movingMean(): tfl.LayerVariable {
    return this.weight('moving_mean');
  }
  get movingVariance(): tfl.LayerVariable {
    return this.weight('moving_variance');
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const t = tf.depthwiseConv2d(x, this.weight('kernel').read() as tf.Tensor4D, 1, 'same');
      return tf.maximum(x, applyBatchNorm(t, this, Boolean(kwargs.training)));
    });
  }

  decayedWeights(): tfl.LayerVariable[] {
    return [this.weight('kernel')];
  }
}
tf.serialization.registerClass(FReLULayer);
