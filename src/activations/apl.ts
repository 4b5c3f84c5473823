import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../util/rng.js';
import { apl as aplOp } from '../ops/apl.js';
import type { ActivationTrainingHooks } from './hooks.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS, type ActivationOptions } from './options.js';

interface APLArgs {
  name?: string;
  /** Hinges S. */
  s?: number;
  /** L2 penalty on a and b, added to the loss. */
  l2?: number;
  /** Seed of the a/b initialisation. */
  seed?: number;
}

/**
 * Adaptive piecewise linear unit (Agostinelli et al. 2015): max(0,x) + sum_s a_s max(0, b_s - x),
 * S hinges per channel (our choice; the original is per element). Init a ~ U(-0.5/S, 0.5/S),
 * b ~ N(0, 0.5^2) from a seeded generator; an L2 penalty on a and b joins the training loss
 * through the `regularizationLoss` hook.
 */
export class APLLayer extends tfl.layers.Layer implements ActivationLayer, ActivationTrainingHooks {
  static className = 'PwluAPL';
  readonly isActivation = true;
  readonly s: number;
  readonly l2: number;
  readonly seed: number;
  private aW!: tfl.LayerVariable;
  private bW!: tfl.LayerVariable;

  constructor(args: APLArgs = {}) {
    super({ name: args.name });
    this.s = args.s ?? 2;
    this.l2 = args.l2 ?? 1e-3;
    this.seed = args.seed ?? 0;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`${this.name}: channel dimension must be known`);
    const zeros = tfl.initializers.zeros();
    this.aW = this.addWeight('a', [this.s, c], 'float32', zeros);
    this.bW = this.addWeight('b', [this.s, c], 'float32', zeros);
    const rng = new Rng(this.seed);
    const a = new Float32Array(this.s * c);
    const b = new Float32Array(this.s * c);
    const half = 0.5 / this.s;
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * half;
    for (let i = 0; i < b.length; i++) b[i] = 0.5 * rng.normal();
    tf.tidy(() => {
      this.aW.write(tf.tensor2d(a, [this.s, c]));
      this.bW.write(tf.tensor2d(b, [this.s, c]));
    });
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    // One fused op with the spec's hand-written gradients (native kernels on torch, composite elsewhere).
    return aplOp(Array.isArray(inputs) ? inputs[0]! : inputs, this.aW.read(), this.bW.read());
  }

  regularizationLoss(): tf.Scalar | null {
    if (this.l2 === 0) return null;
    return tf.tidy(() => tf.mul(tf.add(tf.sum(tf.square(this.aW.read())), tf.sum(tf.square(this.bW.read()))), this.l2) as tf.Scalar);
  }

  describe(): Record<string, unknown> {
    const c = this.aW.shape[1] as number;
    const rows = (t: tf.Tensor) => {
      const v = t.dataSync();
      return Array.from({ length: this.s }, (_, i) => Array.from(v.subarray(i * c, (i + 1) * c)));
    };
    return { type: 'apl', s: this.s, a: rows(this.aW.read()), b: rows(this.bW.read()) };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), s: this.s, l2: this.l2, seed: this.seed };
  }
}
tf.serialization.registerClass(APLLayer);

export const apl: ActivationEntry<ActivationOptions<'apl'>> = {
  name: 'apl',
  description: 'APL: max(0,x) + sum_s a_s max(0, b_s - x), S hinges (s, default 2) per channel, L2 penalty 1e-3',
  options: ACTIVATION_OPTIONS.apl,
  create: (o, site, ctx) => new APLLayer({ name: site.name, s: o.s, l2: o.l2, seed: ctx.seed }),
};
