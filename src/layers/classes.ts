/**
 * The layer classes of `pwlu/layers`, which a tfjs export of a pwlu model names (`pwlu export --format tfjs`), for
 * `tf.loadLayersModel` in a browser or any tfjs program. Inference only, written with tfjs-core ops alone, so
 * every backend (WebGL, WebGPU, wasm, cpu, node) runs them; imports tfjs-core and tfjs-layers and nothing of
 * Node. The activations' classes are derived from their specs (src/activations/specs/), so each has its training
 * class's name, config keys and weights (names, shapes and order) and the weights a run trained load as they are.
 * Defining them registers nothing: ./index.ts does.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { addSpecWeights, optionsFromConfig, tensorWeights, type SpecBacked } from '../activations/layer.js';
import type { ActivationSpec } from '../activations/spec.js';
import { ACTIVATION_SPECS, type AnyActivationSpec } from '../activations/specs/index.js';
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
      return tf.maxPool(padded, k, Number(this.args.strides), 'valid');
    });
  }
}

/**
 * The inference class of an activation, derived from its spec: the training class's name, config and weights
 * (names, shapes and order, from `spec.weights`), computing `spec.infer`.
 */
export function activationClass(spec: AnyActivationSpec) {
  const s = spec as ActivationSpec;
  return class extends InferenceLayer implements SpecBacked {
    static className = s.className;
    readonly spec = s;
    readonly options: Record<string, unknown>;
    private w = new Map<string, tfl.LayerVariable>();
    constructor(args: Args) {
      super(args);
      this.options = optionsFromConfig(s, args);
    }
    override build(shape: tfl.Shape | tfl.Shape[]): void {
      this.w = addSpecWeights(this, s, this.options, shape, 0, false);
      this.built = true;
    }
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      return tf.tidy(() => s.infer(inputOf(inputs), tensorWeights(this.w), this.options));
    }
    namedWeights(): ReadonlyMap<string, tfl.LayerVariable> {
      return this.w;
    }
  };
}

/** Every class `pwlu/layers` registers, by the class name a model.json uses. */
export const LAYER_CLASSES = [BatchNorm, FixedActivation, SeededDropout, TorchMaxPool, ...ACTIVATION_SPECS.map(activationClass)];
