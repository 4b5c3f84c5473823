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
import { describeBest, headlineResult } from '../run/records.js';
import { classifyRun, errorLine, isDone } from '../run/status.js';
import { UserError } from '../util/errors.js';
import { inspectCell, prepareCell, summaryStatus } from './cells.js';
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
  const best = s.best ? ` (best: ${describeBest(s.best)})` : '';
  const wall = typeof s.wall_s === 'number' ? ` in ${formatDuration(s.wall_s)}` : '';
  return `${headlineResult(s)}${best}${wall}`;
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

/** The cells to launch and what the disk says of the others, decided before any process starts. */
export interface CellPlan {
  queue: Cell[];
  skipped: number;
  /** The line saying how many cells are done, to resume, to restart and to start. */
  note: string;
}

/**
 * Inspects every cell directory before anything runs: done cells are marked in the manifest and skipped without a
 * process; a cell another process still trains stops the bench with a message naming it.
 */
export function planCells(plan: BenchPlan, manifest: BenchManifest, statuses: Map<string, ManifestStatus>): CellPlan {
  const dirOf = (c: Cell) => join(plan.out, BENCH_FILES.cells, c.name);
  const states = new Map(plan.cells.map((cell) => [cell.name, inspectCell(dirOf(cell))]));
  const busy = plan.cells.flatMap((cell) => {
    const st = states.get(cell.name)!;
    return st.kind === 'busy' ? [`${cell.name} (${st.why})`] : [];
  });
  if (busy.length > 0) {
    const one = busy.length === 1;
    throw new UserError(
      `${one ? 'a cell is' : 'cells are'} still being trained by another process: ${busy.join(', ')}; wait for ${one ? 'it' : 'them'} to end (or stop ${one ? 'it' : 'them'} with kill -INT), then run the bench again`,
    );
  }
  const mcell = new Map<string, ManifestCell>(manifest.cells.map((c) => [c.name, c]));
  const queue: Cell[] = [];
  const modes = { resume: 0, restart: 0, start: 0 };
  let skipped = 0;
  for (const cell of plan.cells) {
    const st = states.get(cell.name)!;
    if (st.kind === 'done') {
      statuses.set(cell.name, st.status);
      mcell.get(cell.name)!.status = st.status;
      skipped++;
      continue;
    }
    queue.push(cell);
    if (st.kind === 'resume') modes.resume++;
    else if (st.kind === 'restart') modes.restart++;
    else modes.start++;
  }
  const total = plan.cells.length;
  const parts = [`${total} cell${total === 1 ? '' : 's'}`];
  if (skipped) parts.push(`${skipped} already done`);
  if (modes.resume) parts.push(`${modes.resume} to resume`);
  if (modes.restart) parts.push(`${modes.restart} to restart (earlier attempt moved aside)`);
  if (modes.start) parts.push(`${modes.start} to start`);
  return { queue, skipped, note: `${parts.join(', ')}; ${plan.jobs} at a time` };
}

/** Options of runBench: how to launch, where to show progress, and when to stop. */
export interface RunBenchOptions {
  launcher: Launcher;
  display: BenchDisplay;
  stop?: AbortSignal;
  interruptGraceMs?: number;
  tickMs?: number;
}

/** The state of one bench session: which cells run, how they ended, and the manifest kept in step with them. */
class CellRunner {
  readonly statuses = new Map<string, ManifestStatus>();
  readonly failed: BenchOutcome['failed'] = [];
  readonly running = new Map<string, { cell: Cell; handle: ChildHandle; done: Promise<void> }>();
  skipped = 0;
  private ended = 0;
  private failedCount = 0;
  private readonly mcell: Map<string, ManifestCell>;

  constructor(
    private readonly plan: BenchPlan,
    private readonly manifest: BenchManifest,
    private readonly opts: RunBenchOptions,
  ) {
    this.mcell = new Map(manifest.cells.map((c) => [c.name, c]));
  }

  dirOf(cell: Cell): string {
    return join(this.plan.out, BENCH_FILES.cells, cell.name);
  }

  save(): void {
    writeManifest(this.plan.out, this.manifest);
  }

  private setStatus(cell: Cell, status: ManifestStatus): void {
    this.statuses.set(cell.name, status);
    this.mcell.get(cell.name)!.status = status;
  }

  /** Redraws the progress line: cells done and epochs trained over the whole grid. */
  progress(): void {
    const { plan } = this;
    let epochs = 0;
    for (const cell of plan.cells) {
      const s = this.statuses.get(cell.name);
      if (s === 'finished' || s === 'diverged' || s === 'failed') epochs += plan.epochsPerCell;
      else epochs += Math.min(plan.epochsPerCell, countEpochs(this.dirOf(cell)));
    }
    const done = [...this.statuses.values()].filter((s) => isDone(s)).length;
    const total = plan.cells.length;
    this.opts.display.update({ total, done, running: this.running.size, failed: this.failedCount }, epochs, total * plan.epochsPerCell);
  }

  /** Prepares the cell's directory (the disk may have changed since planning) and launches its process. */
  start(cell: Cell): void {
    const { plan, opts } = this;
    const dir = this.dirOf(cell);
    const m = this.mcell.get(cell.name)!;
    const prepared = prepareCell(dir);
    if (prepared.action === 'done') {
      this.setStatus(cell, prepared.status);
      this.skipped++;
      return;
    }
    if (prepared.action === 'busy') {
      opts.display.note(`${cell.name}: ${prepared.why}; left alone (run the bench again when it has ended)`);
      this.setStatus(cell, 'interrupted');
      return;
    }
    const movedAside = prepared.action === 'new' && prepared.movedAside ? prepared.movedAside.slice(plan.out.length + 1) : undefined;
    if (movedAside) opts.display.note(`${cell.name}: ${prepared.why}; moved to ${movedAside} and started again`);
    const mode = prepared.action;
    const args = mode === 'resume' ? plan.resumeArgs(cell, dir) : plan.newArgs(cell, dir);
    const handle = opts.launcher(args);
    m.pid = handle.pid;
    m.attempts.push({ mode, started: new Date().toISOString(), ...(movedAside ? { moved_aside: movedAside } : {}) });
    delete m.error_tail;
    this.setStatus(cell, 'running');
    this.save();
    const done = handle.done.then((r) => this.onEnded(cell, mode, args, r));
    this.running.set(cell.name, { cell, handle, done });
  }

  /** Records how a cell's process ended (the shared classifier decides its status), says so, and saves the manifest. */
  private onEnded(cell: Cell, mode: 'new' | 'resume', args: string[], r: LaunchResult): void {
    const { plan, opts } = this;
    const dir = this.dirOf(cell);
    const m = this.mcell.get(cell.name)!;
    this.running.delete(cell.name);
    const attempt = m.attempts[m.attempts.length - 1]!;
    attempt.ended = new Date().toISOString();
    attempt.exit_code = r.code;
    attempt.signal = r.signal;
    delete m.pid;
    const status = classifyRun({ summary: summaryStatus(dir), exit: { code: r.code } });
    this.setStatus(cell, status);
    this.ended++;
    const tag = `[${this.ended + this.skipped}/${plan.cells.length}] ${cell.name}${mode === 'resume' ? ' (resumed)' : ''}`;
    if (status === 'failed') {
      this.failedCount++;
      const why = r.code === 0 ? 'exited 0 without a finished summary' : describeEnd(r);
      const tail = recordFailure(dir, cell, args, { ...r, stderrTail: r.stderrTail || why });
      m.error_tail = lastLines(tail, 20);
      this.failed.push({ name: cell.name, code: r.code, ...(r.signal ? { signal: r.signal } : {}) });
      opts.display.cellEnded(`${tag} FAILED (${why}): ${errorLine(tail)} — see ${BENCH_FILES.cells}/${cell.name}/${RUN_FILES.benchError}`);
    } else if (status === 'finished') {
      opts.display.cellEnded(`${tag} finished: ${resultLine(dir)}`);
    } else if (status === 'diverged') {
      opts.display.cellEnded(`${tag} diverged (a result: it is reported as such)`);
    } else {
      opts.display.cellEnded(`${tag} interrupted at epoch ${countEpochs(dir)}/${plan.epochsPerCell}; a re-run resumes it`);
    }
    this.save();
    this.progress();
  }

  /** Cells never launched (a stop came first): interrupted when they have files, else still pending. */
  settleQueue(queue: readonly Cell[]): void {
    for (const cell of queue) this.setStatus(cell, existsSync(this.dirOf(cell)) ? 'interrupted' : 'pending');
  }
}

/**
 * Runs the plan: the cells not yet done, `jobs` at a time, each in its own process. Stops launching
 * when `stop` aborts, hands each running child one SIGINT (unless it already got the terminal's), and
 * waits for their checkpoints.
 */
export async function runBench(plan: BenchPlan, manifest: BenchManifest, opts: RunBenchOptions): Promise<BenchOutcome> {
  mkdirSync(join(plan.out, BENCH_FILES.cells), { recursive: true });
  const runner = new CellRunner(plan, manifest, opts);
  const planned = planCells(plan, manifest, runner.statuses);
  const queue = [...planned.queue];
  runner.skipped = planned.skipped;
  runner.save();
  opts.display.note(planned.note);

  let stopping = opts.stop?.aborted ?? false;
  let graceTimer: NodeJS.Timeout | null = null;
  const onAbort = () => {
    stopping = true;
    const n = runner.running.size;
    opts.display.note(`stopping: no new cells; waiting for ${n} running cell${n === 1 ? '' : 's'} to save a checkpoint`);
    // A Ctrl-C on the terminal reaches the children too; a signal sent to the bench alone does not. Give
    // each child a moment to show it got one, then send SIGINT to the others (never a second one: that aborts).
    graceTimer = setTimeout(() => {
      for (const r of runner.running.values()) if (!r.handle.interruptSeen()) r.handle.interrupt();
    }, opts.interruptGraceMs ?? 1000);
  };
  opts.stop?.addEventListener('abort', onAbort, { once: true });
  const ticker = setInterval(() => runner.progress(), opts.tickMs ?? 1000);
  ticker.unref();
  runner.progress();
  try {
    for (;;) {
      while (!stopping && runner.running.size < plan.jobs && queue.length > 0) runner.start(queue.shift()!);
      if (runner.running.size === 0) break;
      await Promise.race([...runner.running.values()].map((r) => r.done));
    }
  } finally {
    clearInterval(ticker);
    if (graceTimer) clearTimeout(graceTimer);
    opts.stop?.removeEventListener('abort', onAbort);
    opts.display.stop();
  }
  runner.settleQueue(queue);
  runner.save();
  return { statuses: runner.statuses, failed: runner.failed, interrupted: stopping, skipped: runner.skipped };
}
