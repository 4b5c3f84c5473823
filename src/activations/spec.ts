/**
 * The contract of an activation: one side-effect-free `ActivationSpec` per activation (tfjs-core and zod only, no
 * Node, no tfjs-layers), from which every consumer derives what it needs:
 *
 *  - training (`src/activations/<name>.ts`): the layer's options and their defaults, its weights (names, shapes, init,
 *    trainable), its config and its activations.json record; the training file adds only the fused op call and the
 *    training hooks (two-phase method, penalties, clipping);
 *  - inference in any tfjs program (`pwlu/layers`): one generic layer class per spec, computing `infer`;
 *  - ONNX export (`src/export/onnx`): `onnx`, reading the weights (never the describe record);
 *  - reports: the typed `describe` record and its schema, the display order (the spec list's) and colour.
 *
 * test/activations/spec-consistency.test.ts checks training layer = inference layer = ONNX for every spec.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import type { OnnxGraph, OnnxValue } from './onnx.js';

/** How a weight starts: a constant, values computed from the options and seed, or tfjs-layers' seeded variance scaling. */
export type WeightInit =
  | { fill: number }
  | { values: Float32Array }
  | { varianceScaling: { scale: number; mode: 'fanIn' | 'fanOut' | 'fanAvg'; distribution: 'normal' | 'uniform' | 'truncatedNormal' } };

/** One weight of an activation: the layout every consumer (training, inference, export, checkpoints) shares. */
export interface WeightDef {
  name: string;
  shape: number[];
  init: WeightInit;
  /** false: state that checkpoints carry but the optimizer never updates (running statistics, flags). */
  trainable: boolean;
}

/** Where an instance sits: its channel count (null when the input's last axis is unknown) and input rank. */
export interface SpecSite {
  channels: number | null;
  rank: number;
}

/** Weights as tensors, by name (inference). */
export type TensorWeights = Readonly<Record<string, tf.Tensor>>;

/** Weights as numbers, by name, row-major (export, describe). */
export type ArrayWeights = Readonly<Record<string, Float32Array>>;

/** An activation's options schema: a strict zod object whose defaults are the only ones. */
export type OptionsSchema = z.ZodType<Record<string, unknown>>;

/**
 * One activation, defined once. `S` is its options schema, `D` its activations.json record (without the `name` and
 * `type` keys every record gets).
 */
export interface ActivationSpec<N extends string = string, S extends OptionsSchema = OptionsSchema, D = unknown> {
  /** Registry key, config value (`activation.name`) and report label. */
  readonly name: N;
  /** The tfjs class name its layers serialise under (training and `pwlu/layers` alike). */
  readonly className: string;
  /** One line for `pwlu train --help` and `pwlu models`. */
  readonly description: string;
  /** The `activation.<name>` config section: a strict zod object holding the only defaults. */
  readonly options: S;
  /** Defined on feature maps only: sites of another rank keep their reference function (FReLU). */
  readonly spatialOnly?: boolean;
  /** Report colour (the display order is the spec list's order). */
  readonly color: string;
  /** The weights of one instance, in order. */
  weights(options: z.output<S>, site: SpecSite, seed: number): WeightDef[];
  /** The inference function in tfjs-core ops, x in NHWC (or [N, C]); what `pwlu/layers` runs on every backend. */
  infer(x: tf.Tensor, w: TensorWeights, options: z.output<S>): tf.Tensor;
  /** The same function in standard ONNX operators, x in NCHW (or [N, C]); returns the output value's name (same rank). */
  onnx(g: OnnxGraph, x: OnnxValue, w: ArrayWeights, options: z.output<S>, prefix: string): string;
  /** The learned parameters for activations.json and reports; absent: a parameter-free activation. */
  describe?(w: ArrayWeights, options: z.output<S>): D;
  /** Validates a describe record read back from disk (older files included), for readers such as the report. */
  readonly describeSchema?: z.ZodType<D>;
}

/** Checks a spec's types at its definition (the identity at run time). */
export function defineActivation<N extends string, S extends OptionsSchema, D>(spec: ActivationSpec<N, S, D>): ActivationSpec<N, S, D> {
  return spec;
}

/** The channel count a per-channel weight needs, or a clear error naming the layer when the input's last axis is unknown. */
export function requireChannels(site: SpecSite, what: string): number {
  if (site.channels == null) throw new Error(`${what} needs a known channel dimension`);
  return site.channels;
}
