/**
 * Config problems as the user reads them: a zod issue (or a caller's check) becomes "file:line key: message" or
 * "--set key: message", located at the YAML line or the `--set` entry that supplied the value (at the old key for a
 * deprecated one), with "did you mean" for unknown keys. src/config/load.ts reads and validates; this file only
 * words and places what it found.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { z } from 'zod';
import type { Move } from './deprecated.js';
import { allKeyPaths, isIntegerAt, keysAt, valueAtPath } from './introspect.js';
import { closeKeys, closestKey } from './suggest.js';

/** A key path into a config: mapping keys, and list indices as numbers. */
export type ConfigPath = (string | number)[];

type ZodIssue = z.core.$ZodIssue;
type Mapping = Record<string, unknown>;

/** One `--set key.path=value`, parsed. */
export interface SetEntry {
  /** The key path as typed, e.g. `train.lr`. */
  key: string;
  path: string[];
  value: unknown;
}

/** The config file as parsed, kept to find the line of any key in it. */
export interface Source {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Deprecated keys of the file moved to their new path; problems at the new path are located at the old key. */
  moves: Move[];
}

/** Where a problem's value came from: a file line, a `--set` entry, or nowhere (a default). */
type Where = { kind: 'file'; line: number } | { kind: 'set'; entry: SetEntry; order: number } | { kind: 'none' };

/** A problem at a key path, before it is located and rendered. */
export interface Problem {
  path: ConfigPath;
  message: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Wording

/** Turns one zod issue into user-facing problems (one per unknown key). */
export function describeIssue(issue: ZodIssue, data: Mapping): Problem[] {
  const path = issue.path.map(pathSegment);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(path, key) }));
  }
  const value = valueAtPath(data, path);
  const got = value === undefined ? '' : ` (got ${show(value)})`;
  return [{ path, message: issueMessage(issue, path, value) + got }];
}

/** The short human message for a zod issue, without the `(got …)` suffix. */
function issueMessage(issue: ZodIssue, path: ConfigPath, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return `required: expected ${typeName(issue.expected)}`;
      if (issue.expected === 'number' && typeof value === 'number') return 'expected a finite number';
      // zod reports "number" for a non-number even where only integers are allowed; say what is really wanted.
      if (issue.expected === 'number' && isIntegerAt(path)) return `expected ${typeName('int')}`;
      return `expected ${typeName(issue.expected)}`;
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const limit = big ? issue.maximum : issue.minimum;
      if (issue.origin === 'number' || issue.origin === 'int' || issue.origin === 'bigint') {
        const op = big ? (issue.inclusive === false ? '<' : '<=') : issue.inclusive === false ? '>' : '>=';
        return `must be ${op} ${String(limit)}`;
      }
      if (issue.origin === 'string') {
        if (!big && Number(limit) === 1) return 'must not be empty';
        return `must be ${big ? 'at most' : 'at least'} ${String(limit)} characters long`;
      }
      return `must have ${big ? 'at most' : 'at least'} ${String(limit)} items`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${choice(issue.values[0])}` : `must be one of: ${issue.values.map(choice).join(', ')}`;
    case 'invalid_union': {
      const alternatives: string[] = [];
      for (const branch of issue.errors) {
        for (const sub of branch) {
          if (sub.path.length !== 0) return 'does not match any allowed form';
          if (sub.code === 'invalid_type') alternatives.push(...(sub.expected === 'boolean' ? ['true', 'false'] : [typeName(sub.expected)]));
          else if (sub.code === 'invalid_value') alternatives.push(...sub.values.map(choice));
        }
      }
      const uniq = [...new Set(alternatives)];
      if (uniq.length === 0) return 'does not match any allowed form';
      return uniq.length === 1 ? `must be ${uniq[0]}` : `must be ${uniq.slice(0, -1).join(', ')} or ${uniq[uniq.length - 1]}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return issue.message;
  }
}

/** `unknown key; did you mean 'epochs'?`, or where the key lives elsewhere, or the valid keys. */
function unknownKeyMessage(parent: ConfigPath, key: string): string {
  const siblings = keysAt(parent);
  const near = closestKey(key, siblings);
  if (near !== null) return `unknown key; did you mean '${near}'?`;
  const elsewhere = closeKeys(
    key,
    allKeyPaths().map((p) => p.join('.')),
    (dotted) => dotted.slice(dotted.lastIndexOf('.') + 1),
  );
  // An exact match elsewhere (`lr` -> `train.lr`) beats near ones (`activation.apl.l2`).
  const exact = elsewhere.filter((dotted) => dotted.slice(dotted.lastIndexOf('.') + 1) === key);
  const shown = (exact.length > 0 ? exact : elsewhere).slice(0, 3);
  if (shown.length > 0) return `unknown key; did you mean ${shown.map((p) => `'${p}'`).join(' or ')}?`;
  if (siblings.length === 0) return `unknown key; ${formatPath(parent)} takes no keys`;
  return `unknown key; valid keys${parent.length > 0 ? ` in ${formatPath(parent)}` : ''}: ${siblings.join(', ')}`;
}

/** Names a zod `expected` type the way a config author thinks of it. */
function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'null':
      return 'null';
    default:
      return expected;
  }
}

/** An allowed literal as written in YAML. */
function choice(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** An offending value, short enough for one line. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return truncate(JSON.stringify(v));
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '.nan';
    if (v === Infinity) return '.inf';
    if (v === -Infinity) return '-.inf';
    return String(v);
  }
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `a list ${truncate(JSON.stringify(v))}`;
  if (typeof v === 'object') return `a mapping ${truncate(JSON.stringify(v))}`;
  return typeof v === 'symbol' ? v.toString() : 'a function';
}

/** Cuts a shown value to one line's share. */
function truncate(s: string, max = 60): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

// ---------------------------------------------------------------------------------------------------------------
// Locating and formatting problems

/** Formats problems one per line, ordered by file line, then `--set` order, then those without a location. */
export function formatProblems(problems: readonly Problem[], source: Source | null, sets: readonly SetEntry[]): string {
  if (problems.length === 0) return `${source?.file ?? 'config'}: invalid config`;
  const rank = (w: Where): [number, number] => (w.kind === 'file' ? [0, w.line] : w.kind === 'set' ? [1, w.order] : [2, 0]);
  const located = problems.map((p, i) => ({ p, i, where: locate(p.path, source, sets) }));
  located.sort((a, b) => {
    const [ka, va] = rank(a.where);
    const [kb, vb] = rank(b.where);
    return ka - kb || va - vb || a.i - b.i;
  });
  const lines = located.map(({ p, where }) => {
    const dotted = formatPath(p.path);
    switch (where.kind) {
      case 'file':
        return `${source!.file}:${where.line}: ${dotted}: ${p.message}`;
      case 'set':
        return samePath(where.entry.path, p.path) ? `--set ${where.entry.key}: ${p.message}` : `--set ${where.entry.key}: ${dotted}: ${p.message}`;
      case 'none':
        return source ? `${source.file}: ${dotted}: ${p.message}` : `${dotted}: ${p.message}`;
    }
  });
  return joinProblems(lines);
}

/** Finds where the value at `path` came from: the last `--set` covering it, else its YAML line, else the nearest parent. */
function locate(path: ConfigPath, source: Source | null, sets: readonly SetEntry[]): Where {
  for (let i = sets.length - 1; i >= 0; i--) {
    if (isPrefix(sets[i]!.path, path)) return { kind: 'set', entry: sets[i]!, order: i };
  }
  const written = source ? pathAsWritten(source, path) : path;
  const hit = source ? findNode(source, written) : null;
  if (hit && hit.depth === written.length && hit.line !== null) return { kind: 'file', line: hit.line };
  // Not in the file: a mapping created by a --set below it (e.g. an unknown section), else the nearest parent's line.
  for (let i = sets.length - 1; i >= 0; i--) {
    if (isPrefix(path, sets[i]!.path)) return { kind: 'set', entry: sets[i]!, order: i };
  }
  if (hit && hit.line !== null) return { kind: 'file', line: hit.line };
  return { kind: 'none' };
}

/** Where the value at `path` is written in the file: under its old key path when a deprecated key was moved there. */
function pathAsWritten(source: Source, path: ConfigPath): ConfigPath {
  const move = source.moves.find((m) => isPrefix(m.to, path));
  return move ? [...move.from, ...path.slice(move.to.length)] : path;
}

/** Walks the YAML document along `path`; reports how deep it got and the line of the deepest key (or list item). */
function findNode(source: Source, path: ConfigPath): { depth: number; line: number | null } {
  const { doc, lines } = source;
  let node: unknown = doc.contents;
  let line: number | null = null;
  let depth = 0;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let at: Node | null;
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      at = isScalar(pair.key) ? pair.key : null;
      next = pair.value;
    } else if (isSeq(node) && /^\d+$/.test(String(seg))) {
      const item: unknown = node.items[Number(seg)];
      if (item === undefined) break;
      at = isScalar(item) || isMap(item) || isSeq(item) || isAlias(item) ? item : null;
      next = item;
    } else {
      break;
    }
    if (at?.range) line = lines.linePos(at.range[0]).line;
    node = next;
    depth++;
  }
  return { depth, line };
}

/** `train.schedule.milestones[0]`; the empty path is the top level. */
export function formatPath(path: ConfigPath): string {
  if (path.length === 0) return '(top level)';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** One problem as is, several under a count, so every config error reads the same way. */
export function joinProblems(lines: readonly string[]): string {
  if (lines.length === 1) return lines[0]!;
  return `${lines.length} problems in config:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

/** `file:line` of a key as written in the file (or just the file when it has no line). */
export function atLine(source: Source, path: ConfigPath): string {
  const { line } = findNode(source, path);
  return line === null ? source.file : `${source.file}:${line}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Key paths

/** A zod issue path segment as a config path segment (zod allows symbols; configs never have them). */
export function pathSegment(s: PropertyKey): string | number {
  return typeof s === 'symbol' ? String(s) : s;
}

/** Whether `prefix` leads to `path` (segments compared as text, so `0` and `'0'` agree), to tie a problem to its source. */
export function isPrefix(prefix: readonly (string | number)[], path: readonly (string | number)[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => String(s) === String(path[i]));
}

/** Whether two key paths name the same key, so a `--set` of exactly that key is not repeated in its message. */
export function samePath(a: readonly (string | number)[], b: readonly (string | number)[]): boolean {
  return a.length === b.length && isPrefix(a, b);
}
