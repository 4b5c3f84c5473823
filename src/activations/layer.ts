/**
 * The training-side layer every activation's layer class extends: options, weights, config and the activations.json
 * record all come from the activation's spec (src/activations/spec.ts), so the training file holds only what
 * training adds: the fused op call and the training hooks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { z } from 'zod';
import type { ActivationSpec, ArrayWeights, OptionsSchema, SpecSite, TensorWeights, WeightInit } from './spec.js';
import type { ActivationLayer } from './types.js';

/** tfjs-layers' initialiser class (not exported under a name of its own). */
type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** What a layer is constructed from: tfjs-layers' base config, the spec's options (snake_case) and the init seed. */
export type SpecLayerConfig = Record<string, unknown> & { name?: string; seed?: number };

/** Plain-object view of a zod object schema's keys (the option names), for picking options out of a layer config. */
function optionKeys(spec: ActivationSpec): string[] {
  const shape = (spec.options as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

/** `initBound` → `init_bound`: how exports written before the specs named options in their layer config. */
function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * The spec's parsed options from a layer config: the spec's keys, read under their own name or (for model files
 * written before the specs) their camelCase name; every default comes from the spec's schema.
 */
export function optionsFromConfig<S extends OptionsSchema>(spec: ActivationSpec<string, S, unknown>, config: Record<string, unknown>): z.output<S> {
  const picked: Record<string, unknown> = {};
  const keys = new Set(optionKeys(spec));
  for (const [k, v] of Object.entries(config)) {
    const key = keys.has(k) ? k : snakeCase(k);
    if (keys.has(key) && v !== undefined && picked[key] === undefined) picked[key] = v;
  }
  const parsed = spec.options.safeParse(picked);
  if (!parsed.success)
    throw new Error(
      `${typeof config.name === 'string' ? config.name : spec.className}: invalid ${spec.name} options ${JSON.stringify(picked)}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

/** The site an input shape describes: channels (last axis) and rank. */
export function siteOf(inputShape: tfl.Shape | tfl.Shape[]): SpecSite {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
  return { channels: shape[shape.length - 1] ?? null, rank: shape.length };
}

/** tfjs-layers' initialiser for a spec's init (computed values start at zero and are written right after). */
function initializer(init: WeightInit, seed: number): Initializer {
  if ('fill' in init)
    return init.fill === 0 ? tfl.initializers.zeros() : init.fill === 1 ? tfl.initializers.ones() : tfl.initializers.constant({ value: init.fill });
  if ('varianceScaling' in init) return tfl.initializers.varianceScaling({ ...init.varianceScaling, seed });
  return tfl.initializers.zeros();
}

/**
 * Adds a spec's weights to a layer, in the spec's order, and returns them by name: shared by the training layers
 * and `pwlu/layers` (which passes `initialise: false`: its weights are loaded, not initialised).
 */
export function addSpecWeights<S extends OptionsSchema>(
  layer: tfl.layers.Layer,
  spec: ActivationSpec<string, S, unknown>,
  options: z.output<S>,
  inputShape: tfl.Shape | tfl.Shape[],
  seed: number,
  initialise: boolean,
): Map<string, tfl.LayerVariable> {
  const site = siteOf(inputShape);
  const defs = (() => {
    try {
      return spec.weights(options, site, seed);
    } catch (e) {
      throw new Error(`${layer.name}: ${(e as Error).message}`, { cause: e });
    }
  })();
  const out = new Map<string, tfl.LayerVariable>();
  for (const d of defs) {
    const add = layer as unknown as { addWeight: (n: string, s: number[], dt: 'float32', i: Initializer, r: undefined, t: boolean) => tfl.LayerVariable };
    const v = add.addWeight(d.name, d.shape, 'float32', initialise ? initializer(d.init, seed) : tfl.initializers.zeros(), undefined, d.trainable);
    if (initialise && 'values' in d.init) {
      const values = d.init.values;
      tf.tidy(() => {
        v.write(tf.tensor(values, d.shape));
      });
    }
    out.set(d.name, v);
  }
  return out;
}

/** Reads weights by name as tensors (inference) ... */
export function tensorWeights(w: ReadonlyMap<string, tfl.LayerVariable>): TensorWeights {
  return Object.fromEntries([...w].map(([k, v]) => [k, v.read()]));
}

/** ... and as numbers (export, describe). */
export function arrayWeights(w: ReadonlyMap<string, tfl.LayerVariable>): ArrayWeights {
  return Object.fromEntries([...w].map(([k, v]) => [k, v.read().dataSync() as Float32Array]));
}

/** A layer built from a spec (training or `pwlu/layers`): what the exporter and the spec test read. */
export interface SpecBacked {
  readonly spec: ActivationSpec;
  readonly options: Record<string, unknown>;
  /** The weights by name, in the spec's order. */
  namedWeights(): ReadonlyMap<string, tfl.LayerVariable>;
}

/** True for layers built from an activation spec. */
export function isSpecBacked(layer: unknown): layer is SpecBacked {
  return typeof layer === 'object' && layer !== null && typeof (layer as Partial<SpecBacked>).namedWeights === 'function' && 'spec' in layer;
}

/**
 * The base of every activation's training layer. Subclasses set `static className = spec.className`, pass their
 * spec to super, and implement `call` with their fused op (reading `this.weight(name)`); hooks are optional methods.
 */
export abstract class SpecLayer<S extends OptionsSchema> extends tfl.layers.Layer implements ActivationLayer, SpecBacked {
  readonly isActivation = true;
  readonly options: z.output<S>;
  /** Seed of the weights' initialisers (deterministic per site). */
  readonly seed: number;
  private w = new Map<string, tfl.LayerVariable>();

  constructor(
    readonly spec: ActivationSpec<string, S, unknown>,
    config: SpecLayerConfig = {},
  ) {
    super({ name: config.name, trainable: config.trainable as boolean | undefined });
    this.options = optionsFromConfig(spec, config);
    this.seed = typeof config.seed === 'number' ? config.seed : 0;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    this.w = addSpecWeights(this, this.spec, this.options, inputShape, this.seed, true);
    this.built = true;
  }

  namedWeights(): ReadonlyMap<string, tfl.LayerVariable> {
    return this.w;
  }

  /** One weight by its spec name. */
  protected weight(name: string): tfl.LayerVariable {
    const v = this.w.get(name);
    if (!v) throw new Error(`${this.name}: no weight '${name}' (built: ${this.built})`);
    return v;
  }

  /** The learned parameters for activations.json (the spec's typed record), when the spec has one. */
  describe(): Record<string, unknown> | undefined {
    const record = this.spec.describe?.(arrayWeights(this.w), this.options);
    return record === undefined ? undefined : { type: this.spec.name, ...(record as object) };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.options as tf.serialization.ConfigDict), seed: this.seed };
  }
}
