/** Serialising a resolved config: canonical hash and YAML for run directories. */
import { createHash } from 'node:crypto';
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

/** Identifies a resolved config (first 12 hex chars of sha256 of its canonical JSON), e.g. to name and compare runs. */
export function configHash(cfg: Config): string {
  return createHash('sha256').update(canonicalJson(cfg)).digest('hex').slice(0, 12);
}

/** The resolved config as YAML for saving next to a run; loading it back gives the identical config and hash. */
export function stringifyConfig(cfg: Config): string {
  const body = stringify(cfg, { lineWidth: 0, minContentWidth: 0 });
  return `# pwlu resolved config (hash ${configHash(cfg)}); every key is explicit.\n${body}`;
}
