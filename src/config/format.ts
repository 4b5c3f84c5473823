/** Serialising a resolved config: canonical hash and YAML for run directories. */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import type { Config } from './schema.js';

/** JSON with object keys sorted at every level, so equal configs serialise identically whatever their key order. */
export function canonicalJson(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

/**
 * Keys added after configs were first hashed, at the value that means what configs without them meant: left out of
 * hashes at that value, so that adding them changed no existing run's or bench's identity.
 */
const NEUTRAL_KEYS: ReadonlyArray<[path: readonly string[], neutral: unknown]> = [
  [['task'], 'classification'],
  [['model', 'init'], null],
  [['model', 'init_exclude'], []],
  [['train', 'schedule', 'warmup_steps'], null],
];

/**
 * A config (resolved, or as saved) without what does not change its meaning for a classification run: the neutral
 * keys at their neutral value, and the `detection` section unless the task is detection.
 */
export function withoutNeutralKeys<T>(config: T): T {
  const c = structuredClone(config) as Record<string, unknown>;
  if ((c.task ?? 'classification') !== 'detection') delete c.detection;
  for (const [path, neutral] of NEUTRAL_KEYS) {
    let parent: unknown = c;
    for (const k of path.slice(0, -1)) parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[k] : undefined;
    const last = path[path.length - 1]!;
    if (parent !== null && typeof parent === 'object' && isDeepStrictEqual((parent as Record<string, unknown>)[last], neutral))
      delete (parent as Record<string, unknown>)[last];
  }
  return c as T;
}

/** Identifies a resolved config (first 12 hex chars of sha256 of its canonical JSON), e.g. to name and compare runs. */
export function configHash(cfg: Config): string {
  return createHash('sha256')
    .update(canonicalJson(withoutNeutralKeys(cfg)))
    .digest('hex')
    .slice(0, 12);
}

/** The resolved config as YAML for saving next to a run; loading it back gives the identical config and hash (a classification run's omits the detection section). */
export function stringifyConfig(cfg: Config): string {
  const shown = cfg.task === 'detection' ? cfg : (({ detection: _d, ...rest }) => rest)(cfg);
  const body = stringify(shown, { lineWidth: 0, minContentWidth: 0 });
  return `# pwlu resolved config (hash ${configHash(cfg)}); every key is explicit.\n${body}`;
}
