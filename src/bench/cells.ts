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
import { classifyRun, isDone, type DoneStatus } from '../run/status.js';

/** A cell's state on disk. */
export type CellState =
  { kind: 'new' } | { kind: 'done'; status: DoneStatus } | { kind: 'resume'; why: string } | { kind: 'restart'; why: string } | { kind: 'busy'; why: string };

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
  const outcome = classifyRun({ summary: status });
  if (isDone(outcome)) return { kind: 'done', status: outcome };
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

/** What to do with a cell now, after preparing its directory: the decision `pwlu bench` and the Slurm script share. */
export type CellStart =
  | { action: 'done'; status: DoneStatus }
  | { action: 'busy'; why: string }
  | { action: 'resume'; why: string }
  | { action: 'new'; /** Where a dead earlier attempt was moved (absolute), if one was. */ movedAside?: string; why?: string };

/**
 * Decides what a cell needs (inspectCell) and prepares its directory for it: a dead attempt is moved aside
 * (the next free `.failed-<n>`), and a resume sets the last failure's bench-error.txt aside. Nothing is deleted.
 */
export function prepareCell(dir: string): CellStart {
  const st = inspectCell(dir);
  switch (st.kind) {
    case 'done':
      return { action: 'done', status: st.status };
    case 'busy':
      return { action: 'busy', why: st.why };
    case 'resume':
      archiveBenchError(dir);
      return { action: 'resume', why: st.why };
    case 'restart':
      return { action: 'new', movedAside: moveAside(dir), why: st.why };
    case 'new':
      return { action: 'new' };
  }
}

/**
 * Exit codes of `pwlu bench --cell NAME` (what a Slurm task does with the cell): 0 start it new, 10 resume it,
 * 11 skip it (a result already), 12 leave it (another process trains it). Any other code is an error of pwlu's own
 * (1 usage, 70 internal, …); the codes are chosen apart from those in src/util/errors.ts.
 */
export const CELL_EXIT = { new: 0, resume: 10, done: 11, busy: 12 } as const;

/** Renames a leftover bench-error.txt before a resume, so the report does not read an old failure as current. */
export function archiveBenchError(dir: string): void {
  new RunDir(dir).archiveBenchError();
}
