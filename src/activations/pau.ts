import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import type { ActivationTrainingHooks } from './hooks.js';
import type { ActivationEntry, ActivationLayer } from './types.js';

/** Leaky-ReLU (slope 0.01) fit on [-3, 3] from the official PAU code: numerator a0..a5. */
export const PAU_INIT_NUMERATOR = [0.0335583603, 0.505000375, 1.65343934, 2.01001052, 0.931901999, 0.152424124];
/** ... and denominator b1..b4. */
export const PAU_INIT_DENOMINATOR = [3.30847488e-6, 3.98021568, 5.12471206e-7, 0.301830109];

/** sum_j c_j x^j by Horner's rule (c as scalar tensors, lowest degree first). */
function horner(x: tf.Tensor, c: tf.Tensor[]): tf.Tensor {
  let acc: tf.Tensor = c[c.length - 1]!;
  for (let j = c.length - 2; j >= 0; j--) acc = tf.add(tf.mul(acc, x), c[j]!);
  return acc;
}

/** Sums of g * x^j for j = 0..k-1, stacked into [k]. */
function momentSums(g: tf.Tensor, x: tf.Tensor, k: number, from = 0): tf.Tensor {
  const out: tf.Tensor[] = [];
  let term = from === 0 ? g : tf.mul(g, from === 1 ? x : tf.pow(x, from));
  for (let j = 0; j < k; j++) {
    out.push(tf.sum(term));
    if (j < k - 1) term = tf.mul(term, x);
  }
  return tf.stack(out);
}

/**
 * Safe PAU (version A) with a hand-written gradient: F = P(x) / Q(x), P = sum_{j=0..5} a_j x^j,
 * Q = 1 + sum_{k=1..4} |b_k| |x|^k. Returns F; differentiable in x, a [6] and b [4].
 */
export function pau(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, as, bs] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    save([xs!, as!, bs!]);
    const value = tf.tidy(() => {
      const ax = tf.abs(xs!);
      const p = horner(xs!, tf.unstack(as!));
      const q = tf.add(tf.mul(horner(ax, tf.unstack(tf.abs(bs!))), ax), 1);
      return tf.div(p, q);
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sa, sb] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const ca = tf.unstack(sa);
          const absB = tf.abs(sb);
          const cb = tf.unstack(absB);
          const ax = tf.abs(sx);
          const p = horner(sx, ca);
          const q = tf.add(tf.mul(horner(ax, cb), ax), 1);
          const invQ = tf.reciprocal(q);
          const g = tf.mul(dy, invQ);
          // dF/da_j = x^j / Q
          const da = momentSums(g, sx, 6);
          // dF/db_k = -sign(b_k) |x|^k P / Q^2
          const h = tf.mul(g, tf.mul(p, invQ));
          const db = tf.mul(tf.neg(tf.sign(sb)), momentSums(h, ax, 4, 1));
          // dF/dx = P'/Q - P sign(x) sum_k k |b_k| |x|^(k-1) / Q^2
          const dp = horner(sx, ca.slice(1).map((c, j) => tf.mul(c, j + 1)));
          const dq = horner(ax, cb.map((c, k) => tf.mul(c, k + 1)));
          const dx = tf.sub(tf.mul(g, dp), tf.mul(h, tf.mul(tf.sign(sx), dq)));
          return [dx, da, db];
        }),
    };
  });
  return f(x, a, b);
}

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

const PAUOptions = z.strictObject({
  /** Cap on the joint L2 norm of all PAU coefficient gradients per step; 0 disables clipping. */
  grad_clip: z.number().min(0).max(1e6).default(5),
});

export const pauEntry: ActivationEntry<z.infer<typeof PAUOptions>> = {
  name: 'pau',
  description: 'PAU: safe Padé unit P5(x)/Q4(x) (version A), 10 coefficients per layer, leaky-ReLU init, gradient-norm clipping',
  options: PAUOptions,
  learnable: true,
  create: (o, site) => new PAULayer({ name: site.name, gradClip: o.grad_clip }),
};
