import cliProgress from 'cli-progress';
import { formatBytes } from './format.js';

/**
 * Progress bars on stderr, drawn only when stderr is a TTY (logs and CI output stay clean; the
 * log carries the news there). One module serves epochs, downloads and image decoding.
 */

/** A bar restarted for each phase of work (e.g. one per epoch), with a free-form info field. */
export interface Progress {
  start(total: number, label: string): void;
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** A bar for one job counted in items or bytes. */
export interface Counter {
  /** Advance by `delta` units. */
  increment(delta: number): void;
  /** Change the total once it becomes known (e.g. from a Content-Length header). */
  setTotal(total: number): void;
  stop(): void;
}

function newBar(format: string | cliProgress.GenericFormatter): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    { format, hideCursor: true, clearOnComplete: true, stream: process.stderr, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
}

/** Creates the restartable bar used for epochs; a no-op off a TTY or when disabled. */
export function createProgress(enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { start() {}, update() {}, stop() {} };
  const bar = newBar('{label} {bar} {value}/{total} | {info} | ETA {eta_formatted}');
  let running = false;
  return {
    start(total, label) {
      bar.start(total, 0, { label, info: '' });
      running = true;
    },
    update(value, payload) {
      if (!running) return;
      const info = payload
        ? Object.entries(payload)
            .map(([k, v]) => `${k} ${v}`)
            .join(' ')
        : '';
      bar.update(value, { info });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}

/** Creates a bar for one counted job (download bytes, decoded images); a no-op off a TTY or when disabled. */
export function createCounter(label: string, total: number, unit: 'bytes' | 'items', enabled = true): Counter {
  if (!enabled || !process.stderr.isTTY) return { increment() {}, setTotal() {}, stop() {} };
  const fmt = unit === 'bytes' ? formatBytes : (v: number) => String(v);
  const bar = newBar((options, params) => {
    const width = options.barsize ?? 30;
    const frac = params.total > 0 ? Math.min(1, params.value / params.total) : 0;
    const done = Math.round(frac * width);
    const eta = Number.isFinite(params.eta) && params.value > 0 ? ` eta ${params.eta}s` : '';
    return `${label} [${'#'.repeat(done)}${'-'.repeat(width - done)}] ${fmt(params.value)}/${fmt(params.total)}${eta}`;
  });
  bar.start(Math.max(1, total), 0);
  return {
    increment: (delta) => bar.increment(delta),
    setTotal: (t) => bar.setTotal(Math.max(1, t)),
    stop: () => bar.stop(),
  };
}
