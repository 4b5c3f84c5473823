/**
 * `pwlu/layers`: the layer classes a tfjs export of a pwlu model names (`pwlu export --format tfjs`), for
 * `tf.loadLayersModel` in a browser or any tfjs program. Inference only, written with tfjs-core ops alone, so
 * every backend (WebGL, WebGPU, wasm, cpu, node) runs them; imports tfjs-core and tfjs-layers and nothing of
 * Node. Each class has its training class's name, config keys and weights (names, shapes and order), so the
 * weights a run trained load as they are. Importing the module registers them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { fixedFunction } from './functions.js';

type Args = Record<string, unknown> & { name?: string };
type Shape = (number | null)[];

function inputOf(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

function shapeOf(s: tfl.Shape | tfl.Shape[]): Shape {
  return (Array.isArray(s[0]) ? s[0] : s) as Shape;
}

function channels(layer: tfl.layers.Layer, s: Shape): number {
  const c = s[s.length - 1];
  if (c == null) throw new Error(`${layer.name}: the channel dimension must be known`);
  return c;
}

/** A per-channel vector shaped to broadcast over the last axis of x. */
function lastAxis(v: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.reshape(v, [...x.shape.slice(0, -1).map(() => 1), -1]);
}

/** Base of the inference classes: keeps the training class's config so a model re-serialises unchanged. */
abstract class InferenceLayer extends tfl.layers.Layer {
  protected readonly args: Args;
  constructor(args: Args) {
    super({ name: args.name });
    this.args = args;
  }
  override getConfig(): tf.serialization.ConfigDict {
    const { name: _name, ...rest } = this.args;
    return { ...super.getConfig(), ...(rest as tf.serialization.ConfigDict) };
  }
}

class BatchNorm extends InferenceLayer {
  static className = 'PwluBatchNorm';
  private w: tfl.LayerVariable[] = [];
  override build(s: tfl.Shape | tfl.Shape[]): void {
    const c = channels(this, shapeOf(s));
    this.w = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n, i) => this.addWeight(n, [c], 'float32', tfl.initializers.zeros(), undefined, i < 2));
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [gamma, beta, mean, variance] = this.w.map((v) => v.read());
    return tf.tidy(() => tf.batchNorm(inputOf(inputs), mean!, variance!, beta, gamma, Number(this.args.epsilon ?? 1e-5)));
  }
}

class FixedActivation extends InferenceLayer {
  static className = 'PwluFixedActivation';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => fixedFunction(String(this.args.kind), inputOf(inputs)));
  }
}

class SeededDropout extends InferenceLayer {
  static className = 'PwluSeededDropout';
  override build(): void {
    this.addWeight('step', [], 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.clone(inputOf(inputs));
  }
}

class TorchMaxPool extends InferenceLayer {
  static className = 'PwluTorchMaxPool';
  override computeOutputShape(s: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [n, h, w, c] = shapeOf(s);
    const k = Number(this.args.poolSize);
    const st = Number(this.args.strides);
    const p = Math.floor(k / 2);
    const side = (v: number | null) => (v == null ? null : Math.floor((v + 2 * p - k) / st) + 1);
    return [n ?? null, side(h ?? null), side(w ?? null), c ?? null];
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const k = Number(this.args.poolSize);
    const p = Math.floor(k / 2);
    return tf.tidy(() => {
      const x = inputOf(inputs) as tf.Tensor4D;
      const padded = p > 0 ? tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], -Infinity) : x;
      return tf.maxPool(padded, k, Number(this.args.strides), 'valid');
    });
  }
}

class ReLU extends InferenceLayer {
  static className = 'PwluReLU';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.relu(inputOf(inputs));
  }
}

class HardSwish extends InferenceLayer {
  static className = 'PwluHardSwish';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => fixedFunction('hardswish', inputOf(inputs)));
  }
}

/** x * sigmoid(beta x), beta learned when the run trained it. */
class Swish extends InferenceLayer {
  static className = 'PwluSwish';
  private beta: tfl.LayerVariable | null = null;
  override build(): void {
    if (this.args.trainableBeta) this.beta = this.addWeight('beta', [], 'float32', tfl.initializers.ones());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = inputOf(inputs);
    return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, this.beta ? this.beta.read() : Number(this.args.beta ?? 1)))));
  }
}

class PReLU extends InferenceLayer {
  static className = 'PwluPReLU';
  private alpha!: tfl.LayerVariable;
  override build(s: tfl.Shape | tfl.Shape[]): void {
    this.alpha = this.addWeight('alpha', [channels(this, shapeOf(s))], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = inputOf(inputs);
    return tf.tidy(() => tf.add(tf.relu(x), tf.mul(lastAxis(this.alpha.read(), x), tf.minimum(x, 0))));
  }
}

/** APL: max(0, x) + sum_s a_s max(0, b_s - x), per channel. */
class APL extends InferenceLayer {
  static className = 'PwluAPL';
  private a!: tfl.LayerVariable;
  private b!: tfl.LayerVariable;
  override build(s: tfl.Shape | tfl.Shape[]): void {
    const c = channels(this, shapeOf(s));
    const hinges = Number(this.args.s ?? 2);
    this.a = this.addWeight('a', [hinges, c], 'float32', tfl.initializers.zeros());
    this.b = this.addWeight('b', [hinges, c], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = inputOf(inputs);
    return tf.tidy(() => {
      const a = tf.unstack(this.a.read());
      const b = tf.unstack(this.b.read());
      return a.reduce((y, as, i) => tf.add(y, tf.mul(lastAxis(as, x), tf.relu(tf.sub(lastAxis(b[i]!, x), x)))), tf.relu(x));
    });
  }
}

/** PAU (safe, version A): P5(x) / (1 + |b1||x| + … + |b4||x|^4), by Horner's rule. */
class PAU extends InferenceLayer {
  static className = 'PwluPAU';
  private a!: tfl.LayerVariable;
  private b!: tfl.LayerVariable;
  override build(): void {
    this.a = this.addWeight('numerator', [6], 'float32', tfl.initializers.zeros());
    this.b = this.addWeight('denominator', [4], 'float32', tfl.initializers.zeros());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = inputOf(inputs);
    return tf.tidy(() => {
      const a = tf.unstack(this.a.read());
      const b = tf.unstack(tf.abs(this.b.read()));
      const ax = tf.abs(x);
      let p: tf.Tensor = a[5]!;
      for (let j = 4; j >= 0; j--) p = tf.add(tf.mul(p, x), a[j]!);
      let q: tf.Tensor = b[3]!;
      for (let k = 2; k >= 0; k--) q = tf.add(tf.mul(q, ax), b[k]!);
      return tf.div(p, tf.add(tf.mul(q, ax), 1));
    });
  }
}

/** FReLU: max(x, BN(depthwise 3x3 conv(x))). */
class FReLU extends InferenceLayer {
  static className = 'PwluFReLU';
  private w: tfl.LayerVariable[] = [];
  override build(s: tfl.Shape | tfl.Shape[]): void {
    const c = channels(this, shapeOf(s));
    this.w = [
      this.addWeight('kernel', [3, 3, c, 1], 'float32', tfl.initializers.zeros()),
      ...['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n, i) => this.addWeight(n, [c], 'float32', tfl.initializers.zeros(), undefined, i < 2)),
    ];
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = inputOf(inputs) as tf.Tensor4D;
    const [kernel, gamma, beta, mean, variance] = this.w.map((v) => v.read());
    return tf.tidy(() => {
      const t = tf.depthwiseConv2d(x, kernel as tf.Tensor4D, 1, 'same');
      return tf.maximum(x, tf.batchNorm(t, mean!, variance!, beta, gamma, Number(this.args.epsilon ?? 1e-5)));
    });
  }
}

/**
 * PWLU at inference: the segment (left of BL, one of N intervals, right of BR) picks a slope and an intercept,
 * out = S x + O, as the training kernels' table form (src/ops/pwlu.ts); channel-wise: one table per channel.
 */
class PWLU extends InferenceLayer {
  static className = 'PwluPWLU';
  private w: tfl.LayerVariable[] = [];
  private instances = 1;
  override build(s: tfl.Shape | tfl.Shape[]): void {
    const n = Number(this.args.n ?? 16);
    const p = this.args.granularity === 'channel' ? channels(this, shapeOf(s)) : 1;
    this.instances = p;
    const zeros = tfl.initializers.zeros();
    this.w = [
      this.addWeight('heights', [p, n + 1], 'float32', zeros),
      ...['kl', 'kr', 'bl', 'br'].map((k) => this.addWeight(k, [p], 'float32', zeros)),
      this.addWeight('running_mean', [p], 'float32', zeros, undefined, false),
      this.addWeight('running_std', [p], 'float32', zeros, undefined, false),
      this.addWeight('stat_steps', [1], 'float32', zeros, undefined, false),
      this.addWeight('realigned', [1], 'float32', zeros, undefined, false),
    ];
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = inputOf(inputs);
    const n = Number(this.args.n ?? 16);
    const p = this.instances;
    const [y, kl, kr, bl, br] = this.w.slice(0, 5).map((v) => v.read());
    return tf.tidy(() => {
      const col = (v: tf.Tensor) => tf.reshape(v, [p, 1]);
      const d = tf.div(tf.sub(br!, bl!), n); // [P]
      const lo = tf.slice(y!, [0, 0], [p, n]); // Y_0..Y_{N-1}
      const k = tf.div(tf.sub(tf.slice(y!, [0, 1], [p, n]), lo), col(d)); // [P, N]
      const breaks = tf.add(col(bl!), tf.mul(col(d), tf.reshape(tf.range(0, n), [1, n]))); // B_i
      const slopes = tf.concat([col(kl!), k, col(kr!)], 1); // [P, N+2]
      const offsets = tf.concat([tf.sub(tf.slice(y!, [0, 0], [p, 1]), col(tf.mul(kl!, bl!))), tf.sub(lo, tf.mul(k, breaks)), tf.sub(tf.slice(y!, [0, n], [p, 1]), col(tf.mul(kr!, br!)))], 1);
      const per = (v: tf.Tensor) => (p === 1 ? tf.reshape(v, []) : lastAxis(v, x));
      const u = tf.div(tf.sub(x, per(bl!)), per(d));
      let seg = tf.cast(tf.clipByValue(tf.add(tf.floor(u), 1), 0, n + 1), 'int32');
      if (p > 1) seg = tf.add(seg, lastAxis(tf.tensor1d(Array.from({ length: p }, (_, c) => c * (n + 2)), 'int32'), x));
      const s = tf.gather(tf.reshape(slopes, [-1]), seg);
      const o = tf.gather(tf.reshape(offsets, [-1]), seg);
      return tf.add(tf.mul(s, x), o);
    });
  }
}

/** Every class this module registers, by the class name a model.json uses. */
export const LAYER_CLASSES = [BatchNorm, FixedActivation, SeededDropout, TorchMaxPool, ReLU, HardSwish, Swish, PReLU, APL, PAU, FReLU, PWLU];
for (const c of LAYER_CLASSES) tf.serialization.registerClass(c);
