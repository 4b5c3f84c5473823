/**
 * bench.json: what a bench folder holds and how it was made (command, base config and its hash, grid,
 * and each cell's attempts). Rewritten atomically whenever a cell changes state; the cell directories
 * stay the truth on re-run, so a stale manifest (after `kill -9`) is harmless.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PROJECT_ROOT } from '../util/paths.js';
import { BENCH_FILES } from './files.js';
import { writeFileAtomic } from '../util/io.js';
import { overrideKey } from '../util/overrides.js';
import type { ManifestStatus } from './status.js';

/** A cell's status as the bench last saw it (the vocabulary is src/run/status.ts's). */
export type { ManifestStatus };

/** One launch of a cell's process. */
export interface Attempt {
  mode: 'new' | 'resume';
  started: string;
  ended?: string;
  exit_code?: number | null;
  signal?: string | null;
  /** Where a dead earlier attempt was moved before this one started. */
  moved_aside?: string;
}

/** A cell in the manifest. */
export interface ManifestCell {
  name: string;
  arch: string;
  activation: string;
  seed: number;
  /** The cell's --sweep overrides (`key=value`), when the grid has sweeps. */
  overrides?: string[];
  /** Relative to the bench folder. */
  dir: string;
  status: ManifestStatus;
  /** The child's pid while running (lets a re-run detect an orphan still training). */
  pid?: number;
  attempts: Attempt[];
  /** The last lines of the failed process's stderr (the whole tail is in the cell's bench-error.txt). */
  error_tail?: string;
}

/** The whole of bench.json. */
export interface BenchManifest {
  version: 1;
  created: string;
  updated: string;
  /** The latest invocation's arguments (after `pwlu`), with --config and --out as stored paths (see storedCommand). */
  command: string[];
  /** Every distinct invocation that added cells to this folder, oldest first (e.g. one `--sweep` per factor). */
  commands?: string[][];
  /** The base config the cells were made from: relative to the project root when inside it (see storedPath), else absolute. */
  base_config: string;
  /** Hash of the resolved base config with --set applied (backend, threads and device left out). */
  base_config_hash: string;
  /** The report's setup hash of the base config (groups the cells into one table). */
  setup: string;
  dataset: string;
  sets: string[];
  backend: string | null;
  archs: string[];
  activations: string[];
  seeds: number[];
  jobs: number;
  threads_per_job: number;
  cells: ManifestCell[];
}

/** The config key paths a bench's cells override (its sweeps, over every invocation): they vary inside its comparison. */
export function sweptKeys(cells: readonly { overrides?: readonly string[] }[]): string[] {
  const keys = new Set<string>();
  for (const c of cells) {
    for (const o of c.overrides ?? []) {
      const key = overrideKey(o);
      if (key) keys.add(key);
    }
  }
  return [...keys];
}

/**
 * Paths in bench.json (`base_config`, the `--config` and `--out` values of its commands) are stored relative to
 * the project root when they are inside it, so a bench folder reads the same on every checkout and machine;
 * paths outside the project stay absolute. Older manifests hold absolute paths, which read unchanged.
 */
export function storedPath(p: string, cwd: string = process.cwd()): string {
  const abs = resolve(cwd, p);
  const rel = relative(PROJECT_ROOT, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : abs;
}

/** The absolute path of a path stored in bench.json (relative to the project root, or absolute in older manifests). */
export function resolveStoredPath(p: string): string {
  return isAbsolute(p) ? p : resolve(PROJECT_ROOT, p);
}

const PATH_OPTIONS = new Set(['--config', '-c', '--out', '-o']);

/** A bench invocation's arguments as bench.json stores them: its --config and --out values as stored paths. */
export function storedCommand(args: readonly string[], cwd: string = process.cwd()): string[] {
  return args.map((a, i) => {
    if (i > 0 && PATH_OPTIONS.has(args[i - 1]!)) return storedPath(a, cwd);
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0 && PATH_OPTIONS.has(a.slice(0, eq))) return `${a.slice(0, eq)}=${storedPath(a.slice(eq + 1), cwd)}`;
    return a;
  });
}

/** Reads bench.json from a bench folder, or null when there is none (or it is unreadable). */
export function readManifest(out: string): BenchManifest | null {
  const p = join(out, BENCH_FILES.manifest);
  if (!existsSync(p)) return null;
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as BenchManifest;
    return m && m.version === 1 && Array.isArray(m.cells) ? m : null;
  } catch {
    return null;
  }
}

/** Writes bench.json atomically. */
export function writeManifest(out: string, m: BenchManifest): void {
  m.updated = new Date().toISOString();
  const p = join(out, BENCH_FILES.manifest);
  writeFileAtomic(p, `${JSON.stringify(m, null, 2)}\n`);
}
