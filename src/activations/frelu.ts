import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { applyBatchNorm, type BatchNormWeights } from '../nn/batch-norm.js';
import type { ActivationTrainingHooks } from './hooks.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS } from './options.js';

interface FReLUArgs {
  name?: string;
  /** Seed of the depthwise kernel initialiser. */
  seed?: number;
  /** BN momentum (PyTorch convention) and epsilon. */
  momentum?: number;
  epsilon?: number;
}

/**
 * Funnel activation (Ma et al. 2020): max(x, BN(DWConv3x3(x))), depthwise 3x3, stride 1, same
 * padding, with its own batch norm (`applyBatchNorm`, PyTorch conventions as the BatchNorm layer: momentum
 * 0.1, epsilon 1e-5, unbiased running variance). Adds 9C kernel weights plus BN per layer. The
 * kernel is a convolution weight, so it gets weight decay (`decayedWeights`); the BN affine
 * parameters do not.
 */
export class FReLULayer extends tfl.layers.Layer implements ActivationLayer, ActivationTrainingHooks, BatchNormWeights {
  static className = 'PwluFReLU';
  readonly isActivation = true;
  readonly seed: number;
  readonly momentum: number;
  readonly epsilon: number;
  private kernel!: tfl.LayerVariable;
  gamma!: tfl.LayerVariable;
  beta!: tfl.LayerVariable;
  movingMean!: tfl.LayerVariable;
  movingVariance!: tfl.LayerVariable;

  constructor(args: FReLUArgs = {}) {
    super({ name: args.name });
    this.seed = args.seed ?? 0;
    this.momentum = args.momentum ?? 0.1;
    this.epsilon = args.epsilon ?? 1e-5;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    if (shape.length !== 4) throw new Error(`${this.name}: FReLU needs NHWC input, got rank ${shape.length}`);
    const c = shape[3];
    if (c == null) throw new Error(`${this.name}: channel dimension must be known`);
    // Kaiming-normal (fan-out), as the model builder initialises its depthwise convolutions.
    const init = tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: this.seed });
    this.kernel = this.addWeight('kernel', [3, 3, c, 1], 'float32', init);
    this.gamma = this.addWeight('gamma', [c], 'float32', tfl.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tfl.initializers.zeros());
    this.movingMean = this.addWeight('moving_mean', [c], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'float32', tfl.initializers.ones(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    return tf.tidy(() => {
      const t = tf.depthwiseConv2d(x, this.kernel.read() as tf.Tensor4D, 1, 'same');
      return tf.maximum(x, applyBatchNorm(t, this, Boolean(kwargs.training)));
    });
  }

  decayedWeights(): tfl.LayerVariable[] {
    return [this.kernel];
  }

  describe(): Record<string, unknown> {
    const c = this.gamma.shape[0] as number;
    const k = this.kernel.read().dataSync();
    return {
      type: 'frelu',
      kernel: Array.from({ length: c }, (_, ch) => Array.from({ length: 9 }, (_, i) => k[i * c + ch])),
      gamma: Array.from(this.gamma.read().dataSync()),
      beta: Array.from(this.beta.read().dataSync()),
    };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed, momentum: this.momentum, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(FReLULayer);

export const frelu: ActivationEntry<Record<string, never>> = {
  name: 'frelu',
  description: 'FReLU: max(x, BN(DWConv3x3(x))), depthwise 3x3 + BN per layer (adds 9C weights + BN)',
  options: ACTIVATION_OPTIONS.frelu,
  spatialOnly: true,
  create: (_o, site, ctx) => new FReLULayer({ name: site.name, seed: ctx.seed }),
};
