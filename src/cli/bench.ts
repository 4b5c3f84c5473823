import { relative, resolve, join } from 'node:path';
import type { Command } from 'commander';
import type { BenchRequest } from '../bench/plan.js';
import { ExitCode, UserError } from '../util/errors.js';
import { backendOption, collect, parseIntArg } from './options.js';

/** Options of `pwlu bench`: the bench request (src/bench/plan.ts) and how to run it. */
export interface BenchCliOptions extends BenchRequest {
  jobs?: number;
  emit?: string;
  sbatch: string[];
  /** --emit slurm: ranks per cell (each cell one data-parallel run, srun inside the array task). */
  tasksPerCell?: number;
  /** --emit slurm: GPUs per cell, one per rank. */
  gpusPerCell?: number;
  baseline: string;
  json: boolean;
  /** Decide and prepare one cell of the --out folder for a Slurm task (exit codes: CELL_EXIT). */
  cell?: string;
}

/** Defines `pwlu bench` and its options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'Train the arch × activation × seed grid, one pwlu train child process per cell; re-run the same command to continue (finished cells are skipped, the others resume). Ends with the comparison table.',
    )
    .option('-c, --config <file>', 'base experiment config (YAML) every cell shares')
    .option('-s, --set <key=value>', 'override a base config key for every cell (repeatable)', collect)
    .option('--all-activations', 'one cell per registered activation', false)
    .option('--activations <list>', "comma-separated activations, e.g. relu,swish,pwlu (default: the config's)")
    .option('--archs <list>', "comma-separated architectures, e.g. resnet20,resnet56 (default: the config's)")
    .option('--seeds <n>', "seeds per cell: the config's seed and the next n-1", (v) => parseIntArg('--seeds', v), 1)
    .option(
      '-j, --jobs <n>',
      'cells run at once; each gets --threads floor(cores / jobs), at least 1 (default: 1). With --emit slurm: the array throttle %n',
      (v) => parseIntArg('--jobs', v),
    )
    .option(
      '-o, --out <dir>',
      'bench folder: cells/<arch>-<activation>-s<seed>/, bench.json, results.csv, report.md, report.html (default: results/bench-<config name>)',
    )
    .addOption(backendOption())
    .option('--emit <kind>', "write a job script instead of running: 'slurm' (an sbatch job array, one task per cell) into --out")
    .option('--sbatch <option>', 'extra #SBATCH option for --emit slurm, e.g. --sbatch partition=gpu --sbatch time=24:00:00 (repeatable)', collect)
    .option(
      '--sweep <key=v1,v2>',
      'sweep a config key over values (repeatable; the grid takes every combination), e.g. --sweep activation.pwlu.n=4,8,16,32 --sweep activation.pwlu.realign=true,false',
      collect,
    )
    .option(
      '--tasks-per-cell <n>',
      'with --emit slurm: each cell is one data-parallel run over n ranks (srun inside the array task; train.batch is per rank)',
      (v) => parseIntArg('--tasks-per-cell', v),
    )
    .option('--gpus-per-cell <n>', 'with --emit slurm: GPUs per cell, one rank per GPU (--gpus-per-task=1; implies --tasks-per-cell n)', (v) =>
      parseIntArg('--gpus-per-cell', v),
    )
    .option(
      '--baseline <name>',
      "what the Δs compare against: an activation, 'base' (a sweep's base-config row) or KEY=VALUE (a swept value, e.g. activation.pwlu.n=16)",
      'swish',
    )
    .option('--json', 'print the final report as JSON instead of the Markdown table', false)
    .option(
      '--cell <name>',
      'what the Slurm script runs: decide what cell <name> of --out needs (the same rules as a local bench) and prepare it; prints the state and exits 0 = start new, 10 = resume, 11 = done (skip), 12 = trained by another process',
    )
    .action(async (opts: Partial<Pick<BenchCliOptions, 'set' | 'sbatch' | 'sweep'>> & Omit<BenchCliOptions, 'set' | 'sbatch' | 'sweep'>) => {
      const o = { ...opts, set: opts.set ?? [], sbatch: opts.sbatch ?? [], sweep: opts.sweep ?? [] };
      if (o.cell !== undefined) await cellCommand(o);
      else await benchCommand(o);
    });
}

/** `pwlu bench --out DIR --cell NAME`: the Slurm task's decision, made by the runner's own rules (prepareCell), printed and returned as the exit code. */
async function cellCommand(o: BenchCliOptions): Promise<void> {
  const { CELL_EXIT, prepareCell } = await import('../bench/cells.js');
  const { BENCH_FILES } = await import('../run/files.js');
  const name = o.cell!;
  if (!o.out) throw new UserError('--cell needs --out: the bench folder that holds the cell');
  if (!/^[A-Za-z0-9_.=-]+$/.test(name) || name === '.' || name === '..')
    throw new UserError(`--cell '${name}' is not a cell name (a folder name under ${BENCH_FILES.cells}/)`);
  const others = o.config || o.set.length || o.emit || o.archs || o.activations || o.allActivations || o.sweep.length;
  if (others) throw new UserError('--cell looks at one cell of an existing bench folder; give only --out with it');
  const out = resolve(o.out);
  const st = prepareCell(join(out, BENCH_FILES.cells, name));
  const line =
    st.action === 'done'
      ? `done: ${st.status}`
      : st.action === 'busy'
        ? `busy: ${st.why}`
        : st.action === 'resume'
          ? `resume: ${st.why}`
          : st.movedAside
            ? `new: ${st.why}; moved to ${relative(out, st.movedAside)}`
            : 'new';
  process.stdout.write(`${line}\n`);
  process.exitCode = CELL_EXIT[st.action];
}

/**
 * `pwlu bench`: the arch × activation × seed grid, each cell a `pwlu train` child process, resumable
 * by re-running the same command; ends with the comparison table (and report files in the folder).
 */
export async function benchCommand(o: BenchCliOptions): Promise<void> {
  const plan = await import('../bench/plan.js');
  if (!o.config) process.stderr.write(`pwlu: no --config: using the default bench base ${relative(process.cwd(), plan.DEFAULT_BENCH_CONFIG)}\n`);
  const r = plan.planBench(o);
  const { printConfigWarnings } = await import('./common.js');
  printConfigWarnings('bench', r.warnings); // the cells' own loads would repeat them; each cell logs them in its run
  const argv = process.argv.slice(2);
  if (o.emit === undefined && (o.tasksPerCell !== undefined || o.gpusPerCell !== undefined)) {
    throw new UserError(
      '--tasks-per-cell and --gpus-per-cell shape the cells of --emit slurm; a local bench runs each cell as one process (use --jobs for parallel cells)',
    );
  }
  if (o.emit !== undefined) {
    if (o.emit !== 'slurm') throw new UserError(`--emit supports 'slurm' (got '${o.emit}')`);
    const { slurmInstructions } = await import('../bench/slurm.js');
    const path = plan.emitSlurm(
      r,
      { sets: o.set, backend: o.backend ?? null, throttle: o.jobs ?? null, sbatch: o.sbatch, tasksPerCell: o.tasksPerCell, gpusPerCell: o.gpusPerCell },
      argv,
    );
    process.stdout.write(slurmInstructions(path, r.out, r.cells.length));
    return;
  }
  const [
    { mkdirSync },
    { readManifest, writeManifest },
    { BENCH_FILES, RUN_FILES },
    { acquireLock },
    { createBenchDisplay },
    { runBench, spawnLauncher },
    { cellSets, parseSweep },
    report,
    { pwluBin },
  ] = await Promise.all([
    import('node:fs'),
    import('../run/bench-manifest.js'),
    import('../run/files.js'),
    import('../run/lock.js'),
    import('../bench/progress.js'),
    import('../bench/runner.js'),
    import('../bench/grid.js'),
    import('../report/index.js'),
    import('../util/workspace.js'),
  ]);
  const jobs = Math.max(1, o.jobs ?? 1);
  const threads = plan.threadsPerJob(jobs);
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
    plan.checkSameBase(previous, r);
    plan.checkOrphans(previous, r.out);
    plan.snapshotConfig(r);
    const manifest = plan.newManifest(r, { argv, sets: o.set, backend: o.backend ?? null, jobs, threads }, previous);
    writeManifest(r.out, manifest);
    const flags = ['--json', '--threads', String(threads), ...(o.backend ? ['--backend', o.backend] : [])];
    const toSetArgs = (sets: string[]) => sets.flatMap((s) => ['--set', s]);
    const display = createBenchDisplay();
    const n = (k: number, w: string) => `${k} ${w}${k === 1 ? '' : 's'}`;
    const swept = o.sweep
      .map(parseSweep)
      .map((sw) => ` × ${sw.values.length} ${sw.key}`)
      .join('');
    display.note(
      `grid of ${n(r.archs.length, 'arch')} × ${n(r.activations.length, 'activation')}${swept} × ${n(r.seeds.length, 'seed')} in ${relative(process.cwd(), r.out) || '.'}; ${n(jobs, 'job')} × ${n(threads, 'thread')} each`,
    );
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
      { launcher: spawnLauncher(pwluBin()), display, stop: controller.signal },
    );
    const rep = report.reportFromDir(r.out, o.baseline);
    const files = report.writeReportFiles(r.out, rep);
    process.stdout.write(report.renderReport(rep, o.json ? 'json' : 'md'));
    process.stderr.write(`pwlu bench: wrote ${files.map((f) => relative(process.cwd(), f)).join(', ')}\n`);
    if (outcome.interrupted) {
      process.stderr.write('pwlu bench: interrupted; run the same command again to continue (finished cells are kept, the others resume)\n');
      process.exitCode = ExitCode.interrupted;
    } else if (outcome.failed.length > 0) {
      const first = outcome.failed[0]!;
      process.stderr.write(
        `pwlu bench: ${outcome.failed.length} cell${outcome.failed.length === 1 ? '' : 's'} failed (${outcome.failed.map((f) => f.name).join(', ')}); see ${BENCH_FILES.cells}/<name>/${RUN_FILES.benchError}. A re-run retries them.\n`,
      );
      process.exitCode = plan.benchExitCode(first);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    lock.release();
  }
}
