/**
 * A run directory, read and written only through here: config, metrics.jsonl, summary.json,
 * activations.json, checkpoints, the log, the lock and bench-error files. Writers are atomic or
 * append-only, readers accept any state a crash can leave (torn last line, missing summary).
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { ioError, sweepTempFiles, writeFileAtomic } from '../util/io.js';
import { isRecord, num, type Json } from '../util/json.js';
import { archivedBenchError, rankLogFile, RUN_FILES, type RunFile } from './files.js';
import { acquireLock, lockOwner, type Lock, type LockOwner } from './lock.js';
import { cocoFigures, type EpochRecord, type EventRecord, type Summary } from './records.js';

/**
 * A JSON file of the run as read back. `missing`: not written (yet); `corrupt`: there but unreadable or not an
 * object. Atomic writes never leave a torn file, so `corrupt` means damage or a foreign file, which a report
 * should show as such rather than as a run that has not finished.
 */
export type JsonFile<T> = { state: 'ok'; value: T } | { state: 'missing' } | { state: 'corrupt'; reason: string };

function readJsonObject(path: string): JsonFile<Json> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    return { state: 'corrupt', reason: `cannot read it: ${(e as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { state: 'corrupt', reason: `not valid JSON: ${(e as Error).message}` };
  }
  return isRecord(parsed) ? { state: 'ok', value: parsed } : { state: 'corrupt', reason: 'not a JSON object' };
}

/** Parses JSON lines, skipping a line a crash cut short (or any other unreadable line). */
function jsonLines(text: string): Json[] {
  const out: Json[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r: unknown = JSON.parse(line);
      if (isRecord(r)) out.push(r);
    } catch {
      // torn by a crash mid-write
    }
  }
  return out;
}

/** An epoch line as read back: missing numbers are NaN, evaluation fields null where the epoch was not evaluated. */

function epochRecord(r: Json, epoch: number): EpochRecord {
  const e: EpochRecord = {
    epoch,
    lr: num(r.lr) ?? NaN,
    train_loss: num(r.train_loss) ?? NaN,
    // Detection epochs have no training top-1 (null); older classification lines always had one.
    train_top1: r.train_top1 === null ? null : (num(r.train_top1) ?? NaN),
    test_loss: num(r.test_loss),
    test_top1: num(r.test_top1),
    test_top5: num(r.test_top5),
    seconds: num(r.seconds) ?? NaN,
    img_per_s: num(r.img_per_s) ?? NaN,
  };
  if ('val_top1' in r) Object.assign(e, { val_loss: num(r.val_loss), val_top1: num(r.val_top1), val_top5: num(r.val_top5) });
  if ('data_wait_s' in r) Object.assign(e, { data_wait_s: num(r.data_wait_s) ?? NaN, skipped_images: num(r.skipped_images) ?? 0 });
  if ('eval_skipped_images' in r) e.eval_skipped_images = num(r.eval_skipped_images) ?? 0;
  if ('train_cls_loss' in r) Object.assign(e, { train_cls_loss: num(r.train_cls_loss) ?? NaN, train_box_loss: num(r.train_box_loss) ?? NaN });
  if ('test_coco' in r) e.test_coco = cocoFigures(r.test_coco);
  if ('val_coco' in r) e.val_coco = cocoFigures(r.val_coco);
  return e;
}

/** What metrics.jsonl holds: one record per epoch (a line repeated by a resume keeps the last), and the events. */
export interface Metrics {
  epochs: EpochRecord[];
  events: EventRecord[];
}

/** One run directory. */
export class RunDir {
  constructor(readonly dir: string) {}

  /** The path of one of the run's files. */
  path(file: RunFile): string {
    return join(this.dir, RUN_FILES[file]);
  }

  /** The log a rank of a data-parallel run writes: train.log for rank 0, train.rank<N>.log for the others. */
  logPath(rank = 0): string {
    return rank === 0 ? this.path('log') : join(this.dir, rankLogFile(rank));
  }

  /** Whether the run has that file yet. */
  has(file: RunFile): boolean {
    return existsSync(this.path(file));
  }

  /** Appends one metrics line (append-only, so a crash loses at most the line being written). */
  appendMetrics(record: EpochRecord | EventRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    try {
      appendFileSync(this.path('metrics'), line);
    } catch (e) {
      throw ioError(e, this.path('metrics'), line.length);
    }
  }

  /** Every epoch and event record of metrics.jsonl, in order. */
  readMetrics(): Metrics {
    let text: string;
    try {
      text = readFileSync(this.path('metrics'), 'utf8');
    } catch {
      return { epochs: [], events: [] };
    }
    const byEpoch = new Map<number, EpochRecord>();
    const events: EventRecord[] = [];
    for (const r of jsonLines(text)) {
      const epoch = num(r.epoch);
      if (typeof r.event === 'string') events.push({ ...r, event: r.event, epoch: epoch ?? 0 });
      else if (epoch !== null) byEpoch.set(epoch, epochRecord(r, epoch));
    }
    return { epochs: [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch), events };
  }

  /** Keeps only the metrics records that pass `keep` (rewritten atomically); returns how many were dropped. */
  filterMetrics(keep: (record: Json) => boolean): number {
    if (!this.has('metrics')) return 0;
    const lines = readFileSync(this.path('metrics'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const kept = lines.filter((l) => {
      try {
        return keep(JSON.parse(l) as Json);
      } catch {
        return false; // a line torn by a crash mid-write
      }
    });
    if (kept.length !== lines.length) writeFileAtomic(this.path('metrics'), kept.map((l) => `${l}\n`).join(''));
    return lines.length - kept.length;
  }

  /** Writes summary.json atomically. */
  writeSummary(summary: Summary): void {
    writeFileAtomic(this.path('summary'), `${JSON.stringify(summary, null, 2)}\n`);
  }

  /** summary.json as far as it can be read (fields may be missing in old or foreign files), or null when missing or corrupt. */
  readSummary(): (Partial<Summary> & Json) | null {
    const s = this.summaryFile();
    return s.state === 'ok' ? s.value : null;
  }

  /** summary.json with why it could not be read, so a report can tell a corrupt summary from a run still going. */
  summaryFile(): JsonFile<Partial<Summary> & Json> {
    return readJsonObject(this.path('summary'));
  }

  /** Writes the resolved config (YAML text) atomically. */
  writeConfig(yaml: string): void {
    writeFileAtomic(this.path('config'), yaml);
  }

  /** The saved config's YAML text; a UserError naming the file when it cannot be read. */
  readConfigText(): string {
    try {
      return readFileSync(this.path('config'), 'utf8');
    } catch (e) {
      throw new UserError(`cannot read ${this.path('config')}: ${(e as Error).message}`);
    }
  }

  /** Rewrites activations.json: the learned activations' parameters at the end of `epoch`. */
  writeActivations(epoch: number, layers: unknown[]): void {
    writeFileAtomic(this.path('activations'), `${JSON.stringify({ epoch, layers })}\n`);
  }

  /** activations.json's epoch and layer records (each as written by its activation's describe hook). */
  readActivations(): { epoch: number | null; layers: Json[] } {
    const f = readJsonObject(this.path('activations'));
    const j = f.state === 'ok' ? f.value : null;
    if (j === null || !Array.isArray(j.layers)) return { epoch: null, layers: [] };
    return { epoch: num(j.epoch), layers: j.layers.filter(isRecord) };
  }

  /** Records why a bench cell's process failed. */
  writeBenchError(text: string): void {
    mkdirSync(this.dir, { recursive: true });
    writeFileAtomic(this.path('benchError'), text);
  }

  /** The bench-error.txt text, or null when the cell has none. */
  readBenchError(): string | null {
    try {
      return readFileSync(this.path('benchError'), 'utf8');
    } catch {
      return null;
    }
  }

  /** Sets a leftover bench-error.txt aside before a resume, so a report does not read an old failure as current. */
  archiveBenchError(): void {
    if (!this.has('benchError')) return;
    let n = 1;
    while (existsSync(join(this.dir, archivedBenchError(n)))) n++;
    renameSync(this.path('benchError'), join(this.dir, archivedBenchError(n)));
  }

  /** Removes the temp files of atomic writes a killed process left behind; returns their names. */
  sweepTemps(): string[] {
    return sweepTempFiles(this.dir);
  }

  /** Takes the run's exclusive lock for `what` (e.g. "pwlu train"); a UserError names a live owner. */
  lock(what: string, onStale?: (why: string) => void): Lock {
    return acquireLock(this.path('lock'), what, onStale);
  }

  /** The live process training in this directory, or null. */
  lockedBy(): LockOwner | null {
    return lockOwner(this.path('lock'));
  }
}

/**
 * A crash between appending an epoch's metrics and writing its checkpoint would repeat that epoch
 * on resume: drop every metrics record the checkpoint does not cover, so each epoch (and each
 * event, such as PWLU's realignment) appears exactly once. Returns how many records were dropped.
 */
export function trimMetricsToCheckpoint(run: RunDir, pos: { epoch: number; epochStarted: boolean }): number {
  return run.filterMetrics((r) => {
    const epoch = typeof r.epoch === 'number' ? r.epoch : 0;
    // Epoch lines count epochs 1-based; events carry the 0-based epoch they happened at the start of.
    if (!('event' in r)) return epoch <= pos.epoch;
    return epoch < pos.epoch || (epoch === pos.epoch && pos.epochStarted);
  });
}

/** A directory name from the run's identity and the time, e.g. resnet20-relu-fashion-mnist-s0-20261128-183000. */
export function defaultRunName(parts: string[], now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return [...parts, stamp].join('-');
}

function requireDirectory(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    return; // does not exist (yet)
  }
  if (!isDir) throw new UserError(`${dir} exists and is not a directory; name a new directory for the run`);
}

/**
 * Creates a fresh run directory and takes its lock; refuses one that already holds files, so
 * results are never overwritten silently (continue an existing run with --resume instead). The
 * lock makes two processes started on the same new directory at once fail cleanly: one wins.
 */
export function createRunDir(dir: string, what = 'pwlu train'): { run: RunDir; lock: Lock } {
  requireDirectory(dirname(dir));
  requireDirectory(dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw ioError(e, dir, 0);
  }
  const run = new RunDir(dir);
  const lock = run.lock(what);
  const others = readdirSync(dir).filter((f) => f !== RUN_FILES.lock);
  if (others.length > 0) {
    lock.release();
    throw new UserError(`run directory ${dir} already exists and is not empty; pick another --out, or continue it with --resume ${dir}`);
  }
  return { run, lock };
}

/** Opens an existing run directory (for --resume, eval, report); it must hold a resolved config. */
export function openRunDir(dir: string): RunDir {
  requireDirectory(dir);
  const rd = new RunDir(dir);
  if (!existsSync(dir)) throw new UserError(`run directory ${dir} does not exist`);
  if (!rd.has('config')) throw new UserError(`${dir} is not a pwlu run directory (no ${RUN_FILES.config})`);
  return rd;
}
