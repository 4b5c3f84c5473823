import * as tf from '@tensorflow/tfjs-core';
import { ConfigSchema } from '../config/schema.js';
import { selectBackend, type ConcreteBackend } from '../backends/select.js';
import { Optimizer } from '../train/optimizer.js';
import { countTrainable } from '../train/state.js';
import { buildModel, makeTrainStep, paramGroups, type GradientReducer } from '../train/step.js';
import { Rng } from '../util/rng.js';
import { availableParallelism } from 'node:os';
import { BackendError, UserError } from '../util/errors.js';
import { distEnvFrom, type DistEnv } from '../distributed/env.js';
import { launchLocal, withoutOptions } from '../distributed/launch.js';
import { DataParallel } from '../train/data-parallel.js';
import { registryChecks, versions } from './common.js';
import { disposeModel, predict } from '../models/infer.js';
import { measurePeakMemory, type TensorBytesSource } from '../backends/memory.js';
import type * as tfl from '@tensorflow/tfjs-layers';
import { median } from '../util/median.js';

export interface SpeedCliOptions {
  arch: string;
  size: number;
  batch: number;
  classes: number;
  channels: number;
  activation: string;
  /** Stem: 'auto' (small below 64 px), 'imagenet' (as torchvision's models at any size) or 'small'. */
  stem: 'auto' | 'imagenet' | 'small';
  backend?: string;
  /** The torch backend's device (auto: CUDA when visible). */
  device?: 'auto' | 'cpu' | 'cuda';
  threads?: number;
  warmup: number;
  steps: number;
  json: boolean;
  /** Measure every registered activation (ReLU first) and print the ratio to ReLU. */
  allActivations?: boolean;
  /** Measure a data-parallel step over this many local ranks (--threads is then per rank). */
  nproc?: number;
  /** Also time inference of the ONNX export in onnxruntime-node. */
  onnx?: boolean;
}

const SOURCE_NAMES: Record<TensorBytesSource, string> = { 'torch-allocator': 'the torch addon\'s CPU allocator', tfjs: "tfjs's tensor bookkeeping" };

/** Bytes as MiB with one decimal ('—' when unknown). */
function mib(bytes: number | null): string {
  return bytes === null ? '—' : (bytes / 2 ** 20).toFixed(1);
}

function timed(fn: () => void, warmup: number, steps: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

interface SpeedResult {
  framework: string;
  version: string;
  backend: string;
  threads: number;
  arch: string;
  act: string;
  size: number;
  batch: number;
  classes: number;
  params: number;
  train_step_s: number;
  train_img_per_s: number;
  infer_step_s: number;
  infer_img_per_s: number;
  /** Data-parallel measurements: ranks, and the median seconds per step spent in the gradient allreduce (waiting for the slowest rank included). */
  world_size?: number;
  allreduce_s?: number;
  allreduce_share?: number;
  /** Peak tensor memory of one training step (forward, backward, update) and of one inference batch, in bytes. */
  train_peak_bytes: number;
  infer_peak_bytes: number;
  /** Where those figures come from: the torch addon's CPU allocator, or tfjs's tensor bookkeeping. */
  peak_source: TensorBytesSource;
  /** The process's peak resident set during the training step and the inference batch (null off Linux). */
  train_peak_rss_bytes: number | null;
  infer_peak_rss_bytes: number | null;
  /** --onnx: median seconds and img/s of one inference batch of the ONNX export in onnxruntime-node (CPU). */
  onnx_infer_step_s?: number;
  onnx_infer_img_per_s?: number;
}

/** One measurement: a model of `arch` with `activation`, timed for training steps and inference. */
async function measure(o: SpeedCliOptions, arch: string, activation: string, env: DistEnv | null = null): Promise<SpeedResult> {
  const config = ConfigSchema.parse({
    backend: o.backend ?? 'auto',
    device: o.device ?? 'auto',
    threads: o.threads ?? 0,
    model: { arch, stem: o.stem },
    activation: { name: activation },
    train: { batch: o.batch, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
  });
  const issues = registryChecks(config);
  if (issues.length) throw new UserError(issues.map((i) => `--${i.path[0] === 'model' ? 'arch' : 'activation'}: ${i.message}`).join('\n'));
  if (env && config.backend !== 'auto' && config.backend !== 'torch') throw new BackendError(`a data-parallel measurement needs the torch backend (its collectives are in the native addon), not '${config.backend}'`);
  const backend = await selectBackend(env ? 'torch' : (config.backend as 'auto' | ConcreteBackend), { threads: config.threads, device: config.device, cudaIndex: env?.localRank });
  const dp = env ? DataParallel.join(env, config.dist, { device: backend.detail.device === 'cuda' ? 'cuda' : 'cpu', syncBatchNorm: false }) : null;
  const shape: [number, number, number] = [o.size, o.size, o.channels];
  const model = buildModel(config, { height: o.size, width: o.size, channels: o.channels, numClasses: o.classes });
  const params = paramGroups(model, config.train.no_decay);
  const optimizer = new Optimizer(config.train, params);
  let reduceS = 0;
  const reduce: GradientReducer | undefined = dp
    ? (grads, figures) => {
        const t0 = performance.now();
        const out = dp.reduceStep(grads, figures);
        out.dataSync(); // the allreduce has completed
        reduceS += (performance.now() - t0) / 1000;
        return out;
      }
    : undefined;
  dp?.broadcastWeights(model.weights.map((w) => w.read() as tf.Variable));
  const step = makeTrainStep(model, optimizer, params.map((p) => p.variable), shape, 0, reduce);
  const rng = new Rng(0);
  const x = new Float32Array(o.batch * o.size * o.size * o.channels);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Int32Array(o.batch);
  for (let i = 0; i < y.length; i++) y[i] = rng.int(o.classes);
  const reduceTimes: number[] = [];
  const trainS = timed(
    () => {
      reduceS = 0;
      step(x, y, o.batch, 0.01);
      reduceTimes.push(reduceS);
    },
    o.warmup,
    o.steps,
  );
  const world = dp?.worldSize ?? 1;
  const device = String(backend.detail.device ?? 'cpu');
  const trainMem = await measurePeakMemory(() => step(x, y, o.batch, 0.01), device);
  const xt = tf.tensor4d(x, [o.batch, ...shape]);
  const infer = () => {
    const s = tf.tidy(() => tf.sum(predict(model, xt)));
    s.dataSync();
    s.dispose();
  };
  const inferS = timed(infer, o.warmup, o.steps);
  const inferMem = await measurePeakMemory(infer, device);
  const onnxS = o.onnx ? await timeOnnx(model, xt, threads(backend), o.warmup, o.steps) : null;
  xt.dispose();
  const result: SpeedResult = {
    framework: 'pwlu',
    version: versions().pwlu,
    backend: backend.name,
    threads: threads(backend),
    arch,
    act: activation,
    size: o.size,
    batch: o.batch,
    classes: o.classes,
    params: countTrainable(model),
    train_step_s: +trainS.toFixed(5),
    train_img_per_s: +((world * o.batch) / trainS).toFixed(2),
    infer_step_s: +inferS.toFixed(5),
    infer_img_per_s: +((world * o.batch) / inferS).toFixed(2),
    ...(onnxS !== null ? { onnx_infer_step_s: +onnxS.toFixed(5), onnx_infer_img_per_s: +(o.batch / onnxS).toFixed(2) } : {}),
    train_peak_bytes: trainMem.tensor_bytes,
    infer_peak_bytes: inferMem.tensor_bytes,
    peak_source: trainMem.source,
    train_peak_rss_bytes: trainMem.rss_bytes,
    infer_peak_rss_bytes: inferMem.rss_bytes,
    ...(dp ? { world_size: world, allreduce_s: +median(reduceTimes.slice(o.warmup)).toFixed(5), allreduce_share: +(median(reduceTimes.slice(o.warmup)) / trainS).toFixed(3) } : {}),
  };
  dp?.leave();
  optimizer.dispose();
  disposeModel(model);
  return result;
}

function threads(backend: { detail: Record<string, unknown> }): number {
  return typeof backend.detail.threads === 'number' ? backend.detail.threads : 1;
}

/** Median seconds of one inference batch of the model's ONNX export (pwlu export's form) in onnxruntime-node. */
async function timeOnnx(model: tfl.LayersModel, x: tf.Tensor4D, threads: number, warmup: number, steps: number): Promise<number> {
  // Loaded only for --onnx: the exporter's protobuf and onnxruntime packages are not needed to time tfjs.
  const [{ withOrtSession }, { exportOnnx }] = await Promise.all([import('../export/onnx/check.js'), import('../export/onnx/model.js')]);
  return withOrtSession(exportOnnx(model, { batch: x.shape[0] }), x, threads, async (run) => {
    const times: number[] = [];
    for (let i = 0; i < warmup + steps; i++) {
      const t0 = performance.now();
      await run();
      if (i >= warmup) times.push((performance.now() - t0) / 1000);
    }
    return median(times);
  });
}

/**
 * `pwlu speed`: median training-step (forward + backward + SGD momentum update) and inference
 * throughput on random data, printed with the same fields as shared/bench/pytorch_reference.py.
 * With --all-activations: every registered activation on each --arch, with the ratio to ReLU.
 */
export async function speedCommand(o: SpeedCliOptions): Promise<void> {
  if (o.nproc !== undefined && o.nproc > 1) {
    if (o.allActivations) throw new UserError('--nproc measures one model; drop --all-activations');
    if (distEnvFrom(process.env)) throw new UserError('--nproc inside a launcher\'s rank (WORLD_SIZE or SLURM_NTASKS is set): drop --nproc');
    // --threads is per rank here; the launcher splits a total.
    const perRank = o.threads ?? Math.max(1, Math.floor(availableParallelism() / o.nproc));
    process.exitCode = await launchLocal({ nproc: o.nproc, args: withoutOptions(process.argv.slice(2), [{ long: '--nproc' }, { long: '--threads', short: '-t' }]), threads: perRank * o.nproc });
    return;
  }
  if (o.allActivations) {
    await speedAllActivations(o);
    return;
  }
  const env = distEnvFrom(process.env);
  const result = await measure(o, o.arch, o.activation, env);
  if (env && env.rank !== 0) return; // rank 0 reports
  const trainS = result.train_step_s;
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `${o.arch} + ${o.activation} @${o.size} batch ${o.batch}${result.world_size ? ` per rank x ${result.world_size} ranks` : ''} on ${result.backend} (${result.threads} threads${result.world_size ? ' each' : ''}): ` +
        `train ${result.train_img_per_s} img/s (${(trainS * 1000).toFixed(1)} ms/step${result.allreduce_share !== undefined ? `, allreduce ${(100 * result.allreduce_share).toFixed(1)}%` : ''}), infer ${result.infer_img_per_s} img/s; ${result.params.toLocaleString('en-US')} params\n` +
        (result.onnx_infer_img_per_s !== undefined ? `ONNX export in onnxruntime-node: infer ${result.onnx_infer_img_per_s} img/s (${(result.onnx_infer_step_s! * 1000).toFixed(1)} ms/batch)\n` : '') +
        `peak memory: train step ${mib(result.train_peak_bytes)} MiB, inference ${mib(result.infer_peak_bytes)} MiB of tensors (${SOURCE_NAMES[result.peak_source]}); process RSS ${mib(result.train_peak_rss_bytes)} / ${mib(result.infer_peak_rss_bytes)} MiB\n`,
    );
}

/**
 * The --all-activations table: train/infer img/s per registered activation and the ratio to ReLU, per
 * architecture. ReLU is measured first and again last, and the faster of the two is the reference, so the
 * process warming up (kernel compilation, caches) does not flatter the activations measured after it.
 */
async function speedAllActivations(o: SpeedCliOptions): Promise<void> {
  const { activationNames } = await import('../activations/registry.js');
  const archs = [...new Set(o.arch.split(',').map((a) => a.trim()).filter(Boolean))];
  const others = activationNames().filter((a) => a !== 'relu');
  for (const arch of archs) {
    const first = await measure(o, arch, 'relu');
    const rows: SpeedResult[] = [];
    for (const act of others) rows.push(await measure(o, arch, act));
    const last = await measure(o, arch, 'relu');
    const relu = last.train_img_per_s > first.train_img_per_s ? last : first;
    rows.unshift(relu);
    const ratio = (v: number, ref: number) => +(v / ref).toFixed(3);
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
    const head = ['activation', 'params', 'train img/s', 'vs relu', 'infer img/s', 'vs relu', 'train MiB', 'vs relu', 'infer MiB', 'vs relu', 'RSS MiB', ...(o.onnx ? ['ONNX img/s', 'vs relu'] : [])];
    const table = rows.map((r) => [
      r.act,
      r.params.toLocaleString('en-US'),
      r.train_img_per_s.toFixed(1),
      `${ratio(r.train_img_per_s, relu.train_img_per_s).toFixed(2)}x`,
      r.infer_img_per_s.toFixed(1),
      `${ratio(r.infer_img_per_s, relu.infer_img_per_s).toFixed(2)}x`,
      mib(r.train_peak_bytes),
      `${ratio(r.train_peak_bytes, relu.train_peak_bytes).toFixed(2)}x`,
      mib(r.infer_peak_bytes),
      `${ratio(r.infer_peak_bytes, relu.infer_peak_bytes).toFixed(2)}x`,
      mib(r.train_peak_rss_bytes),
      ...(o.onnx ? [r.onnx_infer_img_per_s!.toFixed(1), `${ratio(r.onnx_infer_img_per_s!, relu.onnx_infer_img_per_s!).toFixed(2)}x`] : []),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    process.stdout.write(`${arch} @${o.size} batch ${o.batch} on ${relu.backend} (${relu.threads} threads), median of ${o.steps} steps; peak tensor memory of one step (${SOURCE_NAMES[relu.peak_source]}) and the process's peak RSS in that step:\n`);
    process.stdout.write(`${[line(head), ...table.map(line)].join('\n')}\n\n`);
  }
}
