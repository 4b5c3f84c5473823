/**
 * Every activation pwlu offers, as specs, in display order (tables, plots, `pwlu bench --all-activations`). Adding an
 * activation is one spec file here plus one line in this list, one training file in src/activations/ and its line in
 * src/activations/registry.ts (the type checker asks for it). Side-effect free: `pwlu/layers` imports it in browsers.
 */
import { aplSpec } from './apl.js';
import { freluSpec } from './frelu.js';
import { hardswishSpec } from './hardswish.js';
import { npwluSpec } from './npwlu.js';
import { pauSpec } from './pau.js';
import { preluSpec } from './prelu.js';
import { pwluSpec } from './pwlu.js';
import { reluSpec } from './relu.js';
import { swishSpec } from './swish.js';

export const ACTIVATION_SPECS = [reluSpec, swishSpec, hardswishSpec, preluSpec, aplSpec, pauSpec, freluSpec, pwluSpec, npwluSpec] as const;

/** A registered activation's name. */
export type ActivationName = (typeof ACTIVATION_SPECS)[number]['name'];

/** Any registered spec, with its options and describe types erased. */
export type AnyActivationSpec = (typeof ACTIVATION_SPECS)[number];

/** The spec of a registered activation, by name; undefined when unknown. */
export function specOf(name: string): AnyActivationSpec | undefined {
  return ACTIVATION_SPECS.find((s) => s.name === name);
}
