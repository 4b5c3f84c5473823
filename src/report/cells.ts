/**
 * What classification and detection tables share: their archs and activations in order, a row's key, the note
 * for a run that is not a result, and the line that says a table's runs do not share one code version (in a
 * module of their own so both builders use them without an import cycle).
 */
import type { RunRecord, RunStatus } from './collect.js';
import { ACTIVATION_ORDER, ARCH_ORDER, ordered } from './paper.js';

/** A run of a table's cell that is not counted (not finished, or finished without the figure the table shows). */
export interface IncompleteRun {
  seed: number;
  status: RunStatus;
  epochs_completed: number;
  epochs: number | null;
  error: string | null;
  rel: string;
}

/** A run as an IncompleteRun, so both kinds of table list what they leave out in the same words. */
export function incompleteRun(r: RunRecord): IncompleteRun {
  return { seed: r.seed, status: r.status, epochs_completed: r.epochs_completed, epochs: r.epochs, error: r.error, rel: r.rel };
}

/** A table's archs and activations, each once, in the report's order (the paper's first, then by name). */
export function tableAxes(runs: readonly RunRecord[]): { archs: string[]; activations: string[] } {
  return {
    archs: ordered(
      runs.map((r) => r.arch),
      ARCH_ORDER,
    ),
    activations: ordered(
      runs.map((r) => r.activation),
      ACTIVATION_ORDER,
    ),
  };
}

/** A table row's key: the arch, or `arch · setting` in a sweep bench, so different settings never pool. */
export function rowKey(arch: string, variant: string): string {
  return variant ? `${arch} · ${variant}` : arch;
}

/** Why a run is not counted, in a few words ("seed 3 interrupted at epoch 2/4"); `what` names the missing figure of a finished run. */
export function fmtStatus(i: IncompleteRun, what = 'a result'): string {
  const progress = i.epochs !== null ? ` at epoch ${i.epochs_completed}/${i.epochs}` : '';
  switch (i.status) {
    case 'missing':
      return `seed ${i.seed} never started`;
    case 'incomplete':
      return `seed ${i.seed} has no summary (killed or still running${progress})`;
    case 'interrupted':
      return `seed ${i.seed} interrupted${progress}`;
    case 'diverged':
      return `seed ${i.seed} diverged${i.error ? ` (${i.error})` : ''}`;
    case 'failed':
      return `seed ${i.seed} failed${progress}${i.error ? `: ${i.error}` : ''}`;
    case 'finished':
      return `seed ${i.seed} finished without ${what}`;
  }
}

/**
 * The line that says a table's runs do not share one code version: the distinct commits (with how many runs each)
 * and how many ran from a checkout with uncommitted changes, whose code the commit alone does not identify.
 * Null when every run that recorded a version is on one clean commit.
 */
export function codeVersionLine(runs: readonly RunRecord[]): string | null {
  const ran = runs.filter((r) => r.status !== 'missing');
  const recorded = ran.filter((r) => r.git_commit !== null);
  const counts = new Map<string, number>();
  for (const r of recorded) {
    const label = `${r.git_commit!.slice(0, 7)}${r.git_dirty ? '-dirty' : ''}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const commits = new Set(recorded.map((r) => r.git_commit));
  const dirty = recorded.filter((r) => r.git_dirty).length;
  const unknown = ran.length - recorded.length;
  if (commits.size <= 1 && dirty === 0 && (unknown === 0 || recorded.length === 0)) return null;
  const list = [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([c, k]) => `${c} ×${k}`)
    .join(', ');
  const parts = [`Code version: these ${ran.length} runs ran on ${commits.size} commit${commits.size === 1 ? '' : 's'} (${list})`];
  if (dirty) parts.push(`${dirty} from a checkout with uncommitted changes (-dirty), so the commit does not identify the code that ran`);
  if (unknown) parts.push(`${unknown} recorded no commit`);
  return `${parts.join('; ')}.`;
}
