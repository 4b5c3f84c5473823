/**
 * Planning a bench: the base config and the arch × activation × sweep × seed grid, every cell's config
 * validated before anything runs, and bench.json (the folder's manifest) made from the plan and the
 * folder's history. Also writes the Slurm form of the same plan.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, constants as osConstants } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { activationNames } from '../activations/registry.js';
import { findConfig } from '../config/find.js';
import { valueAtPath } from '../config/introspect.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { registryChecks } from '../train/registry-checks.js';
import { readManifest, storedCommand, storedPath, sweptKeys, writeManifest, type BenchManifest, type ManifestCell } from '../run/bench-manifest.js';
import { BENCH_FILES } from '../run/files.js';
import { commandLine, processAlive } from '../run/lock.js';
import { setupHash } from '../run/setup-hash.js';
import { ExitCode, UserError } from '../util/errors.js';
import { overrideKey } from '../util/overrides.js';
import { configsDir, pwluBin, resultsDir } from '../util/workspace.js';
import { cellSets, expandGrid, parseList, parseSweep, seedList, type Cell } from './grid.js';
import { renderSlurmScript } from './slurm.js';

/** The base config `pwlu bench` uses without --config: ResNet-20 on Fashion-MNIST, 5 epochs (the committed comparison's recipe). */
export const DEFAULT_BENCH_CONFIG = join(configsDir(), 'fashion-mnist', 'resnet20-5ep.yaml');

/** What a bench is asked for: the base config, the grid's factors and the folder. */
export interface BenchRequest {
  config?: string;
  set: string[];
  allActivations: boolean;
  activations?: string;
  archs?: string;
  seeds: number;
  /** `KEY=V1,V2,…` per --sweep: the grid takes every combination of their values. */
  sweep: string[];
  out?: string;
  backend?: string;
}

/** A bench ready to run: the loaded base config, the grid and the folder (absolute). */
export interface PlannedBench {
  base: Config;
  baseHash: string;
  configPath: string;
  archs: string[];
  activations: string[];
  seeds: number[];
  cells: Cell[];
  out: string;
  /** The config loader's warnings (deprecated keys), for the command to print once. */
  warnings: string[];
}

/** Threads per cell: the cores divided among the concurrent cells (at least one), so parallel cells do not oversubscribe. */
export function threadsPerJob(jobs: number, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / Math.max(1, jobs)));
}

/** Loads the base config, expands the grid and validates every cell's config, so a bad cell fails before any runs. */
export function planBench(o: BenchRequest): PlannedBench {
  if (o.allActivations && o.activations) throw new UserError('give either --all-activations or --activations, not both');
  if (!(o.seeds >= 1)) throw new UserError(`--seeds must be at least 1 (got ${o.seeds})`);
  const configPath = resolve(findConfig(o.config ?? DEFAULT_BENCH_CONFIG));
  const loaded = loadConfig(configPath, o.set, { extraChecks: registryChecks });
  const base = loaded.config;
  const archs = o.archs ? parseList('--archs', o.archs) : [base.model.arch];
  const activations = o.allActivations ? activationNames() : o.activations ? parseList('--activations', o.activations) : [base.activation.name];
  const seeds = seedList(base.seed, o.seeds);
  const sweeps = o.sweep.map(parseSweep);
  const cells = expandGrid(archs, activations, seeds, sweeps, (override) => {
    const key = overrideKey(override);
    const before = key === null ? undefined : valueAtPath(base, key);
    if (key === null || before === undefined) return false; // an old key path: let the cell's own load migrate it
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
  const out = resolve(o.out ?? join(resultsDir(), `bench-${stem}`));
  return { base, baseHash: loaded.hash, configPath, archs, activations, seeds, cells, out, warnings: loaded.warnings };
}

/**
 * The manifest cells for this invocation's grid, carrying over each cell's history from an earlier
 * manifest; earlier cells outside the grid are kept when they were ever launched (their results exist).
 */
export function mergeCells(grid: Cell[], previous: BenchManifest | null): ManifestCell[] {
  const old = new Map((previous?.cells ?? []).map((c) => [c.name, c]));
  const cells: ManifestCell[] = grid.map((c) => {
    const o = old.get(c.name);
    return {
      ...c,
      dir: `${BENCH_FILES.cells}/${c.name}`,
      status: o?.status === 'running' ? 'pending' : (o?.status ?? 'pending'),
      attempts: o?.attempts ?? [],
      ...(o?.error_tail ? { error_tail: o.error_tail } : {}),
    };
  });
  const inGrid = new Set(grid.map((c) => c.name));
  for (const o of previous?.cells ?? []) if (!inGrid.has(o.name) && o.attempts.length > 0) cells.push({ ...o, pid: undefined });
  return cells;
}

/** The folder's invocation history with this one appended (a re-run of the same command is not repeated). */
function withCommand(previous: BenchManifest | null, command: string[]): string[][] {
  const history = previous?.commands ?? (previous ? [previous.command] : []);
  return history.some((c) => isDeepStrictEqual(c, command)) ? history : [...history, command];
}

/** How the bench runs: what the manifest records beside the plan. */
export interface ManifestRun {
  /** The invocation's arguments after `pwlu`. */
  argv: string[];
  sets: string[];
  backend: string | null;
  jobs: number;
  threads: number;
  /** The base config to record (default: the plan's), e.g. the Slurm snapshot. */
  baseConfig?: string;
}

/** bench.json for this plan, keeping the folder's history (creation time, earlier commands, earlier cells' attempts). */
export function newManifest(p: PlannedBench, run: ManifestRun, previous: BenchManifest | null): BenchManifest {
  const now = new Date().toISOString();
  const cells = mergeCells(p.cells, previous);
  const command = storedCommand(run.argv);
  return {
    version: 1,
    created: previous?.created ?? now,
    updated: now,
    command,
    commands: withCommand(previous, command),
    base_config: storedPath(run.baseConfig ?? p.configPath),
    base_config_hash: p.baseHash,
    setup: setupHash(JSON.parse(JSON.stringify(p.base)) as Record<string, unknown>, sweptKeys(cells)),
    dataset: p.base.data.name,
    sets: run.sets,
    backend: run.backend,
    archs: p.archs,
    activations: p.activations,
    seeds: p.seeds,
    jobs: run.jobs,
    threads_per_job: run.threads,
    cells,
  };
}

/** Refuses a results folder made from another base config: its cells would not be comparable. */
export function checkSameBase(previous: BenchManifest | null, p: PlannedBench): void {
  if (previous && previous.base_config_hash !== p.baseHash) {
    throw new UserError(
      `${p.out} holds a bench of another base config (hash ${previous.base_config_hash}, now ${p.baseHash}: the config file or --set changed); ` +
        'pick a new --out, or restore the settings to continue that bench',
    );
  }
}

/** Refuses to start while a cell is still trained by a child of a bench that was killed on its own: resuming it now would race it. */
export function checkOrphans(previous: BenchManifest | null, out: string): void {
  for (const c of previous?.cells ?? []) {
    if (c.status !== 'running' || !c.pid || !processAlive(c.pid)) continue;
    const cl = commandLine(c.pid);
    if (cl !== null && cl.includes(join(out, c.dir))) {
      throw new UserError(
        `cell ${c.name} is still being trained by pid ${c.pid} (left running by a bench that was killed); wait for it to end or stop it (kill -INT ${c.pid}), then run the bench again`,
      );
    }
  }
}

/** Copies the base config into the folder, so the cells can be re-made even if the original file changes; returns the copy's path. */
export function snapshotConfig(p: PlannedBench): string {
  const snap = join(p.out, BENCH_FILES.snapshot);
  copyFileSync(p.configPath, snap);
  return snap;
}

/** The bench's exit code for a failed cell: the cell's own documented code, 128 + the signal that killed it (as shells report), else internal. */
export function benchExitCode(cell: { code: number | null; signal?: string }): number {
  if (cell.code !== null && (Object.values(ExitCode) as number[]).includes(cell.code)) return cell.code;
  const signal = cell.signal ? osConstants.signals[cell.signal as NodeJS.Signals] : undefined;
  return signal !== undefined ? 128 + signal : ExitCode.internal;
}

/** How `--emit slurm` shapes each cell and its job array. */
export interface SlurmRequest {
  sets: string[];
  backend: string | null;
  /** Array throttle (`%n`), or null. */
  throttle: number | null;
  sbatch: string[];
  tasksPerCell?: number;
  gpusPerCell?: number;
}

/** Ranks and GPUs of each Slurm cell: --gpus-per-cell G alone means G ranks, one GPU each. */
export function cellRanks(o: Pick<SlurmRequest, 'tasksPerCell' | 'gpusPerCell'>): { tasksPerCell: number; gpusPerCell: number } {
  const gpus = o.gpusPerCell ?? 0;
  const tasks = o.tasksPerCell ?? Math.max(1, gpus);
  if (gpus > 0 && tasks !== gpus)
    throw new UserError(
      `--gpus-per-cell ${gpus} with --tasks-per-cell ${tasks}: a rank drives one GPU, so give as many tasks as GPUs (or leave --tasks-per-cell out)`,
    );
  return { tasksPerCell: tasks, gpusPerCell: gpus };
}

/** Writes the plan as a Slurm job array (bench.sbatch) plus bench.json into the folder; returns the script's path. */
export function emitSlurm(p: PlannedBench, o: SlurmRequest, argv: string[]): string {
  const ranks = cellRanks(o);
  mkdirSync(join(p.out, BENCH_FILES.cells), { recursive: true });
  mkdirSync(join(p.out, BENCH_FILES.slurmLogs), { recursive: true });
  const previous = readManifest(p.out);
  checkSameBase(previous, p);
  const config = snapshotConfig(p);
  const script = renderSlurmScript({
    out: p.out,
    config,
    bin: pwluBin(),
    cells: p.cells,
    cellSets,
    sets: o.sets,
    backend: o.backend,
    throttle: o.throttle,
    sbatch: o.sbatch,
    ...ranks,
  });
  const path = join(p.out, BENCH_FILES.slurmScript);
  writeFileSync(path, script, { mode: 0o755 });
  writeManifest(
    p.out,
    newManifest(p, { argv, sets: o.sets, backend: o.backend, jobs: o.throttle ?? p.cells.length, threads: 0, baseConfig: config }, previous),
  );
  return path;
}
