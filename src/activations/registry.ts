import { z } from 'zod';
import type { ActivationConfig, PwluConfig } from '../config/schema.js';
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

/** Every activation pwlu offers. Adding one is a file in this folder plus one line here. */
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

/** The activation's own options: the `activation` section without `name` and `sites`. */
export function activationOptions(cfg: ActivationConfig): Record<string, unknown> {
  const { name: _name, sites: _sites, ...rest } = cfg;
  return rest;
}

/** Validation problems of the activation section, for the config loader's error report. */
export function checkActivationConfig(cfg: ActivationConfig): { path: string[]; message: string }[] {
  const entry = REGISTRY.get(cfg.name);
  if (!entry) {
    return [{ path: ['activation', 'name'], message: `unknown activation '${cfg.name}'; choose one of: ${activationNames().join(', ')}` }];
  }
  const parsed = entry.options.safeParse(activationOptions(cfg));
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => {
    const keys = 'keys' in issue && Array.isArray(issue.keys) ? (issue.keys as string[]) : [];
    const path = ['activation', ...issue.path.map(String), ...keys.slice(0, 1)];
    if (issue.code === 'unrecognized_keys') {
      const valid = entry.options instanceof z.ZodObject ? Object.keys(entry.options.shape) : [];
      const choices = valid.length ? `valid options: ${valid.join(', ')}` : 'it takes no options';
      return { path, message: `unknown option ${keys.map((k) => `'${k}'`).join(', ')} for activation '${cfg.name}'; ${choices}` };
    }
    return { path, message: issue.message };
  });
}

/** Builds the per-site factory that models receive as a constructor argument. */
export function makeActivationFactory(cfg: ActivationConfig, pwlu: PwluConfig, seed: number): ActivationFactory {
  const entry = REGISTRY.get(cfg.name);
  if (!entry) throw new Error(`unknown activation '${cfg.name}'`);
  const options = entry.options.parse(activationOptions(cfg));
  let index = 0;
  return (site) => entry.create(options, site, { pwlu, seed: deriveSeed(seed, 0x5a17e, index++) });
}
