/**
 * The speed engine behind `pwlu speed` and the benchmark scripts: a registered model set up for training
 * exactly as `pwlu train` sets it up (buildModel, paramGroups, Optimizer, makeTrainStep), one seeded random
 * batch, and median timings of the training step and of inference, with peak memory.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { PWLU_ONNX_FORMS } from '../activations/specs/pwlu.js';
import { selectBackend } from '../backends/select.js';
import { measurePeakMemory, type TensorBytesSource } from '../backends/memory.js';
import { ConfigSchema, type Config } from '../config/schema.js';
import type { DistEnv } from '../distributed/env.js';
import { countTrainable } from '../models/census.js';
import { disposeModel, predict } from '../models/infer.js';
import { joinDataParallel } from '../train/data-parallel.js';
import { Optimizer } from '../train/optimizer.js';
import { registryChecks } from '../train/registry-checks.js';
import { buildModel, makeTrainStep, paramGroups, type GradientReducer } from '../train/step.js';
import { UserError } from '../util/errors.js';
import { median } from '../util/median.js';
import { versions } from '../util/provenance.js';
import { Rng } from '../util/rng.js';
import { benchDetector } from './speed-detection.js';
import type { BenchInput, BenchModel, BenchModelOptions } from './bench-model.js';

export type { BenchInput, BenchModel, BenchModelOptions };

/**
 * Builds `config`'s model for training with one seeded random batch: the one setup that `pwlu speed` and the
 * scripts (scripts/lib/pwlu.mjs) time, so no benchmark keeps its own model, optimizer or step.
 */
export function benchModel(config: Config, inp: BenchInput, opts: BenchModelOptions = {}): BenchModel {
  if (inp.task === 'detection') return benchDetector(config, inp, opts);
  const shape: [number, number, number] = [inp.size, inp.size, inp.channels];
  const model = buildModel(config, { height: inp.size, width: inp.size, channels: inp.channels, numClasses: inp.classes });
  const groups = paramGroups(model, config.train.no_decay);
  const optimizer = new Optimizer(config.train, groups);
  opts.prepare?.(model);
  const trainStep = makeTrainStep(
    model,
    optimizer,
    groups.map((g) => g.variable),
    shape,
    config.train.label_smoothing,
    opts.reduce,
  );
  const rng = new Rng(inp.seed ?? 0);
  const x = new Float32Array(inp.batch * inp.size * inp.size * inp.channels);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Int32Array(inp.batch);
  for (let i = 0; i < y.length; i++) y[i] = rng.int(inp.classes);
  let xt: tf.Tensor4D | null = null;
  const input = () => (xt ??= tf.tensor4d(x, [inp.batch, ...shape]));
  return {
    model,
    optimizer,
    params: countTrainable(model),
    x,
    y,
    step: (lr) => trainStep(x, y, inp.batch, lr),
    input,
    logits: () => predict(model, input()),
    infer: () => {
      const s = tf.tidy(() => tf.sum(predict(model, input())));
      s.dataSync();
      s.dispose();
    },
    dispose: () => {
      xt?.dispose();
      optimizer.dispose();
      disposeModel(model);
    },
  };
}

/** What one speed measurement is of, and how long it times. */
export interface SpeedOptions {
  size: number;
  batch: number;
  classes: number;
  channels: number;
  /** Stem: 'auto' (small below 64 px), 'imagenet' (as torchvision's models at any size) or 'small'. */
  stem: 'auto' | 'imagenet' | 'small';
  backend?: string;
  /** The torch backend's device (auto: CUDA when visible). */
  device?: 'auto' | 'cpu' | 'cuda';
  threads?: number;
  warmup: number;
  steps: number;
  /** Also time inference of the ONNX export in onnxruntime-node. */
  onnx?: boolean;
  /** --onnx: onnxruntime's graph optimisation level (default 'all', its own default). */
  onnxLevel?: 'extended' | 'all';
  /** --onnx: PWLU's ONNX form (default: the export's, src/activations/specs/pwlu.ts). */
  onnxPwluForm?: string;
  /** --onnx: false writes PWLU's function body inline rather than as calls of the `pwlu.Pwlu` function. */
  onnxFunctions?: boolean;
  /** classification (default) or detection (RetinaNet over the architecture, as shared/bench/detection_reference.py). */
  task?: 'classification' | 'detection';
  /** Detection: FPN and head width. */
  headWidth?: number;
}

/** One measurement; the same JSON fields as shared/bench/pytorch_reference.py prints, plus memory. */
export interface SpeedResult {
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
  /** --onnx: onnxruntime's optimisation level, PWLU's ONNX form (pwlu only) and whether PWLU was function-wrapped. */
  onnx_level?: string;
  onnx_pwlu_form?: string;
  onnx_functions?: boolean;
}

/** Median seconds of `fn` over `steps` calls after `warmup` untimed ones: robust to a shared machine's outliers. */
export function timed(fn: () => void, warmup: number, steps: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

function threadsOf(backend: { detail: Record<string, unknown> }): number {
  return typeof backend.detail.threads === 'number' ? backend.detail.threads : 1;
}

/** Median seconds of one inference batch of the model's ONNX export (pwlu export's form unless `o` picks one) in onnxruntime-node. */
async function timeOnnx(model: tfl.LayersModel, x: tf.Tensor4D, threads: number, o: SpeedOptions): Promise<number> {
  // Loaded only for --onnx: the exporter's protobuf and onnxruntime packages are not needed to time tfjs.
  const [{ withOrtSession }, { exportOnnx }] = await Promise.all([import('../export/onnx/check.js'), import('../export/onnx/model.js')]);
  const bytes = exportOnnx(model, {
    batch: x.shape[0],
    forms: o.onnxPwluForm !== undefined ? { pwlu: o.onnxPwluForm } : undefined,
    functions: o.onnxFunctions,
  });
  return withOrtSession(
    bytes,
    x,
    threads,
    async (run) => {
      const times: number[] = [];
      for (let i = 0; i < o.warmup + o.steps; i++) {
        const t0 = performance.now();
        await run();
        if (i >= o.warmup) times.push((performance.now() - t0) / 1000);
      }
      return median(times);
    },
    o.onnxLevel ?? 'all',
  );
}

/** One measurement: a model of `arch` with `activation`, timed for training steps and inference (over the ranks of `env`, if given). */
export async function measureSpeed(o: SpeedOptions, arch: string, activation: string, env: DistEnv | null = null): Promise<SpeedResult> {
  const detection = o.task === 'detection';
  if (detection && o.onnx) throw new UserError('--onnx times classification networks; detectors are not exported');
  if (o.onnxPwluForm !== undefined && !(PWLU_ONNX_FORMS as readonly string[]).includes(o.onnxPwluForm))
    throw new UserError(`--onnx-pwlu-form: one of ${PWLU_ONNX_FORMS.join(', ')}`);
  const config = ConfigSchema.parse({
    backend: o.backend ?? 'auto',
    device: o.device ?? 'auto',
    threads: o.threads ?? 0,
    model: { arch, stem: o.stem },
    activation: { name: activation },
    // The reference's optimizer: SGD with momentum 0.9 and weight decay 1e-4 on every parameter.
    train: detection
      ? { batch: o.batch, lr: 0.01, weight_decay: 1e-4, no_decay: { bn: false, bias: false, activation: true }, optimizer: { name: 'sgd', momentum: 0.9 } }
      : { batch: o.batch, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
    ...(detection
      ? {
          task: 'detection',
          data: { name: 'fashion-mnist-detection' },
          detection: { head_width: o.headWidth ?? 256, backbone_bn: 'train', min_size: o.size, max_size: o.size },
        }
      : {}),
  });
  const issues = registryChecks(config);
  if (issues.length) throw new UserError(issues.map((i) => `--${i.path[0] === 'model' ? 'arch' : 'activation'}: ${i.message}`).join('\n'));
  const joined = env ? await joinDataParallel(env, config, { syncBatchNorm: false, what: 'a data-parallel measurement' }) : null;
  const backend = joined?.backend ?? (await selectBackend(config.backend, { threads: config.threads, device: config.device }));
  const dp = joined?.dp ?? null;
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
  const inp: BenchInput = { size: o.size, channels: o.channels, batch: o.batch, classes: o.classes, task: o.task };
  const m = benchModel(config, inp, { reduce, prepare: (model) => dp?.broadcastWeights(model.weights.map((w) => w.read() as tf.Variable)) });
  const reduceTimes: number[] = [];
  const trainS = timed(
    () => {
      reduceS = 0;
      m.step(0.01);
      reduceTimes.push(reduceS);
    },
    o.warmup,
    o.steps,
  );
  const world = dp?.worldSize ?? 1;
  const device = String(backend.detail.device ?? 'cpu');
  const trainMem = await measurePeakMemory(() => m.step(0.01), device);
  const xt = m.input();
  const inferS = timed(m.infer, o.warmup, o.steps);
  const inferMem = await measurePeakMemory(m.infer, device);
  const threads = threadsOf(backend);
  const onnxS = o.onnx ? await timeOnnx(m.model, xt, threads, o) : null;
  const result: SpeedResult = {
    framework: 'pwlu',
    version: versions().pwlu,
    backend: backend.name,
    threads,
    arch,
    act: activation,
    size: o.size,
    batch: o.batch,
    classes: o.classes,
    params: m.params,
    train_step_s: +trainS.toFixed(5),
    train_img_per_s: +((world * o.batch) / trainS).toFixed(2),
    infer_step_s: +inferS.toFixed(5),
    infer_img_per_s: +((world * o.batch) / inferS).toFixed(2),
    ...(onnxS !== null
      ? {
          onnx_infer_step_s: +onnxS.toFixed(5),
          onnx_infer_img_per_s: +(o.batch / onnxS).toFixed(2),
          onnx_level: o.onnxLevel ?? 'all',
          ...(activation === 'pwlu' ? { onnx_pwlu_form: o.onnxPwluForm ?? PWLU_ONNX_FORMS[0], onnx_functions: o.onnxFunctions !== false } : {}),
        }
      : {}),
    train_peak_bytes: trainMem.tensor_bytes,
    infer_peak_bytes: inferMem.tensor_bytes,
    peak_source: trainMem.source,
    train_peak_rss_bytes: trainMem.rss_bytes,
    infer_peak_rss_bytes: inferMem.rss_bytes,
    ...(dp
      ? {
          world_size: world,
          allreduce_s: +median(reduceTimes.slice(o.warmup)).toFixed(5),
          allreduce_share: +(median(reduceTimes.slice(o.warmup)) / trainS).toFixed(3),
        }
      : {}),
  };
  dp?.leave();
  m.dispose();
  return result;
}

/** Every registered activation on one architecture, with the ReLU reference each is compared against. */
export interface ActivationSweep {
  /** ReLU first, then the others in registry order. */
  rows: SpeedResult[];
  relu: SpeedResult;
}

/**
 * Measures every registered activation on `arch`. ReLU is measured first and again last, and the faster of the
 * two is the reference, so the process warming up (kernel compilation, caches) does not flatter the activations
 * measured after it.
 */
export async function measureAllActivations(o: SpeedOptions, arch: string): Promise<ActivationSweep> {
  const { activationNames } = await import('../activations/registry.js');
  const others = activationNames().filter((a) => a !== 'relu');
  const first = await measureSpeed(o, arch, 'relu');
  const rows: SpeedResult[] = [];
  for (const act of others) rows.push(await measureSpeed(o, arch, act));
  const last = await measureSpeed(o, arch, 'relu');
  const relu = last.train_img_per_s > first.train_img_per_s ? last : first;
  rows.unshift(relu);
  return { rows, relu };
}

/** A measurement relative to ReLU's, to three decimals: how the --all-activations table and JSON lines compare. */
export function vsRelu(v: number, ref: number): number {
  return +(v / ref).toFixed(3);
}
