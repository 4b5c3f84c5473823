import type { ActivationConfig } from '../config/schema.js';
import { deriveSeed } from '../util/rng.js';
import { apl } from './apl.js';
import { frelu } from './frelu.js';
import { hardswish } from './hardswish.js';
import { pauEntry } from './pau.js';
import { prelu } from './prelu.js';
import { pwluEntry } from './pwlu.js';
import { relu } from './relu.js';
import { swish } from './swish.js';
import type { ActivationEntry, ActivationFactory } from './types.js';

/** Every activation pwlu offers. Adding one is a file in this folder, its options schema in ./options.ts, and one line here. */
const ENTRIES: ActivationEntry[] = [relu, swish, hardswish, prelu, apl, pauEntry, frelu, pwluEntry] as unknown as ActivationEntry[];

const REGISTRY = new Map<string, ActivationEntry>(ENTRIES.map((e) => [e.name, e]));

/** Registered activation names, in display order. */
export function activationNames(): string[] {
  return [...REGISTRY.keys()];
}

/** Looks an activation up by name; undefined when unknown. */
export function getActivation(name: string): ActivationEntry | undefined {
  return REGISTRY.get(name);
}

/** The chosen activation's options section; the config schema fills it with that activation's defaults when absent. */
function chosenOptions(cfg: ActivationConfig): unknown {
  const sections: Partial<Record<string, unknown>> = cfg;
  return sections[cfg.name] ?? {};
}

/** An unknown activation name, for the config loader's error report (the schema checks each options section). */
export function checkActivationName(cfg: ActivationConfig): { path: string[]; message: string }[] {
  if (REGISTRY.has(cfg.name)) return [];
  return [{ path: ['activation', 'name'], message: `unknown activation '${cfg.name}'; choose one of: ${activationNames().join(', ')}` }];
}

/** Builds the per-site factory that models receive as a constructor argument. */
export function makeActivationFactory(cfg: ActivationConfig, seed: number): ActivationFactory {
  const entry = REGISTRY.get(cfg.name);
  if (!entry) throw new Error(`unknown activation '${cfg.name}'`);
  const options = entry.options.parse(chosenOptions(cfg));
  let index = 0;
  return (site) => (entry.spatialOnly && site.rank !== 4 ? null : entry.create(options, site, { seed: deriveSeed(seed, 0x5a17e, index++) }));
}
