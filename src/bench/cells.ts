/**
 * What to do with a cell directory on (re-)run, decided from the files in it alone, so it works after
 * anything, including `kill -9` of the whole bench: finished → skip; checkpoint → resume; files but
 * no checkpoint → move aside (never delete) and start again; nothing → start; a live process still
 * training in it (its lock) → leave it alone.
 */
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { supersededPrefix } from '../run/files.js';
import { RunDir } from '../run/run-dir.js';

/** A cell's state on disk. */
export type CellState =
  | { kind: 'new' }
  | { kind: 'done'; status: 'finished' | 'diverged' }
  | { kind: 'resume'; why: string }
  | { kind: 'restart'; why: string }
  | { kind: 'busy'; why: string };

/** The status field of a run's summary.json, or null when there is none (or it cannot be read). */
export function summaryStatus(dir: string): string | null {
  const s = new RunDir(dir).readSummary()?.status;
  return typeof s === 'string' ? s : null;
}

/** Classifies a cell directory. A diverged run is a result (a re-run would diverge the same way). */
export function inspectCell(dir: string): CellState {
  if (!existsSync(dir)) return { kind: 'new' };
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return { kind: 'restart', why: 'unreadable directory' };
  }
  if (files.length === 0) return { kind: 'new' };
  const run = new RunDir(dir);
  const owner = run.lockedBy();
  if (owner) return { kind: 'busy', why: `still being trained by pid ${owner.pid} on ${owner.host}` };
  const status = summaryStatus(dir);
  if (status === 'finished' || status === 'diverged') return { kind: 'done', status };
  const hasConfig = run.has('config');
  const hasCkpt = run.has('last');
  if (hasConfig && hasCkpt) return { kind: 'resume', why: status ? `summary status ${status}` : 'no summary (killed)' };
  if (!hasConfig) return { kind: 'restart', why: 'no config.yaml' };
  return { kind: 'restart', why: status ? `${status} before its first checkpoint` : 'died before its first checkpoint' };
}

/** Renames a cell directory to `<dir>.failed-<n>` (the first free n) and returns the new path; nothing is deleted. */
export function moveAside(dir: string): string {
  const parent = dirname(dir);
  const prefix = supersededPrefix(basename(dir));
  let n = 1;
  for (const e of existsSync(parent) ? readdirSync(parent) : []) {
    if (!e.startsWith(prefix)) continue;
    const k = Number(e.slice(prefix.length));
    if (Number.isInteger(k) && k >= n) n = k + 1;
  }
  const target = join(parent, `${prefix}${n}`);
  renameSync(dir, target);
  return target;
}

/** Renames a leftover bench-error.txt before a resume, so the report does not read an old failure as current. */
export function archiveBenchError(dir: string): void {
  new RunDir(dir).archiveBenchError();
}
