/**
 * How a run ended, in one vocabulary: summary.json's status, the bench manifest's view of a cell and
 * the report's view of a run all extend the same four outcomes, and one classifier turns what is known
 * (the process's exit code, the summary's status, a bench-error.txt) into one of them.
 */
import { ExitCode } from '../util/errors.js';

/** The outcomes a run's summary.json records. */
export const SUMMARY_STATUSES = ['finished', 'interrupted', 'diverged', 'failed'] as const;

/** How a run ended, as summary.json says. */
export type SummaryStatus = (typeof SUMMARY_STATUSES)[number];

/** A run that is a result: finished, or diverged (a re-run would diverge the same way), so a bench never reruns it. */
export type DoneStatus = Extract<SummaryStatus, 'finished' | 'diverged'>;

/** What the files alone say: an outcome, or `incomplete` (no summary: killed, or still running). */
export type ObservedStatus = SummaryStatus | 'incomplete';

/** A bench cell as the manifest last saw it: not yet started, its process running, or an outcome. */
export type ManifestStatus = SummaryStatus | 'pending' | 'running';

/** A run as a report shows it: what its files say, or `missing` for a bench cell never started. */
export type RunStatus = ObservedStatus | 'missing';

/** Whether a value read from disk is one of summary.json's statuses, so old or corrupt files read as unknown. */
export function isSummaryStatus(v: unknown): v is SummaryStatus {
  return typeof v === 'string' && (SUMMARY_STATUSES as readonly string[]).includes(v);
}

/** Whether a status is a result that a re-run must keep rather than redo. */
export function isDone(s: string | null): s is DoneStatus {
  return s === 'finished' || s === 'diverged';
}

/** What is known about a run when classifying it. */
export interface RunEvidence {
  /** summary.json's status field as read (null: no summary, or unreadable). */
  summary: unknown;
  /** How its process ended, when the caller started it (the bench runner); absent when only files are known. */
  exit?: { code: number | null };
  /** Whether the cell holds a bench-error.txt (a failed process the bench recorded). */
  benchError?: boolean;
  /** Whether summary.json is there but unreadable: atomic writes never tear it, so it was damaged, not still being written. */
  summaryCorrupt?: boolean;
}

/**
 * The one classifier of a run's outcome, shared by the bench runner, the cell inspection and the report.
 * With an exit code, the process decides: it must exit 0 with a finished summary to count as finished, and
 * its documented codes for diverged (4) and interrupted (130) say so even if the summary is missing. From the
 * files alone, the summary decides, except that a bench-error.txt newer than an interruption means it failed, and
 * a corrupt summary is a failure to show, not a run still going.
 */
export function classifyRun(e: RunEvidence & { exit: { code: number | null } }): SummaryStatus;
export function classifyRun(e: RunEvidence): ObservedStatus;
export function classifyRun(e: RunEvidence): ObservedStatus {
  const summary = isSummaryStatus(e.summary) ? e.summary : null;
  if (e.exit) {
    const code = e.exit.code;
    if (code === ExitCode.ok && summary === 'finished') return 'finished';
    if (code === ExitCode.diverged || summary === 'diverged') return 'diverged';
    if (code === ExitCode.interrupted || (code === ExitCode.ok && summary === 'interrupted')) return 'interrupted';
    return 'failed';
  }
  if (summary === null) return e.benchError || e.summaryCorrupt ? 'failed' : 'incomplete';
  return summary === 'interrupted' && e.benchError ? 'failed' : summary;
}

/** The hint `pwlu` prints after an internal error; the error-line reader skips it. */
export const STACK_TRACE_HINT = '(set PWLU_DEBUG=1 for the stack trace)';

/**
 * The line of a failed process's stderr that says what went wrong: the last one mentioning an error (not the
 * stack-trace hint), else the last line. One rule for the bench's progress line and the report's error column.
 */
export function errorLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return [...lines].reverse().find((l) => /error/i.test(l) && l !== STACK_TRACE_HINT) ?? lines[lines.length - 1] ?? '';
}
