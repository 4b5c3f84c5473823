/** `pwlu train`: its options, flags → a training request (src/train/session.ts), the printed summary and the exit code. */
import type { Command } from 'commander';
import { COCO_AP_METRICS } from '../detection/coco-eval.js';
import { describeBest, NO_SELECTION_NOTE, type Summary } from '../run/records.js';
import type { TrainingRequest } from '../train/session.js';
import { ExitCode, UserError } from '../util/errors.js';
import { formatTable } from '../util/table.js';
import { backendOption, collect, deviceOption, parseIntArg } from './options.js';

/** `pwlu train`'s options as commander parses them. */
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

/** Defines `pwlu train` and its options on the program, so that main.ts only lists commands; the training code loads only when it runs. */
export function register(program: Command): void {
  program
    .command('train')
    .description('Train a model from a YAML experiment config; writes a run directory (config, metrics.jsonl, summary.json, checkpoints, log).')
    .option('-c, --config <file>', 'experiment config (YAML); keys not given take the schema defaults')
    .option('-s, --set <key=value>', 'override one config key, e.g. --set train.lr=0.05 (repeatable; applied after the YAML)', collect)
    .option('-o, --out <dir>', 'run directory to create (default: results/<arch>-<activation>-<dataset>-s<seed>-<time>); must not exist or be empty')
    .option('-r, --resume <run_dir>', 'continue an interrupted run from its last checkpoint (same schedule, same data order)')
    .addOption(backendOption())
    .option('-t, --threads <n>', 'compute threads for native backends (default: all cores; with --nproc, split between the ranks)', (v) =>
      parseIntArg('--threads', v),
    )
    .addOption(deviceOption())
    .option(
      '--nproc <n>',
      'one data-parallel run over N local processes (torch.distributed, gloo on CPU / nccl on CUDA; train.batch is per rank). torchrun and srun launches need no flag: pwlu reads their environment',
      (v) => parseIntArg('--nproc', v),
    )
    .option('--json', 'print summary.json on stdout instead of a text summary', false)
    .option('-q, --quiet', 'log only warnings on stderr (the run log keeps everything)', false)
    .action(async (opts: Partial<Pick<TrainCliOptions, 'set'>> & Omit<TrainCliOptions, 'set'>) => {
      await trainCommand({ ...opts, set: opts.set ?? [] });
    });
}

/**
 * Stops training cleanly on SIGINT and SIGTERM (Ctrl-C, kill, Slurm pre-emption, container
 * runtimes): the loop saves a checkpoint at the next step boundary and the command exits 130. A
 * repeated signal does not cut the save short; only SIGKILL does.
 */
export function stopOnSignals(): { stopped: () => boolean; dispose: () => void } {
  let signal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signal) {
      process.stderr.write(`\npwlu: ${sig} again: still saving the checkpoint; it is complete in a moment (kill -9 aborts without one)\n`);
      return;
    }
    signal = sig;
    process.stderr.write(`\npwlu: interrupt (${sig}): saving a checkpoint at the end of this step\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped: () => signal !== null,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The request the flags describe: --set for a new run only, the machine flags (backend, threads, device) for a resumed run too. */
function requestFrom(opts: TrainCliOptions, shouldStop?: () => boolean): TrainingRequest {
  const machineSets: string[] = [];
  if (opts.backend) machineSets.push(`backend=${opts.backend}`);
  if (opts.threads !== undefined) machineSets.push(`threads=${opts.threads}`);
  if (opts.device) machineSets.push(`device=${opts.device}`);
  return {
    config: opts.config,
    sets: opts.set,
    machineSets,
    out: opts.out,
    resume: opts.resume,
    quiet: opts.quiet,
    progressBar: !opts.quiet && process.stderr.isTTY === true,
    shouldStop,
  };
}

/** `pwlu train`: flags → training session → printed summary and exit code (on every rank of a data-parallel run; rank 0 prints). */
export async function trainCommand(opts: TrainCliOptions): Promise<void> {
  if (opts.resume && (opts.config || opts.set.length || opts.out)) {
    throw new UserError('--resume continues a run with the config saved in it; do not combine it with --config, --set or --out');
  }
  const session = await import('../train/session.js');
  if (opts.nproc !== undefined && opts.nproc > 1) {
    // The config is checked once here, before N ranks would each report the same mistake.
    const loaded = session.loadTrainingConfig(requestFrom(opts));
    const { relaunchAsRanks } = await import('../train/data-parallel.js');
    process.exitCode = await relaunchAsRanks({ nproc: opts.nproc, threads: loaded.config.threads });
    return;
  }
  const signals = stopOnSignals();
  try {
    const result = await session.runTraining(requestFrom(opts, signals.stopped));
    if (result.kind === 'already-finished') {
      const s = result.summary;
      process.stdout.write(`${result.dir} has finished already (${String(s.epochs_completed)}/${String(s.epochs)} epochs); nothing to do\n`);
      return;
    }
    if (result.summary.status === 'interrupted') process.exitCode = ExitCode.interrupted;
    if (!result.reports) return; // only rank 0 reports; the others end quietly with its exit status
    if (opts.json) process.stdout.write(`${JSON.stringify(result.summary)}\n`);
    else process.stdout.write(textSummary(result.summary, result.dir));
  } finally {
    signals.dispose();
  }
}

/** The printed summary: one `key  value` row per line. */
function textSummary(s: Summary, dir: string): string {
  const f = (v: number | null | undefined) => (v === undefined || v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(2));
  const best = s.best ? describeBest(s.best) : s.selection === 'none' ? NO_SELECTION_NOTE : 'n/a (no epoch evaluated yet)';
  const rows = [
    ['run', dir],
    ['status', s.status],
    ['model', `${s.arch} + ${s.activation} on ${s.dataset} (seed ${s.seed})`],
    ['epochs', `${s.epochs_completed}/${s.epochs}`],
    ...(s.task === 'detection'
      ? COCO_AP_METRICS.map((k) => [`test ${k}`, f(s.final_coco?.[k] != null && s.final_coco[k] >= 0 ? s.final_coco[k] * 100 : null)])
      : [
          ['test top-1', `${f(s.final?.top1)} %`],
          ['test top-5', `${f(s.final?.top5)} %`],
        ]),
    ['best', best],
    ['parameters', `${s.params.toLocaleString('en-US')} (activation: ${s.act_params})`],
    ['backend', `${s.backend.name} (${s.backend.reason})`],
    ...(s.distributed
      ? [
          [
            'data-parallel',
            `${s.distributed.world_size} ranks (${s.distributed.backend}, ${s.distributed.launcher}), global batch ${s.distributed.global_batch}${s.distributed.sync_bn ? ', sync BN' : ''}`,
          ],
        ]
      : []),
    ['throughput', `${Math.round(s.train_img_per_s)} train img/s`],
    ['wall time', `${(s.wall_s / 60).toFixed(1)} min`],
  ];
  return `${formatTable(rows).join('\n')}\n`;
}
