/**
 * Loading an experiment config: schema defaults < YAML file < `--set key.path=value` (in order), validated by
 * `ConfigSchema` plus caller-supplied checks. Every problem becomes one `UserError` that names the file and line
 * (or the `--set` entry), the dotted key path, and the offending value. Keys of the old layout (src/config/deprecated.ts)
 * move to their new place with a warning that the caller logs.
 */
import { findConfig } from './find.js';
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../util/errors.js';
import { migrateActivation, migrateConfig, migratedSetPath, type Migration, type Move } from './deprecated.js';
import { configHash } from './format.js';
import { ConfigSchema, type Config } from './schema.js';
import {
  atLine,
  describeIssue,
  formatPath,
  formatProblems,
  isPrefix,
  joinProblems,
  pathSegment,
  samePath,
  show,
  type ConfigPath,
  type Problem,
  type SetEntry,
  type Source,
} from './messages.js';
import { parseOverride } from '../util/overrides.js';

export type { ConfigPath } from './messages.js';

/** A problem found by a caller's extra check (e.g. `model.arch` not in the model registry). */
export interface ConfigIssue {
  path: ConfigPath;
  message: string;
}

export interface LoadedConfig {
  config: Config;
  /** First 12 hex chars of sha256 over the canonical JSON of `config`. */
  hash: string;
  /** The config file used (a bare name resolved under configs/), or null when only defaults and `--set` were used. */
  file: string | null;
  /** One line per deprecated key used (where, old path, new path), for the command to log. */
  warnings: string[];
}

export interface LoadOptions {
  /** Checks the schema cannot express (registries); their issues are reported together with the schema's. */
  extraChecks?: (cfg: Config) => ConfigIssue[];
}

type ZodIssue = z.core.$ZodIssue;
type Mapping = Record<string, unknown>;

/** Most YAML errors listed for one file; later ones are usually consequences of the first. */
const MAX_YAML_ERRORS = 5;

/** Loads, merges and validates a config; throws one `UserError` listing every problem. */
export function loadConfig(file: string | null, sets: string[], opts: LoadOptions = {}): LoadedConfig {
  let data: Mapping = {};
  let source: Source | null = null;
  if (file !== null) {
    file = findConfig(file);
    const read = readSource(file);
    data = read.data;
    source = read.source;
  }
  const warnings: string[] = [];
  const problems: string[] = [];
  if (source !== null) {
    const migration = migrateConfig(data);
    source.moves = migration.moves;
    report(migration, (from) => atLine(source, from), warnings, problems);
  }
  const entries: SetEntry[] = [];
  for (const typed of parseSets(sets)) {
    const entry = migrateSet(typed, data, warnings, problems);
    entries.push(entry);
    const problem = applySet(data, entry);
    if (problem !== null) problems.push(problem);
  }
  if (problems.length > 0) throw new UserError(joinProblems(problems));
  const config = validate(data, source, entries, opts.extraChecks);
  return { config, hash: configHash(config), file, warnings };
}

// ---------------------------------------------------------------------------------------------------------------
// Deprecated keys

/** Moves a `--set` of an old key path (or an old-layout `activation` mapping) to the new layout. */
function migrateSet(entry: SetEntry, data: Mapping, warnings: string[], problems: string[]): SetEntry {
  const where = `--set ${entry.key}`;
  const path = migratedSetPath(entry.path, entry.value, data);
  if (path !== null) warnings.push(`${where}: ${deprecation({ from: entry.path, to: path })}`);
  const moved = { ...entry, path: path ?? entry.path };
  if (samePath(moved.path, ['activation']) && isMapping(moved.value)) {
    report(migrateActivation(moved.value, ['activation']), () => where, warnings, problems);
  }
  return moved;
}

/** Turns a migration into warnings (moves) and problems (clashes), each prefixed with where the old key was given. */
function report(migration: Migration, where: (from: ConfigPath) => string, warnings: string[], problems: string[]): void {
  for (const m of migration.moves) warnings.push(`${where(m.from)}: ${deprecation(m)}`);
  for (const m of migration.clashes) {
    problems.push(`${where(m.from)}: '${formatPath(m.from)}' is deprecated and '${formatPath(m.to)}' is set too; keep only '${formatPath(m.to)}'`);
  }
}

function deprecation(m: Move): string {
  return `'${formatPath(m.from)}' is deprecated; use '${formatPath(m.to)}'`;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the file

/** Reads and parses the YAML file into plain data, or throws a `UserError` naming the file, line and column. */
function readSource(file: string): { data: Mapping; source: Source } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read config file: ${fsReason(err)}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const shown: string[] = [];
    const seen = new Set<number>();
    for (const e of doc.errors) {
      // The parser often reports a second, consequential error at the same spot; keep the first.
      if (seen.has(e.pos[0])) continue;
      seen.add(e.pos[0]);
      const { line, col } = lines.linePos(e.pos[0]);
      const what = e.code === 'DUPLICATE_KEY' ? describeDuplicate(doc, lines, e.pos[0]) : `invalid YAML: ${e.message}`;
      shown.push(`${file}:${line}:${col}: ${what}`);
    }
    if (shown.length > MAX_YAML_ERRORS) {
      const more = shown.length - MAX_YAML_ERRORS;
      shown.splice(MAX_YAML_ERRORS, more, `(${more} more YAML errors)`);
    }
    throw new UserError(joinProblems(shown));
  }
  const contents = doc.contents;
  if (contents === null) return { data: {}, source: { file, doc, lines, moves: [] } }; // empty file: all defaults
  if (!isMap(contents)) {
    const line = contents.range ? lines.linePos(contents.range[0]).line : 1;
    const got = isSeq(contents) ? 'a list' : isScalar(contents) ? show(contents.value) : 'something else';
    throw new UserError(`${file}:${line}: the top level must be a mapping of config keys (got ${got})`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new UserError(`${file}: cannot read config: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { data: isMapping(data) ? data : {}, source: { file, doc, lines, moves: [] } };
}

/** `train.lr: duplicate key (first on line 3)` for the repeated key starting at `offset`. */
function describeDuplicate(doc: Document.Parsed, lines: LineCounter, offset: number): string {
  let found = 'duplicate key';
  visit(doc, {
    Pair(_, pair, ancestors) {
      if (!isScalar(pair.key) || pair.key.range?.[0] !== offset) return undefined;
      const key = pair.key;
      const keys = ancestors.filter(isPair).map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
      const parent = ancestors[ancestors.length - 1];
      const first = isMap(parent) ? parent.items.find((p) => p !== pair && isScalar(p.key) && p.key.value === key.value) : undefined;
      const firstStart = first && isScalar(first.key) ? first.key.range?.[0] : undefined;
      const where = firstStart === undefined ? '' : ` (first on line ${lines.linePos(firstStart).line})`;
      found = `${formatPath([...keys, String(key.value)])}: duplicate key${where}; each key may appear once per mapping`;
      return visit.BREAK;
    },
  });
  return found;
}

/** A short reason for a failed read, without the stack or the errno noise. */
function fsReason(err: unknown): string {
  const code = err !== null && typeof err === 'object' && 'code' in err ? String(err.code) : '';
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'it is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// --set

/** Parses `key.path=value` entries, values as YAML scalars/flow collections; reports every malformed one at once. */
function parseSets(sets: readonly string[]): SetEntry[] {
  const out: SetEntry[] = [];
  const problems: string[] = [];
  for (const raw of sets) {
    const parsed = parseOverride(raw);
    if (!parsed.ok) {
      problems.push(`--set ${raw}: ${parsed.problem}`);
      continue;
    }
    const { key, path, value: valueText } = parsed.override;
    if (path.includes('__proto__')) {
      problems.push(`--set ${raw}: '__proto__' is not a config key`);
      continue;
    }
    const doc = parseDocument(valueText, { prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      problems.push(`--set ${raw}: cannot parse the value as YAML: ${doc.errors[0]!.message}`);
      continue;
    }
    const value: unknown = doc.toJS();
    out.push({ key, path, value });
  }
  if (problems.length > 0) throw new UserError(joinProblems(problems));
  return out;
}

/** Writes one `--set` value into the merged data, creating mappings on the way; returns a problem or null. */
function applySet(root: Mapping, entry: SetEntry): string | null {
  let cur: Mapping | unknown[] = root;
  for (let i = 0; i < entry.path.length; i++) {
    const seg = entry.path[i]!;
    const last = i === entry.path.length - 1;
    let next: unknown;
    if (Array.isArray(cur)) {
      const index = /^\d+$/.test(seg) ? Number(seg) : -1;
      if (index < 0 || index > cur.length) {
        const at = entry.path.slice(0, i).join('.');
        return `--set ${entry.key}: '${at}' is a list of ${cur.length}; '${seg}' is not an index into it`;
      }
      if (last) {
        cur[index] = entry.value;
        return null;
      }
      next = cur[index];
      if (next === undefined || next === null) cur[index] = next = {};
    } else {
      if (last) {
        cur[seg] = entry.value;
        return null;
      }
      next = Object.hasOwn(cur, seg) ? cur[seg] : undefined;
      if (next === undefined || next === null) cur[seg] = next = {};
    }
    if (!Array.isArray(next) && !isMapping(next)) {
      const at = entry.path.slice(0, i + 1).join('.');
      return `--set ${entry.key}: cannot set a key inside '${at}', which is ${show(next)} rather than a mapping`;
    }
    cur = next;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

/** Runs the schema and the extra checks; returns the config or throws every problem in one `UserError`. */
function validate(data: Mapping, source: Source | null, sets: readonly SetEntry[], extraChecks: LoadOptions['extraChecks']): Config {
  const parsed = ConfigSchema.safeParse(data);
  const problems: Problem[] = [];
  const repaired: { path: ConfigPath; unknownKey: boolean }[] = [];
  if (!parsed.success) for (const issue of parsed.error.issues) problems.push(...describeIssue(issue, data));
  // On invalid input, still run the extra checks (e.g. an unknown model.arch) so that one run reports everything it
  // can: drop the offending values, let the defaults fill in, and check the rest.
  const config: Config | null = parsed.success ? structuredClone(parsed.data) : repair(data, parsed.error.issues, repaired);
  if (config !== null && extraChecks) {
    for (const issue of extraChecks(config)) {
      // Skip issues that may only be consequences of a value we replaced by its default.
      const shadowed = repaired.some(
        (r) => isPrefix(issue.path, r.path) || isPrefix(r.unknownKey || r.path.length < 2 ? r.path : r.path.slice(0, -1), issue.path),
      );
      if (!shadowed) problems.push({ path: [...issue.path], message: issue.message });
    }
  }
  if (problems.length > 0 || config === null) {
    throw new UserError(formatProblems(problems, source, sets));
  }
  return config;
}

/** Drops offending values until the schema accepts the data (defaults fill in), recording what was dropped. */
function repair(data: Mapping, issues: readonly ZodIssue[], repaired: { path: ConfigPath; unknownKey: boolean }[]): Config | null {
  const current: Mapping = structuredClone(data);
  let pending = issues;
  for (let round = 0; round < 10; round++) {
    for (const issue of pending) {
      const base = issue.path.map(pathSegment);
      const targets =
        issue.code === 'unrecognized_keys' ? issue.keys.map((k) => ({ path: [...base, k], unknownKey: true })) : [{ path: base, unknownKey: false }];
      for (const t of targets) {
        // Drop a whole list rather than one element, so indices of the rest do not shift.
        const firstIndex = t.path.findIndex((s) => typeof s === 'number');
        const cut = firstIndex < 0 ? t.path : t.path.slice(0, firstIndex);
        if (cut.length === 0) return null;
        deleteAt(current, cut);
        repaired.push({ path: cut, unknownKey: t.unknownKey });
      }
    }
    const again = ConfigSchema.safeParse(current);
    if (again.success) return again.data;
    pending = again.error.issues;
  }
  return null;
}

/** Removes the value at a key path (all segments are mapping keys) if present. */
function deleteAt(root: Mapping, path: ConfigPath): void {
  let cur: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    cur = isMapping(cur) && Object.hasOwn(cur, String(path[i])) ? cur[String(path[i])] : undefined;
  }
  if (isMapping(cur)) delete cur[String(path[path.length - 1])];
}

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function isMapping(v: unknown): v is Mapping {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
