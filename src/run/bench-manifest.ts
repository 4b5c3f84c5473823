/**
 * bench.json: what a bench folder holds and how it was made (command, base config and its hash, grid,
 * and each cell's attempts). Rewritten atomically whenever a cell changes state; the cell directories
 * stay the truth on re-run, so a stale manifest (after `kill -9`) is harmless.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_FILES } from './files.js';
import { writeFileAtomic } from '../util/io.js';

/** A cell's status as the bench last saw it. */
export type ManifestStatus = 'pending' | 'running' | 'finished' | 'diverged' | 'interrupted' | 'failed';

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
  /** The latest invocation's arguments (after `pwlu`). */
  command: string[];
  /** Every distinct invocation that added cells to this folder, oldest first (e.g. one `--sweep` per factor). */
  commands?: string[][];
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
  for (const c of cells) for (const o of c.overrides ?? []) if (typeof o === 'string' && o.includes('=')) keys.add(o.slice(0, o.indexOf('=')));
  return [...keys];
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
