import cliProgress from 'cli-progress';

/** A progress sink; a no-op where stderr is not a terminal. */
export interface Progress {
  /** Advance by `delta` units. */
  increment(delta: number): void;
  /** Change the total once it becomes known (e.g. from a Content-Length header). */
  setTotal(total: number): void;
  stop(): void;
}

const NOOP: Progress = {
  increment: () => {},
  setTotal: () => {},
  stop: () => {},
};

function formatBytes(v: number): string {
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
  if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB`;
  return `${v} B`;
}

/**
 * Creates a progress bar on stderr, but only when stderr is a TTY (logs and CI output stay clean).
 * `enabled` lets callers force it off (tests, quiet mode).
 */
export function createProgress(label: string, total: number, unit: 'bytes' | 'items', enabled = true): Progress {
  if (!enabled || !process.stderr.isTTY) return NOOP;
  const fmt = unit === 'bytes' ? formatBytes : (v: number) => String(v);
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: (options, params) => {
        const width = options.barsize ?? 30;
        const frac = params.total > 0 ? Math.min(1, params.value / params.total) : 0;
        const done = Math.round(frac * width);
        const eta = Number.isFinite(params.eta) && params.value > 0 ? ` eta ${params.eta}s` : '';
        return `${label} [${'#'.repeat(done)}${'-'.repeat(width - done)}] ${fmt(params.value)}/${fmt(params.total)}${eta}`;
      },
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, total), 0);
  return {
    increment: (delta) => bar.increment(delta),
    setTotal: (t) => bar.setTotal(Math.max(1, t)),
    stop: () => bar.stop(),
  };
}
