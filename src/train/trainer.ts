import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { isActivationLayer } from '../activations/types.js';
import { makeActivationFactory } from '../activations/registry.js';
import type { BackendChoice } from '../backends/select.js';
import type { Config } from '../config/schema.js';
import { epochBatches, numBatches } from '../data/batches.js';
import type { Dataset, Split } from '../data/types.js';
import { BatchNorm } from '../models/batchnorm.js';
import { getModel, resolveStem } from '../models/registry.js';
import { ExitCode, UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Progress } from '../util/progress.js';
import { readCheckpoint, writeCheckpoint, type StoredTensor } from './checkpoint.js';
import { crossEntropy, topKCorrect } from './metrics.js';
import { Optimizer, type ParamGroupEntry } from './optimizer.js';
import type { RunDir } from './rundir.js';
import { learningRate } from './schedule.js';
import { activationParamCount, countTrainable, loadModelTensors, modelTensors } from './state.js';
import { decayedActivationVariables, describeActivations, frozenVariableNames, startEpoch, stepHooks } from './activation-hooks.js';
import { predict } from '../models/infer.js';

/** Where training stands; stored in every checkpoint so a run resumes exactly. */
export interface TrainPosition {
  /** Epochs fully completed. */
  epoch: number;
  /** Batches done inside the current epoch (non-zero only for a mid-epoch checkpoint). */
  stepInEpoch: number;
  /** Whether the current epoch's start hooks (and their metrics events) have run. */
  epochStarted: boolean;
  globalStep: number;
  best: { top1: number; epoch: number } | null;
  /** Running sums of the current epoch, so that its train metrics survive an interruption. */
  epochAcc: { loss: number; correct: number; seen: number; seconds: number };
  /** Wall seconds spent training before this process (for summary.json). */
  wallBefore: number;
  configHash: string;
}

/** Eval results on one split. */
export interface EvalResult {
  loss: number;
  top1: number;
  top5: number;
  n: number;
}

/** One line of metrics.jsonl. */
export interface EpochMetrics {
  epoch: number;
  lr: number;
  train_loss: number;
  train_top1: number;
  test_loss: number;
  test_top1: number;
  test_top5: number;
  val_loss?: number;
  val_top1?: number;
  val_top5?: number;
  seconds: number;
  img_per_s: number;
}

/** Raised when the loss becomes NaN/Inf; exit code 4. */
export class DivergedError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.diverged);
  }
}

/** Everything `train` needs from the command that calls it. */
export interface TrainContext {
  config: Config;
  configHash: string;
  run: RunDir;
  log: Logger;
  progress: Progress;
  dataset: Dataset;
  val: Split | null;
  resume: boolean;
  /** Polled between steps; when it returns true a checkpoint is written and training stops. */
  shouldStop?: () => boolean;
}

export interface TrainOutcome {
  status: 'finished' | 'interrupted';
  position: TrainPosition;
  model: tfl.LayersModel;
  lastMetrics: EpochMetrics | null;
  params: number;
  actParams: number;
  trainImgPerS: number;
  wallSeconds: number;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Builds the configured network for a dataset: architecture, activation and seed from the config. */
export function buildModel(config: Config, ds: Pick<Dataset, 'height' | 'width' | 'channels' | 'numClasses'>): tfl.LayersModel {
  const entry = getModel(config.model.arch);
  if (!entry) throw new UserError(`unknown model.arch '${config.model.arch}'`);
  return entry.build({
    inputShape: [ds.height, ds.width, ds.channels],
    numClasses: ds.numClasses,
    width: config.model.width,
    stem: resolveStem(config.model.stem, Math.min(ds.height, ds.width)),
    activation: makeActivationFactory(config.activation, config.seed),
    sites: config.activation.sites,
    seed: config.seed,
  });
}

/** Splits trainable weights into decay / no-decay groups (BN, biases, activation parameters). */
export function paramGroups(model: tfl.LayersModel, noDecay: Config['train']['no_decay']): ParamGroupEntry[] {
  const out: ParamGroupEntry[] = [];
  for (const layer of model.layers) {
    const actDecayed = isActivationLayer(layer) ? decayedActivationVariables(layer) : new Set<string>();
    for (const w of layer.trainableWeights) {
      const isBias = /\/bias$/.test(w.originalName);
      const isAct = isActivationLayer(layer) && !actDecayed.has((w.read() as tf.Variable).name);
      const skip = (noDecay.bn && layer instanceof BatchNorm) || (noDecay.bias && isBias) || (noDecay.activation && isAct);
      out.push({ variable: w.read() as tf.Variable, name: w.originalName, decay: !skip });
    }
  }
  return out;
}

/** Loss and top-1/top-5 over a split, in batches, in inference mode. */
export function evaluate(model: tfl.LayersModel, split: Split, ds: Dataset, batchSize: number): EvalResult {
  let loss = 0;
  let top1 = 0;
  let top5 = 0;
  for (const b of epochBatches(split, ds, { batchSize, seed: 0, epoch: 0, shuffle: false, augment: null, dropLast: false })) {
    const [l, c1, c5] = tf.tidy(() => {
      const x = tf.tensor4d(b.x.subarray(0, b.size * ds.height * ds.width * ds.channels), [b.size, ds.height, ds.width, ds.channels]);
      const y = tf.tensor1d(b.y.subarray(0, b.size), 'int32');
      const logits = predict(model, x) as tf.Tensor2D;
      const { top1: t1, topk } = topKCorrect(logits, y, 5);
      return [tf.mul(crossEntropy(logits, y, 0), b.size), t1, topk];
    });
    const vals = [l, c1, c5].map((t) => {
      const v = t.dataSync()[0];
      t.dispose();
      return v;
    });
    loss += vals[0];
    top1 += vals[1];
    top5 += vals[2];
  }
  const n = split.n;
  return { loss: loss / n, top1: (100 * top1) / n, top5: (100 * top5) / n, n };
}

/**
 * One optimisation step (forward, backward, update) on a batch given as flat NHWC floats; returns
 * the batch loss (cross-entropy; an activation's penalty term is optimised but not reported) and
 * the number of correct top-1 predictions. Shared by training and `pwlu speed`. The activations'
 * step hooks (penalty, gradient clipping, post-update guard) are applied here.
 */
export function makeTrainStep(
  model: tfl.LayersModel,
  optimizer: Optimizer,
  vars: tf.Variable[],
  [h, w, c]: [number, number, number],
  labelSmoothing: number,
): (x: Float32Array, y: Int32Array, size: number, lr: number) => { loss: number; correct: number } {
  const hooks = stepHooks(model);
  return (xs, ys, size, lr) => {
    let correctT: tf.Tensor | null = null;
    const lossT = tf.tidy(() => {
      const x = tf.tensor4d(xs.subarray(0, size * h * w * c), [size, h, w, c]);
      const y = tf.tensor1d(ys.subarray(0, size), 'int32');
      let ce: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const logits = model.apply(x, { training: true }) as tf.Tensor2D;
        correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')));
        const loss = crossEntropy(logits, y, labelSmoothing);
        const reg = hooks.regularization();
        if (!reg) return loss;
        ce = tf.keep(loss);
        return tf.add(loss, reg) as tf.Scalar;
      }, vars);
      hooks.clip(grads);
      optimizer.apply(grads, lr);
      return ce ?? value;
    });
    hooks.afterStep();
    const loss = lossT.dataSync()[0];
    const kept = correctT as tf.Tensor | null;
    const correct = kept ? kept.dataSync()[0] : 0;
    lossT.dispose();
    kept?.dispose();
    return { loss, correct };
  };
}

/**
 * A crash between appending an epoch's metrics and writing its checkpoint would repeat that epoch
 * on resume: drop every metrics record the checkpoint does not cover, so each epoch (and each
 * event, such as PWLU's realignment) appears exactly once. Returns how many records were dropped.
 */
export function trimMetricsToCheckpoint(run: RunDir, pos: Pick<TrainPosition, 'epoch' | 'epochStarted'>): number {
  return run.filterJsonl('metrics', (r) => {
    const epoch = typeof r.epoch === 'number' ? r.epoch : 0;
    // Epoch lines count epochs 1-based; events carry the 0-based epoch they happened at the start of.
    if (!('event' in r)) return epoch <= pos.epoch;
    return epoch < pos.epoch || (epoch === pos.epoch && pos.epochStarted);
  });
}

type Meta = TrainPosition & { optimizer: { step: number } };

function freshPosition(configHash: string): TrainPosition {
  return { epoch: 0, stepInEpoch: 0, epochStarted: false, globalStep: 0, best: null, epochAcc: { loss: 0, correct: 0, seen: 0, seconds: 0 }, wallBefore: 0, configHash };
}

/**
 * Our own training loop (not model.fit), so that schedules, metrics, checkpoints and the PWLU
 * phases stay under our control. Resumable at any step: data order and augmentation depend only
 * on (seed, epoch, batch), and the checkpoint holds weights, optimizer slots and the position.
 */
export async function train(ctx: TrainContext): Promise<TrainOutcome> {
  const { config, run, log, dataset: ds } = ctx;
  const tc = config.train;
  const model = buildModel(config, ds);
  const params = paramGroups(model, tc.no_decay);
  const optimizer = new Optimizer(tc, params);
  const nParams = countTrainable(model);
  const actParams = activationParamCount(model);
  let pos = freshPosition(ctx.configHash);

  if (ctx.resume && run.has('last')) {
    const ckpt = readCheckpoint<Meta>(run.path('last'));
    const weights: StoredTensor[] = [];
    const slots: StoredTensor[] = [];
    for (const t of ckpt.tensors) (t.name.startsWith('opt:') ? slots : weights).push(t);
    loadModelTensors(model, weights, run.path('last'));
    optimizer.setState(ckpt.meta.optimizer.step, slots.map((s) => ({ ...s, name: s.name.slice(4) })));
    const { optimizer: _o, ...rest } = ckpt.meta;
    pos = rest;
    const dropped = trimMetricsToCheckpoint(run, pos);
    log.info({ epoch: pos.epoch, step: pos.stepInEpoch, dropped_metric_lines: dropped }, 'resumed from checkpoint');
  } else if (ctx.resume) {
    log.warn('no checkpoint found in the run directory: starting from scratch');
  }

  const started = Date.now();
  const wallBase = pos.wallBefore;
  const wallNow = () => wallBase + (Date.now() - started) / 1000;
  const saveCheckpoint = (file: 'last' | 'best') => {
    const opt = optimizer.getState();
    const tensors: StoredTensor[] = [
      ...modelTensors(model),
      ...opt.slots.map((s) => ({ name: `opt:${s.name}`, shape: s.tensor.shape, values: s.tensor.dataSync() as Float32Array })),
    ];
    writeCheckpoint<Meta>(run.path(file), { meta: { ...pos, wallBefore: wallNow(), optimizer: { step: opt.step } }, tensors });
  };

  const [h, w, c] = [ds.height, ds.width, ds.channels];
  // One step function per set of frozen variables (PWLU phase I freezes its parameters).
  const steps = new Map<string, ReturnType<typeof makeTrainStep>>();
  const stepFor = (frozen: Set<string>) => {
    const key = [...frozen].sort().join('|');
    let s = steps.get(key);
    if (!s) {
      const vars = params.map((p) => p.variable).filter((v) => !frozen.has(v.name));
      s = makeTrainStep(model, optimizer, vars, [h, w, c], tc.label_smoothing);
      steps.set(key, s);
    }
    return s;
  };
  const fullSteps = numBatches(ds.train.n, tc.batch, true);
  const stepsPerEpoch = Math.min(fullSteps, tc.max_steps_per_epoch ?? Infinity);
  if (stepsPerEpoch < 1) throw new UserError(`train.batch (${tc.batch}) is larger than the training set (${ds.train.n} images)`);
  const evalBatch = tc.eval_batch ?? tc.batch * 2;
  let lastMetrics: EpochMetrics | null = null;
  let trainImages = 0;
  let trainSeconds = 0;
  log.info({ params: nParams, act_params: actParams, steps_per_epoch: stepsPerEpoch, epochs: tc.epochs }, `model ${config.model.arch} with ${config.activation.name}`);

  for (let epoch = pos.epoch; epoch < tc.epochs; epoch++) {
    for (const ev of startEpoch(model, epoch)) {
      log.info(ev, `${ev.event} ${ev.layer}`);
      run.appendJsonl('metrics', ev);
    }
    pos.epochStarted = true;
    const step = stepFor(frozenVariableNames(model));
    const t0 = performance.now();
    const acc = pos.epochAcc;
    ctx.progress.start(stepsPerEpoch, `epoch ${epoch + 1}/${tc.epochs}`);
    const batches = epochBatches(ds.train, ds, {
      batchSize: tc.batch,
      seed: config.seed,
      epoch,
      shuffle: true,
      augment: config.data.augment,
      dropLast: true,
      startBatch: pos.stepInEpoch,
    });
    let lr = learningRate(tc, epoch + pos.stepInEpoch / stepsPerEpoch);
    for (const b of batches) {
      if (b.index >= stepsPerEpoch) break;
      // Let the event loop run between steps: signal handlers (Ctrl-C) and log writes need it.
      await yieldToEventLoop();
      if (ctx.shouldStop?.()) {
        acc.seconds += (performance.now() - t0) / 1000;
        saveCheckpoint('last');
        ctx.progress.stop();
        log.warn({ epoch, step: pos.stepInEpoch }, 'interrupted: checkpoint saved; continue with --resume');
        return { status: 'interrupted', position: pos, model, lastMetrics, params: nParams, actParams, trainImgPerS: 0, wallSeconds: wallNow() };
      }
      lr = learningRate(tc, epoch + b.index / stepsPerEpoch);
      const { loss, correct } = step(b.x, b.y, b.size, lr);
      if (!Number.isFinite(loss)) {
        ctx.progress.stop();
        throw new DivergedError(`training diverged: loss is ${loss} at epoch ${epoch + 1}, step ${b.index + 1} (global step ${pos.globalStep + 1}); try a lower train.lr`);
      }
      acc.loss += loss * b.size;
      acc.correct += correct;
      acc.seen += b.size;
      pos.stepInEpoch = b.index + 1;
      pos.globalStep++;
      const elapsed = (performance.now() - t0) / 1000 + acc.seconds;
      ctx.progress.update(pos.stepInEpoch, { loss: (acc.loss / acc.seen).toFixed(4), 'img/s': Math.round(acc.seen / Math.max(elapsed, 1e-9)) });
    }
    ctx.progress.stop();
    const seconds = acc.seconds + (performance.now() - t0) / 1000;
    trainImages += acc.seen;
    trainSeconds += seconds;
    const isLast = epoch === tc.epochs - 1;
    const metrics: EpochMetrics = {
      epoch: epoch + 1,
      lr,
      train_loss: acc.loss / Math.max(acc.seen, 1),
      train_top1: (100 * acc.correct) / Math.max(acc.seen, 1),
      test_loss: NaN,
      test_top1: NaN,
      test_top5: NaN,
      seconds,
      img_per_s: acc.seen / Math.max(seconds, 1e-9),
    };
    if ((epoch + 1) % tc.eval_every === 0 || isLast) {
      const te = evaluate(model, ds.test, ds, evalBatch);
      Object.assign(metrics, { test_loss: te.loss, test_top1: te.top1, test_top5: te.top5 });
      if (ctx.val) {
        const va = evaluate(model, ctx.val, ds, evalBatch);
        Object.assign(metrics, { val_loss: va.loss, val_top1: va.top1, val_top5: va.top5 });
      }
    }
    run.appendJsonl('metrics', metrics);
    lastMetrics = metrics;
    const learned = describeActivations(model);
    if (learned.length > 0) run.writeAtomic('activations', `${JSON.stringify({ epoch: epoch + 1, layers: learned })}\n`);
    log.info(
      { epoch: epoch + 1, lr: +lr.toPrecision(4), train_loss: +metrics.train_loss.toFixed(4), test_top1: +metrics.test_top1.toFixed(2), test_top5: +metrics.test_top5.toFixed(2), img_per_s: Math.round(metrics.img_per_s) },
      `epoch ${epoch + 1}/${tc.epochs}`,
    );
    pos.epoch = epoch + 1;
    pos.stepInEpoch = 0;
    pos.epochStarted = false;
    pos.epochAcc = { loss: 0, correct: 0, seen: 0, seconds: 0 };
    const improved = Number.isFinite(metrics.test_top1) && (pos.best === null || metrics.test_top1 > pos.best.top1);
    if (improved) pos.best = { top1: metrics.test_top1, epoch: epoch + 1 };
    saveCheckpoint('last');
    if (improved) saveCheckpoint('best');
  }
  return { status: 'finished', position: pos, model, lastMetrics, params: nParams, actParams, trainImgPerS: trainImages / Math.max(trainSeconds, 1e-9), wallSeconds: wallNow() };
}
