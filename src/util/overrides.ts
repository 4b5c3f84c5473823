/**
 * `KEY=VALUE` config overrides (`--set`, `--sweep`, `--baseline KEY=VALUE`, a bench cell's overrides):
 * one typed parser, so every site splits, validates and names a key the same way. The value stays text
 * here; the config loader reads it as YAML.
 */

/** One parsed `key.path=value`. */
export interface Override {
  /** The dotted key path as written (`activation.pwlu.n`). */
  key: string;
  /** Its segments (`['activation', 'pwlu', 'n']`). */
  path: string[];
  /** The value text after the first '=' (untrimmed; YAML decides what it means). */
  value: string;
}

/** A parse: the override, or the problem with the entry (without the flag: the caller names where it came from). */
export type OverrideParse = { ok: true; override: Override } | { ok: false; problem: string };

/** Parses `key.path=value` strictly (a key, no empty or padded segment), so a typo is reported where it was typed. */
export function parseOverride(raw: string): OverrideParse {
  const eq = raw.indexOf('=');
  if (eq < 0) return { ok: false, problem: 'expected key.path=value (e.g. --set train.lr=0.05)' };
  const key = raw.slice(0, eq).trim();
  if (key === '') return { ok: false, problem: "empty key before '=' (expected key.path=value)" };
  const path = key.split('.');
  if (path.some((s) => s.trim() === '' || s !== s.trim()))
    return { ok: false, problem: `empty or padded segment in key '${key}' (expected e.g. train.optimizer.momentum)` };
  return { ok: true, override: { key, path, value: raw.slice(eq + 1) } };
}

/**
 * Splits a stored or already-validated `key=value` (bench.json, a cell's overrides) leniently: null when it has
 * no key, so one bad entry in an old file is skipped rather than fatal. Key and value are trimmed.
 */
export function splitOverride(raw: unknown): { key: string; value: string } | null {
  if (typeof raw !== 'string') return null;
  const eq = raw.indexOf('=');
  if (eq <= 0) return null;
  const key = raw.slice(0, eq).trim();
  return key ? { key, value: raw.slice(eq + 1).trim() } : null;
}

/** The key path of a stored override, or null; what sweeps and reports group by. */
export function overrideKey(raw: unknown): string | null {
  return splitOverride(raw)?.key ?? null;
}

/** Writes an override back as `key=value`, the form `--set` and bench.json take. */
export function formatOverride(key: string, value: string): string {
  return `${key}=${value}`;
}
