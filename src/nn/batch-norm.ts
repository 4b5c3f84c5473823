/**
 * Batch norm as a training layer, PyTorch conventions, synchronised across data-parallel ranks. It lives in src/nn/
 * (generic network layers, above ops) because both the architectures (src/models/) and an activation (FReLU's
 * depthwise conv + BN, src/activations/frelu.ts) need it, and activations must not import models.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { batchNormInfer, batchNormTrain, batchNormTrainGlobal } from '../ops/batch-norm.js';
import { collectiveWorld } from '../ops/collectives.js';

interface BatchNormArgs {
  name?: string;
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch. */
  momentum?: number;
  epsilon?: number;
  /**
   * torchvision's FrozenBatchNorm2d (detection backbones): always the running statistics, never
   * updated, and gamma/beta not trainable, so they get no gradient and no optimizer slot.
   */
  frozen?: boolean;
}

/** The four weights of a batch norm over the last axis, and its conventions. */
export interface BatchNormWeights {
  readonly gamma: tfl.LayerVariable;
  readonly beta: tfl.LayerVariable;
  readonly movingMean: tfl.LayerVariable;
  readonly movingVariance: tfl.LayerVariable;
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch. */
  readonly momentum: number;
  readonly epsilon: number;
}

/**
 * Batch norm with PyTorch's semantics, shared by the BatchNorm layer and activations that embed
 * one (FReLU): batch statistics and running-average updates (unbiased variance) when training
 * (over every rank's batch when train.sync_bn is set in a distributed run), the running statistics otherwise.
 */
export function applyBatchNorm(x: tf.Tensor, w: BatchNormWeights, training: boolean): tf.Tensor {
  const gamma = w.gamma.read() as tf.Tensor1D;
  const beta = w.beta.read() as tf.Tensor1D;
  if (!training) {
    return batchNormInfer(x, gamma, beta, w.movingMean.read() as tf.Tensor1D, w.movingVariance.read() as tf.Tensor1D, w.epsilon);
  }
  const running = { mean: w.movingMean.read() as tf.Tensor1D, variance: w.movingVariance.read() as tf.Tensor1D, momentum: w.momentum };
  const { y, runningMean, runningVar } = (collectiveWorld()?.syncBatchNorm ? batchNormTrainGlobal : batchNormTrain)(x, gamma, beta, w.epsilon, running);
  w.movingMean.write(runningMean);
  w.movingVariance.write(runningVar);
  tf.dispose([runningMean, runningVar]); // the variables hold their own references
  return y;
}

/**
 * Batch normalisation over the channel (last) axis with a fused, hand-written gradient.
 * Replaces tfjs-layers' BatchNormalization, whose training path is ~15 passes over the data;
 * follows PyTorch's conventions (momentum 0.1, epsilon 1e-5, unbiased running variance).
 * `frozen`: FrozenBatchNorm2d (running statistics in training too; no trainable weights).
 */
export class BatchNorm extends tfl.layers.Layer implements BatchNormWeights {
  static className = 'PwluBatchNorm';
  readonly momentum: number;
  readonly epsilon: number;
  readonly frozen: boolean;
  gamma!: tfl.LayerVariable;
  beta!: tfl.LayerVariable;
  movingMean!: tfl.LayerVariable;
  movingVariance!: tfl.LayerVariable;

  constructor(args: BatchNormArgs = {}) {
    super({ name: args.name });
    this.momentum = args.momentum ?? 0.1;
    this.epsilon = args.epsilon ?? 1e-5;
    this.frozen = args.frozen ?? false;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`${this.name}: channel dimension must be known`);
    this.gamma = this.addWeight('gamma', [c], 'float32', tfl.initializers.ones(), undefined, !this.frozen);
    this.beta = this.addWeight('beta', [c], 'float32', tfl.initializers.zeros(), undefined, !this.frozen);
    this.movingMean = this.addWeight('moving_mean', [c], 'float32', tfl.initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight('moving_variance', [c], 'float32', tfl.initializers.ones(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return applyBatchNorm(x, this, Boolean(kwargs.training) && !this.frozen);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon, frozen: this.frozen };
  }
}
tf.serialization.registerClass(BatchNorm);
