import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { swish as swishOp } from '../ops/swish.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS, type ActivationOptions } from './options.js';

interface SwishArgs {
  name?: string;
  beta?: number;
  trainableBeta?: boolean;
}

/** x * sigmoid(beta * x): the baseline the paper compares PWLU against (beta = 1 is SiLU). */
export class SwishLayer extends tfl.layers.Layer implements ActivationLayer {
  static className = 'PwluSwish';
  readonly isActivation = true;
  private readonly beta0: number;
  private readonly trainableBeta: boolean;
  private betaWeight: tfl.LayerVariable | null = null;

  constructor(args: SwishArgs = {}) {
    super({ name: args.name });
    this.beta0 = args.beta ?? 1;
    this.trainableBeta = args.trainableBeta ?? false;
  }

  override build(): void {
    if (this.trainableBeta) {
      this.betaWeight = this.addWeight('beta', [], 'float32', tfl.initializers.constant({ value: this.beta0 }));
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    // One fused op with a hand-written gradient (saves only x): src/ops/swish.ts.
    return swishOp(x, this.betaWeight ? this.betaWeight.read() : this.beta0);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), beta: this.beta0, trainableBeta: this.trainableBeta };
  }
}
tf.serialization.registerClass(SwishLayer);

export const swish: ActivationEntry<ActivationOptions<'swish'>> = {
  name: 'swish',
  description: 'Swish: x * sigmoid(beta * x); beta = 1 (SiLU) by default, optionally trainable',
  options: ACTIVATION_OPTIONS.swish,
  create: (o, site) => new SwishLayer({ name: site.name, beta: o.beta, trainableBeta: o.trainable_beta }),
};
