import type * as tfl from '@tensorflow/tfjs-layers';
import { deriveSeed } from '../util/rng.js';
import { APLLayer } from './apl.js';
import { FReLULayer } from './frelu.js';
import { HardSwishLayer } from './hardswish.js';
import type { SpecLayerConfig } from './layer.js';
import { NonUniformPWLULayer } from './npwlu.js';
import { PAULayer } from './pau.js';
import { PReLULayer } from './prelu.js';
import { PWLULayer } from './pwlu.js';
import { ReLULayer } from './relu.js';
import { ACTIVATION_SPECS, specOf, type ActivationName } from './specs/index.js';
import { SwishLayer } from './swish.js';
import type { ActivationFactory, ActivationSection } from './types.js';

/**
 * Each activation's training layer, by spec name. The specs (./specs/index.ts) are the registry; this map only pairs
 * each with its training class, and its type makes a spec without a training layer a compile error.
 */
const TRAINING_LAYERS: { readonly [N in ActivationName]: new (config: SpecLayerConfig) => tfl.layers.Layer } = {
  relu: ReLULayer,
  swish: SwishLayer,
  hardswish: HardSwishLayer,
  prelu: PReLULayer,
  apl: APLLayer,
  pau: PAULayer,
  frelu: FReLULayer,
  pwlu: PWLULayer,
  npwlu: NonUniformPWLULayer,
};

/** Registered activation names, in display order. */
export function activationNames(): string[] {
  return ACTIVATION_SPECS.map((s) => s.name);
}

/** The chosen activation's options section; the config schema fills it with that activation's defaults when absent. */
function chosenOptions(cfg: ActivationSection): unknown {
  const sections: Partial<Record<string, unknown>> = cfg;
  return sections[cfg.name] ?? {};
}

/** An unknown activation name, for the config loader's error report (the schema checks each options section). */
export function checkActivationName(cfg: ActivationSection): { path: string[]; message: string }[] {
  if (specOf(cfg.name)) return [];
  return [{ path: ['activation', 'name'], message: `unknown activation '${cfg.name}'; choose one of: ${activationNames().join(', ')}` }];
}

/** Builds the per-site factory that models receive as a constructor argument. */
export function makeActivationFactory(cfg: ActivationSection, seed: number): ActivationFactory {
  const spec = specOf(cfg.name);
  if (!spec) throw new Error(`unknown activation '${cfg.name}'`);
  const Layer = TRAINING_LAYERS[spec.name];
  const options = spec.options.parse(chosenOptions(cfg)) as Record<string, unknown>;
  let index = 0;
  return (site) => (spec.spatialOnly && site.rank !== 4 ? null : new Layer({ name: site.name, ...options, seed: deriveSeed(seed, 0x5a17e, index++) }));
}
