import type * as tfl from '@tensorflow/tfjs-layers';

/** One place in a network where the activation is applied; each site gets its own instance. */
export interface ActivationSite {
  /** Systematic name: stage, block, role (e.g. `stage2.block1.act1`). */
  name: string;
  /** Channels at this site (per-channel parameters need it). */
  channels: number;
  /** Rank of the site's input, batch included: 4 for an NHWC feature map, 2 for a classifier's features. */
  rank: number;
}

/**
 * What a model receives instead of an activation name: call it once per site. null: the activation does not
 * apply at this site (FReLU needs a feature map, MobileNet-V3's classifier has a vector); the site keeps its
 * reference function and is not counted as replaced.
 */
export type ActivationFactory = (site: ActivationSite) => tfl.layers.Layer | null;

/**
 * The config's `activation` section as the registry reads it: the chosen name plus one options section per
 * activation (by name). Structural, so activations (below config) never import the config schema; the schema's
 * ActivationConfig is one.
 */
export type ActivationSection = { readonly name: string } & Readonly<Record<string, unknown>>;

/** Everything besides its own options that an activation may need to build an instance. */
export interface ActivationContext {
  /** Seed for this instance's initialisers (deterministic per site). */
  seed: number;
}

/** Marks layers whose weights are activation parameters, for the no-decay group and reports. */
export interface ActivationLayer {
  readonly isActivation: true;
}

/**
 * An activation layer whose inference output is a fixed function that fused convolutions can apply in
 * their epilogue (src/models/infer.ts folds conv + batch norm + this into one kernel).
 */
export interface EpilogueActivation {
  readonly epilogue: 'relu' | 'relu6';
}

/** True for layers created by the activation registry. */
export function isActivationLayer(layer: unknown): layer is ActivationLayer {
  return typeof layer === 'object' && layer !== null && (layer as { isActivation?: unknown }).isActivation === true;
}
