/**
 * Training layers without learned weights, with PyTorch semantics: the fixed activation functions of the reference
 * architectures, seeded dropout and max pooling. Generic network layers (src/nn/), used by src/models/ and available to
 * activations; not the published inference layers (src/layers/) nor the ONNX forms (src/export/onnx/).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hardswish } from '../ops/hardswish.js';
import { swish } from '../ops/swish.js';
import { fixedFunction } from '../layers/functions.js';
import { deriveSeed } from '../util/rng.js';

/** The fixed elementwise functions the reference architectures use (PyTorch definitions). */
export type FixedKind = 'relu' | 'relu6' | 'hardswish' | 'silu' | 'sigmoid' | 'hardsigmoid';

/**
 * Applies one fixed function; hard-swish / hard-sigmoid as torch.nn.Hardswish / Hardsigmoid (x/6 + 1/2, not Keras' 0.2x).
 * SiLU and hard-swish run as fused ops with hand-written gradients (src/ops/swish.ts, hardswish.ts); the others as
 * pwlu/layers computes them.
 */
export function applyFixed(kind: FixedKind, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => (kind === 'silu' ? swish(x, 1) : kind === 'hardswish' ? hardswish(x) : fixedFunction(kind, x)));
}

interface FixedArgs {
  name?: string;
  kind: FixedKind;
  /**
   * 'configured': this layer *is* the configured activation at a site (reference builds), so it
   * counts as an activation layer (`isActivationLayer`); 'kept': a site that `sites: default`
   * keeps at the reference function (MobileNet-V3's ReLU sites); 'gate': an SE gate, not a site.
   */
  role: 'configured' | 'kept' | 'gate';
}

/**
 * A parameter-free reference function: SE gates, the sites `sites: default` keeps (MobileNet-V3's
 * ReLU sites), and every site of a reference build (`referenceActivation`).
 */
export class FixedActivation extends tfl.layers.Layer {
  static className = 'PwluFixedActivation';
  readonly kind: FixedKind;
  readonly role: 'configured' | 'kept' | 'gate';
  readonly isActivation: boolean;
  /** True at activation sites (configured or kept); false for gates. */
  readonly isSite: boolean;
  /** ReLU / ReLU6 can run as a fused convolution's epilogue at inference (src/models/infer.ts). */
  readonly epilogue: 'relu' | 'relu6' | undefined;

  constructor(args: FixedArgs) {
    super({ name: args.name });
    this.kind = args.kind;
    this.role = args.role;
    this.isActivation = args.role === 'configured';
    this.isSite = args.role !== 'gate';
    this.epilogue = args.kind === 'relu' || args.kind === 'relu6' ? args.kind : undefined;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return applyFixed(this.kind, Array.isArray(inputs) ? inputs[0] : inputs);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kind: this.kind, role: this.role };
  }
}
tf.serialization.registerClass(FixedActivation);

interface DropArgs {
  name?: string;
  rate: number;
  /** 'element': classic dropout; 'row': stochastic depth (torchvision StochasticDepth mode "row"), one draw per sample. */
  mode: 'element' | 'row';
  seed: number;
}

/**
 * Seeded, resumable dropout / stochastic depth. tfjs' Dropout draws from an unseeded stream, which
 * breaks bit-exact resume; here every training call draws its mask from
 * `deriveSeed(seed, step)`, where `step` is a non-trainable weight (saved in checkpoints with the
 * other weights by `modelTensors`) counting the training calls. Inference is the identity.
 * The counter is float32: exact up to 2^24 training calls per layer.
 */
export class SeededDropout extends tfl.layers.Layer {
  static className = 'PwluSeededDropout';
  readonly rate: number;
  readonly mode: 'element' | 'row';
  readonly seed: number;
  private step!: tfl.LayerVariable;

  constructor(args: DropArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`${args.name}: dropout rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.mode = args.mode;
    this.seed = args.seed;
  }

  override build(): void {
    this.step = this.addWeight('step', [], 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean }): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (!kwargs.training || this.rate === 0) return x;
    const step = this.step.read().dataSync()[0];
    tf.tidy(() => {
      this.step.write(tf.scalar(step + 1));
    });
    return tf.tidy(() => {
      const keep = 1 - this.rate;
      const shape = this.mode === 'row' ? [x.shape[0], ...x.shape.slice(1).map(() => 1)] : x.shape;
      const u = tf.randomUniform(shape, 0, 1, 'float32', deriveSeed(this.seed, step));
      const mask = tf.div(tf.cast(tf.less(u, keep), 'float32'), keep);
      return tf.mul(x, mask);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, mode: this.mode, seed: this.seed };
  }
}
tf.serialization.registerClass(SeededDropout);

interface MaxPoolArgs {
  name?: string;
  poolSize: number;
  strides: number;
}

/**
 * Max pooling with PyTorch's padding (k // 2 each side, padded with -inf, so that negative
 * activations such as Swish's are never beaten by a zero pad), as in ResNet's stem.
 */
export class TorchMaxPool extends tfl.layers.Layer {
  static className = 'PwluTorchMaxPool';
  readonly poolSize: number;
  readonly strides: number;

  constructor(args: MaxPoolArgs) {
    super({ name: args.name });
    this.poolSize = args.poolSize;
    this.strides = args.strides;
  }

  private outSide(n: number | null): number | null {
    const p = Math.floor(this.poolSize / 2);
    return n == null ? null : Math.floor((n + 2 * p - this.poolSize) / this.strides) + 1;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [s[0], this.outSide(s[1]), this.outSide(s[2]), s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const p = Math.floor(this.poolSize / 2);
    return tf.tidy(() => {
      const padded =
        p > 0
          ? tf.pad(
              x,
              [
                [0, 0],
                [p, p],
                [p, p],
                [0, 0],
              ],
              -Infinity,
            )
          : x;
      return tf.maxPool(padded, this.poolSize, this.strides, 'valid');
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides };
  }
}
tf.serialization.registerClass(TorchMaxPool);
