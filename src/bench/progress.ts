/**
 * The bench's one progress display: on a TTY a single cli-progress bar over all epochs of all cells
 * (cells done / running / failed, ETA from this session's epoch rate); off a TTY one line per finished cell.
 */
import cliProgress from 'cli-progress';

/** Counts shown by the bar. */
export interface BenchCounts {
  total: number;
  done: number;
  running: number;
  failed: number;
}

/** What the runner tells the display. */
export interface BenchDisplay {
  /** Total and completed epochs over all cells (completed counts cells done earlier too). */
  update(counts: BenchCounts, epochsDone: number, epochsTotal: number): void;
  /** One finished cell (finished, diverged, interrupted or failed), with a one-line description. */
  cellEnded(line: string): void;
  /** A message that must not be lost (printed above the bar on a TTY). */
  note(line: string): void;
  stop(): void;
}

/** "1h05m", "4m10s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Estimates the time left from the epochs completed in this session so far (cells skipped at start do not count as speed). */
export class EtaEstimator {
  private readonly t0 = Date.now();
  private base: number | null = null;
  /** Seconds left, or NaN before the first epoch of this session completes. */
  estimate(epochsDone: number, epochsTotal: number, now = Date.now()): number {
    if (this.base === null) this.base = epochsDone;
    const gained = epochsDone - this.base;
    const elapsed = (now - this.t0) / 1000;
    if (gained <= 0 || elapsed <= 0) return NaN;
    return ((epochsTotal - epochsDone) * elapsed) / gained;
  }
}

/** Creates the display: a bar on a TTY (unless disabled), else plain lines on stderr. */
export function createBenchDisplay(tty = process.stderr.isTTY === true): BenchDisplay {
  const eta = new EtaEstimator();
  if (!tty) {
    return {
      update(counts, epochsDone, epochsTotal) {
        eta.estimate(epochsDone, epochsTotal);
      },
      cellEnded: (line) => process.stderr.write(`pwlu bench: ${line}\n`),
      note: (line) => process.stderr.write(`pwlu bench: ${line}\n`),
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: (options, params, payload: { cells?: string; eta?: string }) => {
        const width = options.barsize ?? 30;
        const frac = params.total > 0 ? Math.min(1, params.value / params.total) : 0;
        const full = Math.round(frac * width);
        return `bench [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${payload.cells ?? ''} | ETA ${payload.eta ?? '--'}`;
      },
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(c, epochsDone, epochsTotal) {
      const payload = {
        cells: `${c.done}/${c.total} cells done, ${c.running} running, ${c.failed} failed | epochs ${epochsDone}/${epochsTotal}`,
        eta: formatDuration(eta.estimate(epochsDone, epochsTotal)),
      };
      if (!started) {
        bar.start(Math.max(1, epochsTotal), epochsDone, payload);
        started = true;
      } else {
        bar.setTotal(Math.max(1, epochsTotal));
        bar.update(epochsDone, payload);
      }
    },
    cellEnded(line) {
      this.note(line);
    },
    note(line) {
      if (started) {
        // Clear the bar's line, print above it; the next update redraws the bar.
        process.stderr.write(`\r\x1b[2K${line}\n`);
        bar.render();
      } else process.stderr.write(`${line}\n`);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
