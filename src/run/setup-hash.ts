/**
 * Comparison identity: which runs share a setup and so may be compared (a report's rows, a bench's cells). This
 * is config semantics (migrations, activation defaults), not the run-directory format, so it lives beside the
 * format rather than inside RunDir.
 */
import { createHash } from 'node:crypto';
import { ACTIVATION_OPTIONS, isActivationName } from '../activations/options.js';
import { migrateConfig } from '../config/deprecated.js';
import { canonicalJson, withoutNeutralKeys } from '../config/format.js';
import { isRecord, type Json } from '../util/json.js';

/**
 * Hash of the settings shared by a comparison (everything but arch, activation, seed and the machine). Activation
 * options count where they differ from that activation's defaults: every cell of a bench then shares its setup
 * (each cell's resolved config adds its own activation's defaults), while a bench with other options (e.g.
 * `activation.pwlu.n`) gets its own. `omit`: the dotted key paths a bench sweeps, which vary inside one comparison.
 */
export function setupHash(config: Json, omit: readonly string[] = []): string {
  const c = withoutNeutralKeys(config);
  migrateConfig(c); // runs saved before activations owned their options
  for (const key of omit) {
    const path = key.split('.');
    let parent: unknown = c;
    for (const k of path.slice(0, -1)) parent = isRecord(parent) ? parent[k] : undefined;
    if (isRecord(parent)) delete parent[path[path.length - 1]!];
  }
  const options = changedActivationOptions(c.activation);
  for (const k of ['name', 'seed', 'backend', 'threads', 'device', 'activation']) delete c[k];
  if (Object.keys(options).length > 0) c.activation_options = options;
  if (isRecord(c.model)) delete c.model.arch;
  if (isRecord(c.data)) {
    delete c.data.dir;
    delete c.data.download;
  }
  return createHash('sha256').update(canonicalJson(c)).digest('hex').slice(0, 8);
}

/** The activation options sections of a config that differ from their activation's defaults. */
function changedActivationOptions(activation: unknown): Json {
  const out: Json = {};
  if (!isRecord(activation)) return out;
  for (const [name, section] of Object.entries(activation)) {
    if (!isActivationName(name)) continue;
    const schema = ACTIVATION_OPTIONS[name];
    const parsed = schema.safeParse(section ?? {});
    const value: unknown = parsed.success ? parsed.data : section;
    if (canonicalJson(value) !== canonicalJson(schema.parse({}))) out[name] = value;
  }
  return out;
}
