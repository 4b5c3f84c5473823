import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** Renders pino's JSON lines as one readable line each for a person watching stderr. */
class HumanStderr extends Writable {
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        const extras = Object.entries(rec)
          .filter(([k]) => !SKIP.has(k))
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        const level = LEVELS[Number(rec.level)] ?? String(rec.level);
        const prefix = level === 'INFO' ? 'pwlu' : `pwlu ${level}`;
        process.stderr.write(`${prefix}: ${typeof rec.msg === 'string' ? rec.msg : JSON.stringify(rec.msg ?? '')}${extras ? `  ${extras}` : ''}\n`);
      } catch {
        process.stderr.write(`${line}\n`);
      }
    }
    done();
  }
}

/** A logger that writes JSON to the run's log file (if given) and readable lines to stderr. */
export function createLogger(opts: { file?: string; quiet?: boolean; level?: string } = {}): Logger & { close(): Promise<void> } {
  const streams: { stream: Writable | WriteStream; level?: string }[] = [];
  let file: WriteStream | null = null;
  if (opts.file) {
    file = createWriteStream(opts.file, { flags: 'a' });
    // A full disk must not crash the run from inside the logger: say so once, keep logging to stderr.
    file.once('error', (e) => process.stderr.write(`pwlu: cannot write the log ${opts.file}: ${e.message}\n`));
    streams.push({ stream: file, level: 'debug' });
  }
  if (!opts.quiet) streams.push({ stream: new HumanStderr(), level: opts.level ?? 'info' });
  const logger = pino({ level: 'debug', base: undefined }, pino.multistream(streams)) as Logger & { close(): Promise<void> };
  logger.close = () =>
    new Promise<void>((resolve) => {
      if (!file) return resolve();
      file.end(() => resolve());
    });
  return logger;
}
