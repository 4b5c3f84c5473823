import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationTrainingHooks } from './hooks.js';
import { pau } from '../ops/pau.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS, type ActivationOptions } from './options.js';

/** Leaky-ReLU (slope 0.01) fit on [-3, 3] from the official PAU code: numerator a0..a5. */
export const PAU_INIT_NUMERATOR = [0.0335583603, 0.505000375, 1.65343934, 2.01001052, 0.931901999, 0.152424124];
/** ... and denominator b1..b4. */
export const PAU_INIT_DENOMINATOR = [3.30847488e-6, 3.98021568, 5.12471206e-7, 0.301830109];

export { pau } from '../ops/pau.js';

interface PAUArgs {
  name?: string;
  /** Joint L2 norm limit of the PAU parameter gradients; 0 disables. */
  gradClip?: number;
}

/**
 * Padé Activation Unit (Molina et al. 2020), safe version A, degrees 5/4, one set of coefficients
 * per layer, initialised to the leaky-ReLU fit. Its parameter gradients are clipped (see
 * `gradClipNorm`): the joint L2 norm over every PAU layer's coefficients is capped at grad_clip
 * (default 5, the official experiments' clip_grad_norm_ value, here applied to PAU parameters only).
 */
export class PAULayer extends tfl.layers.Layer implements ActivationLayer, ActivationTrainingHooks {
  static className = 'PwluPAU';
  readonly isActivation = true;
  readonly gradClip: number;
  private aW!: tfl.LayerVariable;
  private bW!: tfl.LayerVariable;

  constructor(args: PAUArgs = {}) {
    super({ name: args.name });
    this.gradClip = args.gradClip ?? 5;
  }

  override build(): void {
    const zeros = tfl.initializers.zeros();
    this.aW = this.addWeight('numerator', [6], 'float32', zeros);
    this.bW = this.addWeight('denominator', [4], 'float32', zeros);
    tf.tidy(() => {
      this.aW.write(tf.tensor1d(PAU_INIT_NUMERATOR));
      this.bW.write(tf.tensor1d(PAU_INIT_DENOMINATOR));
    });
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return pau(Array.isArray(inputs) ? inputs[0]! : inputs, this.aW.read(), this.bW.read());
  }

  gradClipNorm(): number | null {
    return this.gradClip > 0 ? this.gradClip : null;
  }

  describe(): Record<string, unknown> {
    return { type: 'pau', numerator: Array.from(this.aW.read().dataSync()), denominator: Array.from(this.bW.read().dataSync()) };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), gradClip: this.gradClip };
  }
}
tf.serialization.registerClass(PAULayer);

export const pauEntry: ActivationEntry<ActivationOptions<'pau'>> = {
  name: 'pau',
  description: 'PAU: safe Padé unit P5(x)/Q4(x) (version A), 10 coefficients per layer, leaky-ReLU init, gradient-norm clipping',
  options: ACTIVATION_OPTIONS.pau,
  create: (o, site) => new PAULayer({ name: site.name, gradClip: o.grad_clip }),
};
