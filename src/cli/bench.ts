import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { availableParallelism, constants as osConstants } from 'node:os';
import { basename, extname, join, relative, resolve } from 'node:path';
import { activationNames } from '../activations/registry.js';
import { cellSets, expandGrid, parseList, parseSweep, seedList, type Cell } from '../bench/grid.js';
import { mergeCells } from '../bench/manifest.js';
import { readManifest, sweptKeys, writeManifest, type BenchManifest } from '../run/bench-manifest.js';
import { BENCH_FILES, RUN_FILES } from '../run/files.js';
import { acquireLock, commandLine, processAlive } from '../run/lock.js';
import { setupHash } from '../run/setup-hash.js';
import { createBenchDisplay } from '../bench/progress.js';
import { runBench, spawnLauncher } from '../bench/runner.js';
import { renderSlurmScript, slurmInstructions } from '../bench/slurm.js';
import { findConfig } from '../config/find.js';
import { valueAtPath } from '../config/introspect.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { renderReport, reportFromDir, writeReportFiles } from '../report/index.js';
import { ExitCode, UserError } from '../util/errors.js';
import { printConfigWarnings, registryChecks } from './common.js';
import { PROJECT_ROOT } from '../util/paths.js';

export interface BenchCliOptions {
  config?: string;
  set: string[];
  allActivations: boolean;
  activations?: string;
  archs?: string;
  seeds: number;
  jobs?: number;
  out?: string;
  backend?: string;
  emit?: string;
  sbatch: string[];
  /** `KEY=V1,V2,…` per --sweep: the grid takes every combination of their values. */
  sweep: string[];
  /** --emit slurm: ranks per cell (each cell one data-parallel run, srun inside the array task). */
  tasksPerCell?: number;
  /** --emit slurm: GPUs per cell, one per rank. */
  gpusPerCell?: number;
  baseline: string;
  json: boolean;
}

const BIN = join(PROJECT_ROOT, 'bin', 'pwlu.js');

/** The base config `pwlu bench` uses without --config: ResNet-20 on Fashion-MNIST, 5 epochs (the committed comparison's recipe). */
export const DEFAULT_BENCH_CONFIG = join(PROJECT_ROOT, 'configs', 'fashion-mnist', 'resnet20-5ep.yaml');

/** Threads per cell: the cores divided among the concurrent cells (at least one). */
export function threadsPerJob(jobs: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, jobs)));
}

function toSetArgs(sets: string[]): string[] {
  return sets.flatMap((s) => ['--set', s]);
}

interface Resolved {
  base: Config;
  baseHash: string;
  configPath: string;
  archs: string[];
  activations: string[];
  seeds: number[];
  cells: Cell[];
  out: string;
}

/** Loads the base config, expands the grid and validates every cell's config before anything runs. */
function resolvePlan(o: BenchCliOptions): Resolved {
  if (!o.config) process.stderr.write(`pwlu: no --config: using the default bench base ${relative(process.cwd(), DEFAULT_BENCH_CONFIG)}\n`);
  if (o.allActivations && o.activations) throw new UserError('give either --all-activations or --activations, not both');
  if (!(o.seeds >= 1)) throw new UserError(`--seeds must be at least 1 (got ${o.seeds})`);
  const configPath = resolve(findConfig(o.config ?? DEFAULT_BENCH_CONFIG));
  const loaded = loadConfig(configPath, o.set, { extraChecks: registryChecks });
  printConfigWarnings('bench', loaded.warnings); // the cells' own loads would repeat them; each cell logs them in its run
  const base = loaded.config;
  const archs = o.archs ? parseList('--archs', o.archs) : [base.model.arch];
  const activations = o.allActivations ? activationNames() : o.activations ? parseList('--activations', o.activations) : [base.activation.name];
  const seeds = seedList(base.seed, o.seeds);
  const sweeps = o.sweep.map(parseSweep);
  const cells = expandGrid(archs, activations, seeds, sweeps, (override) => {
    const key = override.slice(0, override.indexOf('='));
    const before = valueAtPath(base, key);
    if (before === undefined) return false; // an old key path: let the cell's own load migrate it
    try {
      return isDeepStrictEqual(valueAtPath(loadConfig(configPath, [...o.set, override]).config, key), before);
    } catch {
      return false; // an invalid value: the probe below names it
    }
  });
  // Every arch × activation × sweep combination must make a valid config (the seed does not change validity).
  const problems: string[] = [];
  for (const probe of cells.filter((c) => c.seed === seeds[0])) {
    try {
      loadConfig(configPath, [...o.set, ...cellSets(probe)], { extraChecks: registryChecks });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      problems.push(`cell ${[probe.arch, probe.activation, ...(probe.overrides ?? [])].join(' × ')}:\n  ${e.message.split('\n').join('\n  ')}`);
    }
  }
  if (problems.length) throw new UserError(problems.join('\n'));
  const stem = basename(configPath, extname(configPath));
  const out = resolve(o.out ?? join(PROJECT_ROOT, 'results', `bench-${stem}`));
  return { base, baseHash: loaded.hash, configPath, archs, activations, seeds, cells, out };
}

/** The folder's invocation history with this one appended (a re-run of the same command is not repeated). */
function withCommand(previous: BenchManifest | null, command: string[]): string[][] {
  const history = previous?.commands ?? (previous ? [previous.command] : []);
  return history.some((c) => isDeepStrictEqual(c, command)) ? history : [...history, command];
}

function newManifest(r: Resolved, o: BenchCliOptions, previous: BenchManifest | null, jobs: number, threads: number): BenchManifest {
  const now = new Date().toISOString();
  const cells = mergeCells(r.cells, previous);
  return {
    version: 1,
    created: previous?.created ?? now,
    updated: now,
    command: process.argv.slice(2),
    commands: withCommand(previous, process.argv.slice(2)),
    base_config: r.configPath,
    base_config_hash: r.baseHash,
    setup: setupHash(JSON.parse(JSON.stringify(r.base)) as Record<string, unknown>, sweptKeys(cells)),
    dataset: r.base.data.name,
    sets: o.set,
    backend: o.backend ?? null,
    archs: r.archs,
    activations: r.activations,
    seeds: r.seeds,
    jobs,
    threads_per_job: threads,
    cells,
  };
}

/** Refuses a results folder made from another base config: its cells would not be comparable. */
function checkSameBase(previous: BenchManifest | null, r: Resolved): void {
  if (previous && previous.base_config_hash !== r.baseHash) {
    throw new UserError(
      `${r.out} holds a bench of another base config (hash ${previous.base_config_hash}, now ${r.baseHash}: the config file or --set changed); ` +
        'pick a new --out, or restore the settings to continue that bench',
    );
  }
}

/** The bench's exit code for a failed cell: the cell's own documented code, 128 + the signal that killed it (as shells report), else internal. */
function benchExitCode(cell: { code: number | null; signal?: string }): number {
  if (cell.code !== null && (Object.values(ExitCode) as number[]).includes(cell.code)) return cell.code;
  const signal = cell.signal ? osConstants.signals[cell.signal as NodeJS.Signals] : undefined;
  return signal !== undefined ? 128 + signal : ExitCode.internal;
}

/** A cell still trained by a child of a bench that was killed on its own: resuming it now would race it. */
function checkOrphans(previous: BenchManifest | null, out: string): void {
  for (const c of previous?.cells ?? []) {
    if (c.status !== 'running' || !c.pid || !processAlive(c.pid)) continue;
    const cl = commandLine(c.pid);
    if (cl !== null && cl.includes(join(out, c.dir))) {
      throw new UserError(`cell ${c.name} is still being trained by pid ${c.pid} (left running by a bench that was killed); wait for it to end or stop it (kill -INT ${c.pid}), then run the bench again`);
    }
  }
}

function snapshotConfig(r: Resolved): string {
  const snap = join(r.out, BENCH_FILES.snapshot);
  copyFileSync(r.configPath, snap);
  return snap;
}

/** Ranks and GPUs of each Slurm cell: --gpus-per-cell G alone means G ranks, one GPU each. */
function cellRanks(o: BenchCliOptions): { tasksPerCell: number; gpusPerCell: number } {
  const gpus = o.gpusPerCell ?? 0;
  const tasks = o.tasksPerCell ?? Math.max(1, gpus);
  if (gpus > 0 && tasks !== gpus) throw new UserError(`--gpus-per-cell ${gpus} with --tasks-per-cell ${tasks}: a rank drives one GPU, so give as many tasks as GPUs (or leave --tasks-per-cell out)`);
  return { tasksPerCell: tasks, gpusPerCell: gpus };
}

function emitSlurm(r: Resolved, o: BenchCliOptions): void {
  mkdirSync(join(r.out, BENCH_FILES.cells), { recursive: true });
  mkdirSync(join(r.out, 'slurm'), { recursive: true });
  const previous = readManifest(r.out);
  checkSameBase(previous, r);
  const config = snapshotConfig(r);
  const script = renderSlurmScript({
    out: r.out,
    config,
    bin: BIN,
    cells: r.cells,
    cellSets,
    sets: o.set,
    backend: o.backend ?? null,
    throttle: o.jobs ?? null,
    sbatch: o.sbatch,
    ...cellRanks(o),
  });
  const path = join(r.out, 'bench.sbatch');
  writeFileSync(path, script, { mode: 0o755 });
  const m = newManifest(r, o, previous, o.jobs ?? r.cells.length, 0);
  m.base_config = config;
  writeManifest(r.out, m);
  process.stdout.write(slurmInstructions(path, r.out, r.cells.length));
}

/**
 * `pwlu bench`: the arch × activation × seed grid, each cell a `pwlu train` child process, resumable
 * by re-running the same command; ends with the comparison table (and report files in the folder).
 */
export async function benchCommand(o: BenchCliOptions): Promise<void> {
  const r = resolvePlan(o);
  if (o.emit === undefined && (o.tasksPerCell !== undefined || o.gpusPerCell !== undefined)) {
    throw new UserError('--tasks-per-cell and --gpus-per-cell shape the cells of --emit slurm; a local bench runs each cell as one process (use --jobs for parallel cells)');
  }
  if (o.emit !== undefined) {
    if (o.emit !== 'slurm') throw new UserError(`--emit supports 'slurm' (got '${o.emit}')`);
    emitSlurm(r, o);
    return;
  }
  const jobs = Math.max(1, o.jobs ?? 1);
  const threads = threadsPerJob(jobs);
  mkdirSync(join(r.out, BENCH_FILES.cells), { recursive: true });
  const lock = acquireLock(join(r.out, BENCH_FILES.lock), 'pwlu bench', (why) => process.stderr.write(`pwlu bench: ${why}\n`));
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) return;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const previous = readManifest(r.out);
    checkSameBase(previous, r);
    checkOrphans(previous, r.out);
    snapshotConfig(r);
    const manifest = newManifest(r, o, previous, jobs, threads);
    writeManifest(r.out, manifest);
    const flags = ['--json', '--threads', String(threads), ...(o.backend ? ['--backend', o.backend] : [])];
    const display = createBenchDisplay();
    const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
    const swept = o.sweep.map(parseSweep).map((sw) => ` × ${sw.values.length} ${sw.key}`).join('');
    display.note(`grid of ${n(r.archs.length, 'arch')} × ${n(r.activations.length, 'activation')}${swept} × ${n(r.seeds.length, 'seed')} in ${relative(process.cwd(), r.out) || '.'}; ${n(jobs, 'job')} × ${n(threads, 'thread')} each`);
    const outcome = await runBench(
      {
        out: r.out,
        cells: r.cells,
        jobs,
        epochsPerCell: r.base.train.epochs,
        newArgs: (cell, dir) => ['train', '--config', r.configPath, ...toSetArgs(o.set), ...toSetArgs(cellSets(cell)), '--out', dir, ...flags],
        resumeArgs: (_cell, dir) => ['train', '--resume', dir, ...flags],
      },
      manifest,
      { launcher: spawnLauncher(BIN), display, stop: controller.signal },
    );
    const report = reportFromDir(r.out, o.baseline);
    const files = writeReportFiles(r.out, report);
    process.stdout.write(renderReport(report, o.json ? 'json' : 'md'));
    process.stderr.write(`pwlu bench: wrote ${files.map((f) => relative(process.cwd(), f)).join(', ')}\n`);
    if (outcome.interrupted) {
      process.stderr.write('pwlu bench: interrupted; run the same command again to continue (finished cells are kept, the others resume)\n');
      process.exitCode = ExitCode.interrupted;
    } else if (outcome.failed.length > 0) {
      const first = outcome.failed[0]!;
      process.stderr.write(`pwlu bench: ${outcome.failed.length} cell${outcome.failed.length === 1 ? '' : 's'} failed (${outcome.failed.map((f) => f.name).join(', ')}); see ${BENCH_FILES.cells}/<name>/${RUN_FILES.benchError}. A re-run retries them.\n`);
      process.exitCode = benchExitCode(first);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lock.release();
  }
}
