import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import { PWLU_ONNX_FORMS } from '../activations/specs/pwlu.js';
import type { TensorBytesSource } from '../backends/memory.js';
import type { SpeedOptions, SpeedResult } from '../bench/speed.js';
import { UserError } from '../util/errors.js';
import { formatMiB } from '../util/format.js';
import { formatTable } from '../util/table.js';
import { backendOption, deviceOption, parseIntArg } from './options.js';

/** Options of `pwlu speed`. */
export interface SpeedCliOptions extends SpeedOptions {
  arch: string;
  activation: string;
  json: boolean;
  /** Measure every registered activation (ReLU first) and print the ratio to ReLU. */
  allActivations?: boolean;
  /** Measure a data-parallel step over this many local ranks (--threads is then per rank). */
  nproc?: number;
}

/** Defines `pwlu speed` and its options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  program
    .command('speed')
    .description(
      'Measure training-step and inference throughput on random data (same JSON fields as shared/bench/pytorch_reference.py; with --task detection, as shared/bench/detection_reference.py).',
    )
    .addOption(
      new Option(
        '--task <task>',
        'classification, or detection: RetinaNet with --arch as the backbone (FPN P3-P7, 9 anchors, focal + L1 loss; inference includes decoding and NMS), random boxes; --classes = logits per anchor (torchvision counts background: 11 for 10 classes)',
      )
        .choices(['classification', 'detection'])
        .default('classification'),
    )
    .option('--head-width <n>', 'detection: FPN and head width', (v) => parseIntArg('--head-width', v), 256)
    .option('-a, --arch <name>', 'architecture', 'resnet20')
    .option('--size <n>', 'input side length', (v) => parseIntArg('--size', v), 32)
    .option('--batch <n>', 'batch size', (v) => parseIntArg('--batch', v), 64)
    .option('--classes <n>', 'number of classes', (v) => parseIntArg('--classes', v), 10)
    .option('--channels <n>', 'input channels', (v) => parseIntArg('--channels', v), 3)
    .option('--activation <name>', 'activation', 'relu')
    .addOption(
      new Option(
        '--stem <stem>',
        "stem: auto = small below 64 px; imagenet = torchvision's stem at any size (compare like with like against pytorch_reference.py)",
      )
        .choices(['auto', 'imagenet', 'small'])
        .default('auto'),
    )
    .option(
      '--all-activations',
      'measure every registered activation (ReLU first) and print the ratio to ReLU; --arch may list several, comma-separated',
      false,
    )
    .addOption(backendOption())
    .addOption(deviceOption())
    .option('-t, --threads <n>', 'compute threads for native backends (default: all cores; with --nproc: per rank, default the cores split)', (v) =>
      parseIntArg('--threads', v),
    )
    .option(
      '--nproc <n>',
      'time a data-parallel step over N local ranks (torch.distributed, gloo): global img/s and the allreduce share of the step; --batch is per rank',
      (v) => parseIntArg('--nproc', v),
    )
    .option('--onnx', "also time inference of the model exported to ONNX (pwlu export's form) in onnxruntime-node on --threads threads", false)
    .addOption(
      new Option('--onnx-level <level>', "--onnx: onnxruntime's graph optimisation level (all adds the NCHWc layout pass to extended's fusions)")
        .choices(['all', 'extended'])
        .default('all'),
    )
    .addOption(
      new Option('--onnx-pwlu-form <form>', "--onnx: PWLU's ONNX form (default: the export's, chain; src/activations/specs/pwlu.ts)").choices(PWLU_ONNX_FORMS),
    )
    .option('--no-onnx-functions', "--onnx: write PWLU's nodes inline instead of as calls of its model-local pwlu.Pwlu function")
    .option('--warmup <n>', 'untimed warm-up steps', (v) => parseIntArg('--warmup', v), 3)
    .option('--steps <n>', 'timed steps (the median is reported)', (v) => parseIntArg('--steps', v), 10)
    .option('--json', 'print one JSON line (with --all-activations: one per activation, with train_vs_relu and infer_vs_relu)', false)
    .action(async (opts: SpeedCliOptions) => {
      await speedCommand(opts);
    });
}

const SOURCE_NAMES: Record<TensorBytesSource, string> = { 'torch-allocator': "the torch addon's CPU allocator", tfjs: "tfjs's tensor bookkeeping" };

/**
 * `pwlu speed`: median training-step (forward + backward + SGD momentum update) and inference
 * throughput on random data, printed with the same fields as shared/bench/pytorch_reference.py.
 * With --all-activations: every registered activation on each --arch, with the ratio to ReLU.
 */
export async function speedCommand(o: SpeedCliOptions): Promise<void> {
  if (o.nproc !== undefined && o.nproc > 1) {
    if (o.allActivations) throw new UserError('--nproc measures one model; drop --all-activations');
    const { relaunchAsRanks } = await import('../train/data-parallel.js');
    // --threads is per rank here; the launcher splits a total.
    const perRank = o.threads ?? Math.max(1, Math.floor(availableParallelism() / o.nproc));
    process.exitCode = await relaunchAsRanks({ nproc: o.nproc, threads: perRank * o.nproc });
    return;
  }
  const { distEnvFrom } = await import('../distributed/env.js');
  if (o.allActivations) {
    await speedAllActivations(o);
    return;
  }
  const { measureSpeed } = await import('../bench/speed.js');
  const env = distEnvFrom(process.env);
  const result = await measureSpeed(o, o.arch, o.activation, env);
  if (env && env.rank !== 0) return; // rank 0 reports
  const trainS = result.train_step_s;
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `${o.arch} + ${o.activation} @${o.size} batch ${o.batch}${result.world_size ? ` per rank x ${result.world_size} ranks` : ''} on ${result.backend} (${result.threads} threads${result.world_size ? ' each' : ''}): ` +
        `train ${result.train_img_per_s} img/s (${(trainS * 1000).toFixed(1)} ms/step${result.allreduce_share !== undefined ? `, allreduce ${(100 * result.allreduce_share).toFixed(1)}%` : ''}), infer ${result.infer_img_per_s} img/s; ${result.params.toLocaleString('en-US')} params\n` +
        (result.onnx_infer_img_per_s !== undefined
          ? `ONNX export in onnxruntime-node: infer ${result.onnx_infer_img_per_s} img/s (${(result.onnx_infer_step_s! * 1000).toFixed(1)} ms/batch)\n`
          : '') +
        `peak memory: train step ${formatMiB(result.train_peak_bytes)} MiB, inference ${formatMiB(result.infer_peak_bytes)} MiB of tensors (${SOURCE_NAMES[result.peak_source]}); process RSS ${formatMiB(result.train_peak_rss_bytes)} / ${formatMiB(result.infer_peak_rss_bytes)} MiB\n`,
    );
}

/** The --all-activations output: per architecture, one JSON line per activation or a table, each with its ratio to ReLU. */
async function speedAllActivations(o: SpeedCliOptions): Promise<void> {
  const { measureAllActivations, vsRelu: ratio } = await import('../bench/speed.js');
  const archs = [
    ...new Set(
      o.arch
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    ),
  ];
  for (const arch of archs) {
    const { rows, relu } = await measureAllActivations(o, arch);
    if (o.json) {
      for (const r of rows) {
        const vs = {
          train_vs_relu: ratio(r.train_img_per_s, relu.train_img_per_s),
          infer_vs_relu: ratio(r.infer_img_per_s, relu.infer_img_per_s),
          train_peak_vs_relu: ratio(r.train_peak_bytes, relu.train_peak_bytes),
          infer_peak_vs_relu: ratio(r.infer_peak_bytes, relu.infer_peak_bytes),
          ...(o.onnx ? { onnx_infer_vs_relu: ratio(r.onnx_infer_img_per_s!, relu.onnx_infer_img_per_s!) } : {}),
        };
        process.stdout.write(`${JSON.stringify({ ...r, ...vs })}\n`);
      }
      continue;
    }
    const x = (v: number, ref: number) => `${ratio(v, ref).toFixed(2)}x`;
    const head = [
      'activation',
      'params',
      'train img/s',
      'vs relu',
      'infer img/s',
      'vs relu',
      'train MiB',
      'vs relu',
      'infer MiB',
      'vs relu',
      'RSS MiB',
      ...(o.onnx ? ['ONNX img/s', 'vs relu'] : []),
    ];
    const table = rows.map((r: SpeedResult) => [
      r.act,
      r.params.toLocaleString('en-US'),
      r.train_img_per_s.toFixed(1),
      x(r.train_img_per_s, relu.train_img_per_s),
      r.infer_img_per_s.toFixed(1),
      x(r.infer_img_per_s, relu.infer_img_per_s),
      formatMiB(r.train_peak_bytes),
      x(r.train_peak_bytes, relu.train_peak_bytes),
      formatMiB(r.infer_peak_bytes),
      x(r.infer_peak_bytes, relu.infer_peak_bytes),
      formatMiB(r.train_peak_rss_bytes),
      ...(o.onnx ? [r.onnx_infer_img_per_s!.toFixed(1), x(r.onnx_infer_img_per_s!, relu.onnx_infer_img_per_s!)] : []),
    ]);
    process.stdout.write(
      `${arch} @${o.size} batch ${o.batch} on ${relu.backend} (${relu.threads} threads), median of ${o.steps} steps; peak tensor memory of one step (${SOURCE_NAMES[relu.peak_source]}) and the process's peak RSS in that step:\n`,
    );
    process.stdout.write(`${formatTable([head, ...table], (i) => (i === 0 ? 'left' : 'right')).join('\n')}\n\n`);
  }
}
