import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, UserError } from '../util/errors.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { BACKENDS } from '../config/schema.js';
import type { ModelsCliOptions } from './models.js';
import type { SpeedCliOptions } from './speed.js';
import type { BenchCliOptions } from './bench.js';
import type { ReportCliOptions } from './report.js';
import type { ExportCliOptions } from './export.js';
import type { DataShardCliOptions } from './data.js';


function version(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Repeatable options accumulate; their default is an empty list, not shown in --help. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The torch backend's device, the same choice for every command that computes. */
function deviceOption(): Option {
  return new Option('--device <device>', 'torch backend device (default: auto = CUDA when available)').choices(['auto', 'cpu', 'cuda']);
}

/** The --backend option every command shares; its choices come from the config schema's one list. */
function backendOption(): Option {
  return new Option('-b, --backend <name>', `tfjs backend: ${BACKENDS.join(' | ')} (default: the config's backend, "auto" = fastest available)`).choices(BACKENDS);
}

/** Builds the commander program; heavy modules (tfjs) load only inside the actions. */
export function buildProgram(): Command {
  const program = new Command('pwlu')
    .description('Learn specialised activation functions (PWLU, Zhou et al. ICCV 2021) and compare them against the baselines.')
    .version(version(), '-V, --version', 'print the pwlu version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });

  program
    .command('train')
    .description('Train a model from a YAML experiment config; writes a run directory (config, metrics.jsonl, summary.json, checkpoints, log).')
    .option('-c, --config <file>', 'experiment config (YAML); keys not given take the schema defaults')
    .option('-s, --set <key=value>', 'override one config key, e.g. --set train.lr=0.05 (repeatable; applied after the YAML)', collect)
    .option('-o, --out <dir>', 'run directory to create (default: results/<arch>-<activation>-<dataset>-s<seed>-<time>); must not exist or be empty')
    .option('-r, --resume <run_dir>', 'continue an interrupted run from its last checkpoint (same schedule, same data order)')
    .addOption(backendOption())
    .option('-t, --threads <n>', 'compute threads for native backends (default: all cores; with --nproc, split between the ranks)', (v) => parseIntArg('--threads', v))
    .addOption(deviceOption())
    .option(
      '--nproc <n>',
      'one data-parallel run over N local processes (torch.distributed, gloo on CPU / nccl on CUDA; train.batch is per rank). torchrun and srun launches need no flag: pwlu reads their environment',
      (v) => parseIntArg('--nproc', v),
    )
    .option('--json', 'print summary.json on stdout instead of a text summary', false)
    .option('-q, --quiet', 'log only warnings on stderr (the run log keeps everything)', false)
    .action(async (opts: Partial<Pick<TrainCliOptions, 'set'>> & Omit<TrainCliOptions, 'set'>) => {
      const { trainCommand } = await import('./train.js');
      await trainCommand({ ...opts, set: opts.set ?? [] });
    });

  program
    .command('eval')
    .description('Evaluate a run\'s checkpoint on the test split (top-1, top-5, loss).')
    .requiredOption('-r, --run <run_dir>', 'run directory written by pwlu train')
    .addOption(new Option('--checkpoint <which>', 'which checkpoint to load').choices(['best', 'last']).default('best'))
    .addOption(backendOption())
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: EvalCliOptions) => {
      const { evalCommand } = await import('./eval.js');
      await evalCommand(opts);
    });

  program
    .command('export')
    .description("Write a run's checkpoint as a deployable model: ONNX (standard opset 17, batch norm folded into the convolutions, every learned activation in standard operators) or a TensorFlow.js layers model; the export is checked against the run's own logits (onnxruntime-node; tfjs cpu with pwlu/layers) and kept only within 1e-4 relative.")
    .requiredOption('-r, --run <run_dir>', 'run directory written by pwlu train')
    .addOption(new Option('--checkpoint <which>', 'which checkpoint to export').choices(['best', 'last']).default('best'))
    .addOption(new Option('--format <format>', "onnx: standard-opset ONNX (NCHW); tfjs: TensorFlow.js layers model (model.json + weights.bin), loaded with the 'pwlu/layers' module").choices(['onnx', 'tfjs']).default('onnx'))
    .option('-o, --out <dir>', 'a new folder for the export (default: <run>/exports/<format>-<checkpoint>)')
    .option('--batch <n|dynamic>', "the model's batch dimension: a fixed size or 'dynamic'", 'dynamic')
    .option('--no-fold-bn', 'ONNX: keep each batch norm as its own BatchNormalization node instead of folding it into the convolution')
    .option('--json', 'print export.json (and the folder) as JSON', false)
    .action(async (opts: ExportCliOptions) => {
      const { exportCommand } = await import('./export.js');
      await exportCommand(opts);
    });

  const data = program.command('data').description('List, fetch and shard datasets.');
  data
    .command('list')
    .description('List known datasets, where each was found, and how to get the missing ones.')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const { dataListCommand } = await import('./data.js');
      await dataListCommand(opts);
    });
  data
    .command('get')
    .description('Find a dataset locally or download it (checksum-verified) into datasets/<name>/.')
    .argument('<name>', 'dataset name (see pwlu data list)')
    .action(async (name: string) => {
      const { dataGetCommand } = await import('./data.js');
      await dataGetCommand(name);
    });
  data
    .command('bench')
    .description('Input-pipeline throughput alone (no model) for a streamed dataset (imagefolder, shards): train and eval transforms, as shared/bench/dataloader_reference.py measures PyTorch\'s DataLoader.')
    .option('-c, --config <file>', 'experiment config naming the dataset (data.*) and the batch (train.batch); or give them with --set')
    .option('-s, --set <key=value>', 'override one config key (repeatable)', collect)
    .option('-w, --workers <n>', 'decoding workers (default: data.workers, else the cores left after the trainer\'s threads)', (v) => parseIntArg('--workers', v))
    .option('--batches <n>', 'timed batches per split', (v) => parseIntArg('--batches', v), 20)
    .option('--warmup <n>', 'untimed batches first', (v) => parseIntArg('--warmup', v), 3)
    .option('--json', 'print one JSON line', false)
    .action(async (opts: Partial<Pick<DataBenchCliOptions, 'set'>> & Omit<DataBenchCliOptions, 'set'>) => {
      const { dataBenchCommand } = await import('./data.js');
      await dataBenchCommand({ ...opts, set: opts.set ?? [] });
    });
  data
    .command('shard')
    .description("Write the config's image folder (data.dir) as WebDataset tar shards (train-%06d.tar, eval-%06d.tar) plus index.json, for data.name: shards. Re-run to finish an interrupted run.")
    .option('-c, --config <file>', 'experiment config (YAML): data.dir names the image folder, seed orders the training samples')
    .option('-s, --set <key=value>', 'override one config key (repeatable)', collect)
    .requiredOption('-o, --out <dir>', 'folder for the shards and index.json (new, empty, or an earlier unfinished run of the same command)')
    .option('--shard-size <size>', 'largest shard: 500MB, 1GB, 2GiB or bytes (default: 1GB)')
    .action(async (opts: Partial<Pick<DataShardCliOptions, 'set'>> & Omit<DataShardCliOptions, 'set'>) => {
      const { dataShardCommand } = await import('./data.js');
      await dataShardCommand({ ...opts, set: opts.set ?? [] });
    });

  program
    .command('speed')
    .description('Measure training-step and inference throughput on random data (same JSON fields as shared/bench/pytorch_reference.py).')
    .option('-a, --arch <name>', 'architecture', 'resnet20')
    .option('--size <n>', 'input side length', (v) => parseIntArg('--size', v), 32)
    .option('--batch <n>', 'batch size', (v) => parseIntArg('--batch', v), 64)
    .option('--classes <n>', 'number of classes', (v) => parseIntArg('--classes', v), 10)
    .option('--channels <n>', 'input channels', (v) => parseIntArg('--channels', v), 3)
    .option('--activation <name>', 'activation', 'relu')
    .addOption(new Option('--stem <stem>', "stem: auto = small below 64 px; imagenet = torchvision's stem at any size (compare like with like against pytorch_reference.py)").choices(['auto', 'imagenet', 'small']).default('auto'))
    .option('--all-activations', 'measure every registered activation (ReLU first) and print the ratio to ReLU; --arch may list several, comma-separated', false)
    .addOption(backendOption())
    .addOption(deviceOption())
    .option('-t, --threads <n>', 'compute threads for native backends (default: all cores; with --nproc: per rank, default the cores split)', (v) => parseIntArg('--threads', v))
    .option('--nproc <n>', 'time a data-parallel step over N local ranks (torch.distributed, gloo): global img/s and the allreduce share of the step; --batch is per rank', (v) => parseIntArg('--nproc', v))
    .option('--onnx', "also time inference of the model exported to ONNX (pwlu export's form) in onnxruntime-node on --threads threads", false)
    .option('--warmup <n>', 'untimed warm-up steps', (v) => parseIntArg('--warmup', v), 3)
    .option('--steps <n>', 'timed steps (the median is reported)', (v) => parseIntArg('--steps', v), 10)
    .option('--json', 'print one JSON line (with --all-activations: one per activation, with train_vs_relu and infer_vs_relu)', false)
    .action(async (opts: SpeedCliOptions) => {
      const { speedCommand } = await import('./speed.js');
      await speedCommand(opts);
    });

  program
    .command('bench')
    .description('Train the arch × activation × seed grid, one pwlu train child process per cell; re-run the same command to continue (finished cells are skipped, the others resume). Ends with the comparison table.')
    .option('-c, --config <file>', 'base experiment config (YAML) every cell shares')
    .option('-s, --set <key=value>', 'override a base config key for every cell (repeatable)', collect)
    .option('--all-activations', 'one cell per registered activation', false)
    .option('--activations <list>', "comma-separated activations, e.g. relu,swish,pwlu (default: the config's)")
    .option('--archs <list>', "comma-separated architectures, e.g. resnet20,resnet56 (default: the config's)")
    .option('--seeds <n>', "seeds per cell: the config's seed and the next n-1", (v) => parseIntArg('--seeds', v), 1)
    .option('-j, --jobs <n>', 'cells run at once; each gets --threads floor(cores / jobs), at least 1 (default: 1). With --emit slurm: the array throttle %n', (v) => parseIntArg('--jobs', v))
    .option('-o, --out <dir>', 'bench folder: cells/<arch>-<activation>-s<seed>/, bench.json, results.csv, report.md, report.html (default: results/bench-<config name>)')
    .addOption(backendOption())
    .option('--emit <kind>', "write a job script instead of running: 'slurm' (an sbatch job array, one task per cell) into --out")
    .option('--sbatch <option>', 'extra #SBATCH option for --emit slurm, e.g. --sbatch partition=gpu --sbatch time=24:00:00 (repeatable)', collect)
    .option('--sweep <key=v1,v2>', 'sweep a config key over values (repeatable; the grid takes every combination), e.g. --sweep activation.pwlu.n=4,8,16,32 --sweep activation.pwlu.realign=true,false', collect)
    .option('--tasks-per-cell <n>', 'with --emit slurm: each cell is one data-parallel run over n ranks (srun inside the array task; train.batch is per rank)', (v) => parseIntArg('--tasks-per-cell', v))
    .option('--gpus-per-cell <n>', 'with --emit slurm: GPUs per cell, one rank per GPU (--gpus-per-task=1; implies --tasks-per-cell n)', (v) => parseIntArg('--gpus-per-cell', v))
    .option('--baseline <name>', "what the Δs compare against: an activation, 'base' (a sweep's base-config row) or KEY=VALUE (a swept value, e.g. activation.pwlu.n=16)", 'swish')
    .option('--json', 'print the final report as JSON instead of the Markdown table', false)
    .action(async (opts: Partial<Pick<BenchCliOptions, 'set' | 'sbatch' | 'sweep'>> & Omit<BenchCliOptions, 'set' | 'sbatch' | 'sweep'>) => {
      const { benchCommand } = await import('./bench.js');
      await benchCommand({ ...opts, set: opts.set ?? [], sbatch: opts.sbatch ?? [], sweep: opts.sweep ?? [] });
    });

  program
    .command('report')
    .description("Compare the runs under a results folder (a bench's cells or plain run directories): top-1 mean ± std over seeds, Δ vs a baseline with Welch's t-test, the paper's PWLU − Swish, activation parameters, img/s.")
    .argument('[results_dir]', 'folder searched recursively for run directories (default: the most recent bench under results/, else results/)')
    .addOption(new Option('-f, --format <format>', 'md (tables), csv (results.csv: one row per run), html (self-contained, with charts), json (default: from --out\'s extension, else md)').choices(['md', 'csv', 'html', 'json']))
    .option('--baseline <name>', "what the Δs compare against: an activation (a column), 'base' (the base config's row of a sweep bench) or KEY=VALUE (the row with that swept value, e.g. activation.pwlu.n=16 or pwlu.n=16); a sweep bench without swish runs uses base", 'swish')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action(async (dir: string | undefined, opts: ReportCliOptions) => {
      const { reportCommand } = await import('./report.js');
      await reportCommand(dir, opts);
    });

  program
    .command('models')
    .description('List every architecture with its parameter count, activation sites and multiply-accumulates (MACs) at an input size.')
    .option('--size <n>', 'input side length (the small stem is used below 64)', (v) => parseIntArg('--size', v), 224)
    .option('--classes <n>', 'number of classes', (v) => parseIntArg('--classes', v), 1000)
    .option('--channels <n>', 'input channels', (v) => parseIntArg('--channels', v), 3)
    .option('--width <w>', 'width multiplier', (v) => parseFloatArg('--width', v), 1)
    .option('--activation <name>', "activation at every site, or 'reference' for each architecture's own", 'relu')
    .addOption(new Option('--sites <which>', "which sites take the activation: all, or default (MobileNet-V3: only the hard-swish sites)").choices(['all', 'default']).default('all'))
    .option('--json', 'print JSON', false)
    .action(async (opts: ModelsCliOptions) => {
      const { modelsCommand } = await import('./models.js');
      await modelsCommand(opts);
    });

  program
    .command('doctor')
    .description('Report which backends work on this machine and why the others do not; libtorch, threads, CUDA.')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      const { doctorCommand } = await import('./doctor.js');
      await doctorCommand(opts);
    });

  return program;
}

export interface TrainCliOptions {
  config?: string;
  set: string[];
  out?: string;
  resume?: string;
  backend?: string;
  threads?: number;
  device?: string;
  nproc?: number;
  json: boolean;
  quiet: boolean;
}

export interface DataBenchCliOptions {
  config?: string;
  set: string[];
  workers?: number;
  batches: number;
  warmup: number;
  json: boolean;
}



export interface EvalCliOptions {
  run: string;
  checkpoint: 'best' | 'last';
  backend?: string;
  json: boolean;
}

function parseFloatArg(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`${flag} must be a positive number (got '${v}')`);
  return n;
}

function parseIntArg(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${flag} must be a non-negative integer (got '${v}')`);
  return n;
}

/** Entry point: runs the CLI and maps every failure to a one-line message and a documented exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    // A command may end without an error yet with a status of its own (an interrupted run: 130).
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (e instanceof UserError) {
      process.stderr.write(`pwlu: error: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`pwlu: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.PWLU_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    else process.stderr.write('(set PWLU_DEBUG=1 for the stack trace)\n');
    return ExitCode.internal;
  }
}
