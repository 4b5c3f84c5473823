import cliProgress from 'cli-progress';

/** A progress bar on stderr when it is a TTY, and nothing otherwise (logs carry the news then). */
export interface Progress {
  start(total: number, label: string): void;
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** Creates the bar used for epochs and long data work; a no-op off a TTY or when disabled. */
export function createProgress(enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return { start() {}, update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: '{label} {bar} {value}/{total} | {info} | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    start(total, label) {
      bar.start(total, 0, { label, info: '' });
      running = true;
    },
    update(value, payload) {
      if (!running) return;
      const info = payload ? Object.entries(payload).map(([k, v]) => `${k} ${v}`).join(' ') : '';
      bar.update(value, { info });
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
