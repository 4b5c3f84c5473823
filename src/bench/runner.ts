/**
 * Runs the cells of a bench, each as its own `pwlu train` child process (a crash or a leak stays in its
 * cell), at most `jobs` at a time. Re-running skips finished cells, resumes those with a checkpoint,
 * moves aside those that died before one, and records failed cells and goes on.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeManifest, type BenchManifest, type ManifestCell, type ManifestStatus } from '../run/bench-manifest.js';
import { BENCH_FILES, RUN_FILES } from '../run/files.js';
import { RunDir } from '../run/run-dir.js';
import { ExitCode, UserError } from '../util/errors.js';
import { archiveBenchError, inspectCell, moveAside, summaryStatus } from './cells.js';
import type { Cell } from './grid.js';
import { formatDuration, type BenchDisplay } from './progress.js';

/** How a child process ended. */
export interface LaunchResult {
  code: number | null;
  signal: string | null;
  /** The last part of its stderr. */
  stderrTail: string;
}

/** A running child. */
export interface ChildHandle {
  pid: number | undefined;
  done: Promise<LaunchResult>;
  /** Sends SIGINT (pwlu train then saves a checkpoint and exits 130). */
  interrupt(): void;
  /** Whether the child has said it is saving a checkpoint on an interrupt (it got a SIGINT already). */
  interruptSeen(): boolean;
}

/** Starts `pwlu <args>`; tests substitute their own. */
export type Launcher = (args: string[]) => ChildHandle;

/** The cells and how to start or resume one. */
export interface BenchPlan {
  /** The bench folder (absolute). */
  out: string;
  cells: Cell[];
  jobs: number;
  epochsPerCell: number;
  /** Arguments after `pwlu` that start a cell in `dir`. */
  newArgs(cell: Cell, dir: string): string[];
  /** Arguments after `pwlu` that resume the cell in `dir`. */
  resumeArgs(cell: Cell, dir: string): string[];
}

/** What happened to each cell, and whether the bench was stopped. */
export interface BenchOutcome {
  statuses: Map<string, ManifestStatus>;
  /** Cells that failed in this session, with the exit code of their process (null: killed by a signal). */
  failed: { name: string; code: number | null; signal?: string }[];
  interrupted: boolean;
  skipped: number;
}

const TAIL_BYTES = 16 * 1024;
const TAIL_LINES = 60;

/** Keeps the last `max` characters of a stream. */
class Tail {
  private text = '';
  constructor(private readonly max = TAIL_BYTES) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > 2 * this.max) this.text = this.text.slice(-this.max);
  }
  value(): string {
    return this.text.slice(-this.max);
  }
}

/** The launcher `pwlu bench` uses: `node <bin> <args>`, stdout ignored (results are in the run directory), stderr kept. */
export function spawnLauncher(bin: string, env: NodeJS.ProcessEnv = process.env): Launcher {
  return (args) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
    const tail = new Tail();
    let sawInterrupt = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      tail.push(d);
      if (d.includes('interrupt: saving a checkpoint')) sawInterrupt = true;
    });
    const done = new Promise<LaunchResult>((resolve) => {
      child.on('error', (e) => resolve({ code: null, signal: null, stderrTail: `${tail.value()}\ncould not start: ${e.message}` }));
      child.on('close', (code, signal) => resolve({ code, signal, stderrTail: tail.value() }));
    });
    return {
      pid: child.pid,
      done,
      interrupt: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      },
      interruptSeen: () => sawInterrupt,
    };
  };
}

/** Epochs a cell's run has recorded so far, for the progress bar. */
export function countEpochs(dir: string): number {
  return new RunDir(dir).readMetrics().epochs.length;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

function describeEnd(r: LaunchResult): string {
  if (r.signal) return `killed by ${r.signal}${r.signal === 'SIGKILL' ? ' (out of memory, or killed)' : ''}`;
  return `exit code ${r.code}`;
}

/** The one-line result of a finished cell, from its summary. */
function resultLine(dir: string): string {
  const s = new RunDir(dir).readSummary();
  if (!s) return '';
  const top1 = typeof s.final?.top1 === 'number' ? `top-1 ${s.final.top1.toFixed(2)}%` : 'top-1 n/a';
  const best = s.best && typeof s.best.top1 === 'number' ? ` (best ${s.best.top1.toFixed(2)}% ${s.best.split ?? 'test'} at epoch ${s.best.epoch})` : '';
  const wall = typeof s.wall_s === 'number' ? ` in ${formatDuration(s.wall_s)}` : '';
  return `${top1}${best}${wall}`;
}

/** Writes `bench-error.txt` into the cell directory: the command, how it ended and its stderr tail. */
function recordFailure(dir: string, cell: Cell, args: string[], r: LaunchResult): string {
  const tail = lastLines(r.stderrTail, TAIL_LINES);
  const text = [
    `pwlu bench: cell ${cell.name} failed (${describeEnd(r)}) at ${new Date().toISOString()}`,
    `command: pwlu ${args.join(' ')}`,
    '--- last lines of its stderr ---',
    tail || `(no output) ${describeEnd(r)}`,
    '',
  ].join('\n');
  new RunDir(dir).writeBenchError(text);
  return tail;
}

/**
 * Runs the plan: the cells not yet done, `jobs` at a time, each in its own process. Stops launching
 * when `stop` aborts, hands each running child one SIGINT (unless it already got the terminal's), and
 * waits for their checkpoints.
 */
export async function runBench(
  plan: BenchPlan,
  manifest: BenchManifest,
  opts: { launcher: Launcher; display: BenchDisplay; stop?: AbortSignal; interruptGraceMs?: number; tickMs?: number },
): Promise<BenchOutcome> {
  const cellsDir = join(plan.out, BENCH_FILES.cells);
  mkdirSync(cellsDir, { recursive: true });
  const mcell = new Map<string, ManifestCell>(manifest.cells.map((c) => [c.name, c]));
  const statuses = new Map<string, ManifestStatus>();
  const failed: BenchOutcome['failed'] = [];
  const save = () => writeManifest(plan.out, manifest);
  const dirOf = (c: Cell) => join(cellsDir, c.name);

  // What the disk says now: done cells are skipped without a process.
  const queue: Cell[] = [];
  let skipped = 0;
  const plannedModes = { resume: 0, restart: 0, start: 0 };
  const states = new Map(plan.cells.map((cell) => [cell.name, inspectCell(dirOf(cell))]));
  const busy = plan.cells.flatMap((cell) => {
    const st = states.get(cell.name)!;
    return st.kind === 'busy' ? [`${cell.name} (${st.why})`] : [];
  });
  if (busy.length > 0) throw new UserError(`${busy.length === 1 ? 'a cell is' : 'cells are'} still being trained by another process: ${busy.join(', ')}; wait for ${busy.length === 1 ? 'it' : 'them'} to end (or stop ${busy.length === 1 ? 'it' : 'them'} with kill -INT), then run the bench again`);
  for (const cell of plan.cells) {
    const st = states.get(cell.name)!;
    if (st.kind === 'done') {
      statuses.set(cell.name, st.status);
      mcell.get(cell.name)!.status = st.status;
      skipped++;
    } else {
      queue.push(cell);
      if (st.kind === 'resume') plannedModes.resume++;
      else if (st.kind === 'restart') plannedModes.restart++;
      else plannedModes.start++;
    }
  }
  save();
  const total = plan.cells.length;
  const parts = [`${total} cell${total === 1 ? '' : 's'}`];
  if (skipped) parts.push(`${skipped} already done`);
  if (plannedModes.resume) parts.push(`${plannedModes.resume} to resume`);
  if (plannedModes.restart) parts.push(`${plannedModes.restart} to restart (earlier attempt moved aside)`);
  if (plannedModes.start) parts.push(`${plannedModes.start} to start`);
  opts.display.note(`${parts.join(', ')}; ${plan.jobs} at a time`);

  const running = new Map<string, { cell: Cell; handle: ChildHandle; done: Promise<void> }>();
  let ended = 0;
  let failedCount = 0;
  let stopping = opts.stop?.aborted ?? false;

  const progress = () => {
    let epochs = 0;
    for (const cell of plan.cells) {
      const s = statuses.get(cell.name);
      if (s === 'finished' || s === 'diverged' || s === 'failed') epochs += plan.epochsPerCell;
      else epochs += Math.min(plan.epochsPerCell, countEpochs(dirOf(cell)));
    }
    const done = [...statuses.values()].filter((s) => s === 'finished' || s === 'diverged').length;
    opts.display.update({ total, done, running: running.size, failed: failedCount }, epochs, total * plan.epochsPerCell);
  };

  const start = (cell: Cell): void => {
    const dir = dirOf(cell);
    const m = mcell.get(cell.name)!;
    const st = inspectCell(dir);
    if (st.kind === 'done') {
      statuses.set(cell.name, st.status);
      m.status = st.status;
      skipped++;
      return;
    }
    if (st.kind === 'busy') {
      opts.display.note(`${cell.name}: ${st.why}; left alone (run the bench again when it has ended)`);
      statuses.set(cell.name, 'interrupted');
      m.status = 'interrupted';
      return;
    }
    let movedAside: string | undefined;
    if (st.kind === 'restart') {
      movedAside = moveAside(dir);
      opts.display.note(`${cell.name}: ${st.why}; moved to ${movedAside.slice(plan.out.length + 1)} and started again`);
    }
    const mode = st.kind === 'resume' ? 'resume' : 'new';
    if (mode === 'resume') archiveBenchError(dir);
    const args = mode === 'resume' ? plan.resumeArgs(cell, dir) : plan.newArgs(cell, dir);
    const handle = opts.launcher(args);
    m.status = 'running';
    m.pid = handle.pid;
    m.attempts.push({ mode, started: new Date().toISOString(), ...(movedAside ? { moved_aside: movedAside.slice(plan.out.length + 1) } : {}) });
    delete m.error_tail;
    statuses.set(cell.name, 'running');
    save();
    const done = handle.done.then((r) => {
      running.delete(cell.name);
      const attempt = m.attempts[m.attempts.length - 1]!;
      attempt.ended = new Date().toISOString();
      attempt.exit_code = r.code;
      attempt.signal = r.signal;
      delete m.pid;
      const summary = summaryStatus(dir);
      let status: ManifestStatus;
      if (r.code === 0 && summary === 'finished') status = 'finished';
      else if (r.code === ExitCode.diverged || summary === 'diverged') status = 'diverged';
      else if (r.code === ExitCode.interrupted || (r.code === 0 && summary === 'interrupted')) status = 'interrupted';
      else status = 'failed';
      m.status = status;
      statuses.set(cell.name, status);
      ended++;
      const tag = `[${ended + skipped}/${total}] ${cell.name}${mode === 'resume' ? ' (resumed)' : ''}`;
      if (status === 'failed') {
        failedCount++;
        const why = r.code === 0 ? 'exited 0 without a finished summary' : describeEnd(r);
        const tail = recordFailure(dir, cell, args, { ...r, stderrTail: r.stderrTail || why });
        m.error_tail = lastLines(tail, 20);
        failed.push({ name: cell.name, code: r.code, ...(r.signal ? { signal: r.signal } : {}) });
        const lastLine = tail.split('\n').reverse().find((l) => /error/i.test(l)) ?? tail.split('\n').pop() ?? '';
        opts.display.cellEnded(`${tag} FAILED (${why}): ${lastLine.trim()} — see ${BENCH_FILES.cells}/${cell.name}/${RUN_FILES.benchError}`);
      } else if (status === 'finished') {
        opts.display.cellEnded(`${tag} finished: ${resultLine(dir)}`);
      } else if (status === 'diverged') {
        opts.display.cellEnded(`${tag} diverged (a result: it is reported as such)`);
      } else {
        opts.display.cellEnded(`${tag} interrupted at epoch ${countEpochs(dir)}/${plan.epochsPerCell}; a re-run resumes it`);
      }
      save();
      progress();
    });
    running.set(cell.name, { cell, handle, done });
  };

  let graceTimer: NodeJS.Timeout | null = null;
  const onAbort = () => {
    stopping = true;
    opts.display.note(`stopping: no new cells; waiting for ${running.size} running cell${running.size === 1 ? '' : 's'} to save a checkpoint`);
    // A Ctrl-C on the terminal reaches the children too; a signal sent to the bench alone does not. Give
    // each child a moment to show it got one, then send SIGINT to the others (never a second one: that aborts).
    graceTimer = setTimeout(() => {
      for (const r of running.values()) if (!r.handle.interruptSeen()) r.handle.interrupt();
    }, opts.interruptGraceMs ?? 1000);
  };
  opts.stop?.addEventListener('abort', onAbort, { once: true });
  const ticker = setInterval(progress, opts.tickMs ?? 1000);
  ticker.unref();
  progress();
  try {
    for (;;) {
      while (!stopping && running.size < plan.jobs && queue.length > 0) start(queue.shift()!);
      if (running.size === 0) break;
      await Promise.race([...running.values()].map((r) => r.done));
    }
  } finally {
    clearInterval(ticker);
    if (graceTimer) clearTimeout(graceTimer);
    opts.stop?.removeEventListener('abort', onAbort);
    opts.display.stop();
  }
  for (const cell of queue) {
    const s: ManifestStatus = existsSync(dirOf(cell)) ? 'interrupted' : 'pending';
    statuses.set(cell.name, s);
    mcell.get(cell.name)!.status = s;
  }
  save();
  return { statuses, failed, interrupted: stopping, skipped };
}
