import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

/** The files of one run; every command that reads or writes a run goes through these names. */
export const RUN_FILES = {
  config: 'config.yaml',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  log: 'train.log',
  last: 'checkpoint-last.ckpt',
  best: 'checkpoint-best.ckpt',
  /** Learned activation parameters and shapes, rewritten at every epoch end. */
  activations: 'activations.json',
} as const;

/** Paths inside a run directory. */
export class RunDir {
  constructor(readonly dir: string) {}
  path(file: keyof typeof RUN_FILES): string {
    return join(this.dir, RUN_FILES[file]);
  }
  has(file: keyof typeof RUN_FILES): boolean {
    return existsSync(this.path(file));
  }
  /** Appends one JSON line (metrics are append-only, so a crash loses at most the current epoch). */
  appendJsonl(file: keyof typeof RUN_FILES, record: object): void {
    appendFileSync(this.path(file), `${JSON.stringify(record)}\n`);
  }
  /** Keeps only the JSON-lines records that pass `keep` (rewritten atomically); returns how many were dropped. */
  filterJsonl(file: keyof typeof RUN_FILES, keep: (record: Record<string, unknown>) => boolean): number {
    if (!this.has(file)) return 0;
    const lines = readFileSync(this.path(file), 'utf8').split('\n').filter((l) => l.trim() !== '');
    const kept = lines.filter((l) => {
      try {
        return keep(JSON.parse(l) as Record<string, unknown>);
      } catch {
        return false; // a line torn by a crash mid-write
      }
    });
    if (kept.length !== lines.length) this.writeAtomic(file, kept.map((l) => `${l}\n`).join(''));
    return lines.length - kept.length;
  }
  /** Writes a whole file atomically (temp + rename). */
  writeAtomic(file: keyof typeof RUN_FILES, content: string): void {
    const p = this.path(file);
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, content);
    renameSync(tmp, p);
  }
}

/** A directory name from the run's identity and the time, e.g. resnet20-relu-fashion-mnist-s0-20261128-1830. */
export function defaultRunName(parts: string[], now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return [...parts, stamp].join('-');
}

/**
 * Creates a fresh run directory; refuses one that already holds files, so results are never
 * overwritten silently (resume an existing run with --resume instead).
 */
export function createRunDir(dir: string): RunDir {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new UserError(`run directory ${dir} already exists and is not empty; pick another --out, or continue it with --resume ${dir}`);
  }
  mkdirSync(dir, { recursive: true });
  return new RunDir(dir);
}

/** Opens an existing run directory for --resume / eval; it must hold a resolved config. */
export function openRunDir(dir: string): RunDir {
  const rd = new RunDir(dir);
  if (!existsSync(dir)) throw new UserError(`run directory ${dir} does not exist`);
  if (!rd.has('config')) throw new UserError(`${dir} is not a pwlu run directory (no ${RUN_FILES.config})`);
  return rd;
}
