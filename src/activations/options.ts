/**
 * Each activation's options schema, by registry name, as the config schema validates them (the `activation.<name>`
 * sections): derived from the specs (src/activations/specs/), which hold the only defaults.
 */
import type { z } from 'zod';
import { ACTIVATION_SPECS, type ActivationName, type AnyActivationSpec } from './specs/index.js';

export type { ActivationName } from './specs/index.js';

/** The options schema of every activation, by registry name. */
export const ACTIVATION_OPTIONS = Object.fromEntries(ACTIVATION_SPECS.map((s) => [s.name, s.options])) as {
  [S in AnyActivationSpec as S['name']]: S['options'];
};

/** The parsed options of one activation, as its layer receives them. */
export type ActivationOptions<N extends ActivationName> = z.output<(typeof ACTIVATION_OPTIONS)[N]>;

/** Whether `name` is a registered activation (so it has an options section). */
export function isActivationName(name: string): name is ActivationName {
  return Object.hasOwn(ACTIVATION_OPTIONS, name);
}
