/**
 * Our own training loop (not model.fit), so that schedules, metrics, checkpoints and the PWLU
 * phases stay under our control. Resumable at any step: data order and augmentation depend only
 * on (seed, epoch, batch), and the checkpoint holds weights, optimizer slots and the position.
 *
 * `Trainer.run` reads top to bottom: restore, then per epoch start → train steps → evaluate →
 * end of epoch (metrics, learned shapes, checkpoints in a crash-safe order).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Config } from '../config/schema.js';
import { numBatches } from '../data/batches.js';
import type { AnySplit, Dataset } from '../data/types.js';
import { activationParamCount, countTrainable } from '../models/census.js';
import { bestScore, NO_SELECTION_NOTE, type EpochRecord, type Selection } from '../run/records.js';
import { trimMetricsToCheckpoint, type RunDir } from '../run/run-dir.js';
import { DataError, ExitCode, UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Progress } from '../util/progress.js';
import { describeActivations, frozenVariableNames, startEpoch } from './activation-hooks.js';
import { readTrainCheckpoint, writeTrainCheckpoint, type EpochAcc, type TrainPosition } from './checkpoint-contents.js';
import { Optimizer, type ParamGroupEntry } from './optimizer.js';
import { learningRate } from './schedule.js';
import { loadModelTensors, modelTensors } from './state.js';
import { evalBatchSize, paramGroups } from './step.js';
import type { DataParallel } from './data-parallel.js';
import { classificationTask } from './classification.js';
import { opaqueTask, type TaskBatch, type TaskStep, type TrainTask } from './task.js';

/** The sums of an epoch not yet begun. */
function emptyEpochAcc(): EpochAcc {
  return { loss: 0, correct: 0, seen: 0, seconds: 0, waitSeconds: 0, skipped: 0 };
}

/** Adds a step's loss terms (sums over its images) to the epoch's. */
function addParts(acc: Record<string, number> | undefined, step: Record<string, number>): Record<string, number> {
  const out = { ...acc };
  for (const [k, v] of Object.entries(step)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** What a run has achieved so far: the summary's numbers whether it finished, stopped or failed. */
export interface TrainProgress {
  position: TrainPosition;
  lastMetrics: EpochRecord | null;
  params: number;
  actParams: number;
  /** Training throughput over the epochs this process completed (0 when it completed none). */
  trainImgPerS: number;
  wallSeconds: number;
  /** How the reported epoch is chosen: on val, or nothing chosen (no val split: the last epoch is the result). */
  selection: Selection;
}

/** The result of `train`. */
export interface TrainOutcome extends TrainProgress {
  status: 'finished' | 'interrupted';
  model: tfl.LayersModel;
}

/** Raised when the loss becomes NaN/Inf; exit code 4. Carries what the run completed before it. */
export class DivergedError extends UserError {
  constructor(
    message: string,
    readonly progress?: TrainProgress,
  ) {
    super(message, ExitCode.diverged);
  }
}

/** What is trained: a task (detection, or a prepared classification one), or a classification dataset and its val hold-out. */
export type TaskSource = { task: TrainTask } | { dataset: Dataset; val: AnySplit | null };

/** Everything `train` needs from the command that calls it. */
export type TrainContext = TaskSource & {
  config: Config;
  configHash: string;
  run: RunDir;
  log: Logger;
  progress: Progress;
  resume: boolean;
  /** Polled between steps; when it returns true a checkpoint is written and training stops. */
  shouldStop?: () => boolean;
  /** This process's place in a data-parallel run; absent for a single process. Only rank 0 writes the run directory. */
  dp?: DataParallel;
};

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function freshPosition(configHash: string): TrainPosition {
  return { epoch: 0, stepInEpoch: 0, epochStarted: false, globalStep: 0, best: null, epochAcc: emptyEpochAcc(), wallBefore: 0, configHash };
}

/** One training run over a model, its optimizer and its run directory. */
export class Trainer {
  readonly model: tfl.LayersModel;
  private readonly params: ParamGroupEntry[];
  private readonly optimizer: Optimizer;
  private readonly nParams: number;
  private readonly actParams: number;
  private readonly stepsPerEpoch: number;
  private readonly evalBatch: number;
  private readonly selection: Selection;
  private readonly task: TrainTask;
  private readonly steps = new Map<string, TaskStep<TaskBatch>>();
  private pos: TrainPosition;
  private lastMetrics: EpochRecord | null = null;
  private trainImages = 0;
  private trainSeconds = 0;
  private started = Date.now();
  private begun = false;

  constructor(private readonly ctx: TrainContext) {
    const { config } = ctx;
    const tc = config.train;
    this.task = 'task' in ctx ? ctx.task : opaqueTask(classificationTask(config, ctx.dataset, ctx.val));
    this.model = this.task.model;
    this.params = paramGroups(this.model, tc.no_decay);
    this.optimizer = new Optimizer(tc, this.params);
    this.nParams = countTrainable(this.model);
    this.actParams = activationParamCount(this.model);
    this.pos = freshPosition(ctx.configHash);
    const trainImages = this.task.trainImages(ctx.dp?.shard(true));
    const fullSteps = numBatches(trainImages, tc.batch, true);
    this.stepsPerEpoch = Math.min(fullSteps, tc.max_steps_per_epoch ?? Infinity);
    if (this.stepsPerEpoch < 1) {
      const share = ctx.dp ? ` split over ${ctx.dp.worldSize} ranks` : '';
      throw new UserError(`train.batch (${tc.batch}) is larger than the training set (${this.task.trainImages()} images${share})`);
    }
    this.evalBatch = evalBatchSize(tc);
    // The test split never chooses anything: without a val split the result is the last epoch.
    this.selection = this.task.hasVal ? 'val' : 'none';
  }

  /** Trains from where the run directory stands to the last epoch, or until shouldStop says so. */
  async run(): Promise<TrainOutcome> {
    const { config, log } = this.ctx;
    if (this.ctx.resume) this.restore();
    // DistributedDataParallel: every rank starts from rank 0's weights (fresh or restored).
    this.ctx.dp?.broadcastWeights(this.model.weights.map((w) => w.read() as tf.Variable));
    this.started = Date.now();
    this.begun = true;
    if (this.selection === 'none') log.info(NO_SELECTION_NOTE);
    log.info(
      { params: this.nParams, act_params: this.actParams, steps_per_epoch: this.stepsPerEpoch, epochs: config.train.epochs, selection: this.selection },
      `model ${config.model.arch} with ${config.activation.name}`,
    );
    for (let epoch = this.pos.epoch; epoch < config.train.epochs; epoch++) {
      this.beginEpoch(epoch);
      const lr = await this.trainEpoch(epoch);
      if (lr === null) return this.stop();
      const record = await this.evaluateEpoch(epoch, lr);
      this.endEpoch(record);
    }
    return { status: 'finished', model: this.model, ...this.progress() };
  }

  /**
   * Whether training has begun: the run's position is restored (or fresh) and steps may have run. A
   * failure before that has produced nothing a summary should record.
   */
  get hasBegun(): boolean {
    return this.begun;
  }

  /** What the run has completed so far (for summary.json, also after a failure). */
  progress(): TrainProgress {
    return {
      position: this.pos,
      lastMetrics: this.lastMetrics,
      params: this.nParams,
      actParams: this.actParams,
      trainImgPerS: this.trainSeconds > 0 ? this.trainImages / this.trainSeconds : 0,
      wallSeconds: this.wallNow(),
      selection: this.selection,
    };
  }

  /** Loads checkpoint-last (weights, optimizer slots, position) and drops metrics it does not cover. */
  private restore(): void {
    const { run, log } = this.ctx;
    const swept = this.writes ? run.sweepTemps() : [];
    if (swept.length > 0) log.warn({ files: swept }, 'removed temp files left by an earlier crash');
    if (!run.has('last')) {
      log.warn('no checkpoint found in the run directory: starting from scratch');
      return;
    }
    const file = run.path('last');
    const ckpt = readTrainCheckpoint(file);
    loadModelTensors(this.model, ckpt.weights, file);
    this.optimizer.setState(ckpt.meta.optimizer.step, ckpt.slots);
    const { optimizer: _o, worldSize: savedWorld, ...position } = ckpt.meta;
    // A run without a val split saved before it stopped selecting on test: that choice is dropped, not carried on.
    this.pos = this.selection === 'none' ? { ...position, best: null } : position;
    const world = this.ctx.dp?.worldSize ?? 1;
    if ((savedWorld ?? 1) !== world) {
      log.warn(
        { saved_world_size: savedWorld ?? 1, world_size: world },
        `resuming a run saved with ${savedWorld ?? 1} rank(s) on ${world}: each rank's share of an epoch and the global batch change, so ` +
          (this.pos.stepInEpoch > 0
            ? `the rest of epoch ${this.pos.epoch + 1} (from step ${this.pos.stepInEpoch}) does not see the samples an uninterrupted run would have, and `
            : '') +
          'the following epochs differ from the uninterrupted run (same permutation, other shares)',
      );
    }
    const dropped = this.writes ? trimMetricsToCheckpoint(run, this.pos) : 0;
    log.info({ epoch: this.pos.epoch, step: this.pos.stepInEpoch, dropped_metric_lines: dropped }, 'resumed from checkpoint');
  }

  /**
   * Runs the activations' epoch-start hooks (they set each layer's phase, so a resumed model needs
   * them too; one-off changes such as PWLU's realignment are checkpointed and not repeated).
   */
  private beginEpoch(epoch: number): void {
    for (const ev of startEpoch(this.model, epoch)) {
      this.ctx.log.info(ev, `${ev.event} ${ev.layer}`);
      if (this.writes) this.ctx.run.appendMetrics({ ...ev, epoch });
    }
    this.pos.epochStarted = true;
  }

  /** The train steps of one epoch from the current position; returns the last lr, or null when stopped. */
  private async trainEpoch(epoch: number): Promise<number | null> {
    const { config, progress } = this.ctx;
    const tc = config.train;
    const step = this.stepFor(frozenVariableNames(this.model));
    const t0 = performance.now();
    const acc = this.pos.epochAcc;
    progress.start(this.stepsPerEpoch, `epoch ${epoch + 1}/${tc.epochs}`);
    const batches = this.task.trainBatches({
      batchSize: tc.batch,
      seed: config.seed,
      epoch,
      startBatch: this.pos.stepInEpoch,
      shard: this.ctx.dp?.shard(true),
    });
    let lr = learningRate(tc, epoch + this.pos.stepInEpoch / this.stepsPerEpoch, this.stepsPerEpoch);
    try {
      for await (const b of batches) {
        if (b.index >= this.stepsPerEpoch) break;
        // Let the event loop run between steps: signal handlers (Ctrl-C, SIGTERM) and log writes need it.
        await yieldToEventLoop();
        const stopAsked = this.ctx.shouldStop?.() ?? false;
        // A data-parallel run tells the other ranks with this step's gradients, and every rank stops after it.
        if (stopAsked && !this.ctx.dp) {
          acc.seconds += (performance.now() - t0) / 1000;
          acc.waitSeconds = (acc.waitSeconds ?? 0) + batches.stats.waitSeconds;
          return null;
        }
        acc.skipped = (acc.skipped ?? 0) + b.skipped;
        lr = learningRate(tc, epoch + b.index / this.stepsPerEpoch, this.stepsPerEpoch);
        if (b.size === 0 && this.ctx.dp) {
          throw new DataError(
            `every image of batch ${b.index + 1} of epoch ${epoch + 1} on rank ${this.ctx.dp.rank} was unreadable; a data-parallel step needs at least one (see the skipped files in the log)`,
          );
        }
        let stopAgreed = false;
        if (b.size > 0) {
          const r = step(b, lr, stopAsked);
          if (!Number.isFinite(r.loss)) {
            throw new DivergedError(
              `training diverged: loss is ${r.loss} at epoch ${epoch + 1}, step ${b.index + 1} (global step ${this.pos.globalStep + 1}); try a lower train.lr`,
              this.progress(),
            );
          }
          acc.loss += r.loss * r.seen;
          acc.correct += r.correct;
          acc.seen += r.seen;
          if (r.parts) acc.parts = addParts(acc.parts, r.parts);
          stopAgreed = r.stop;
        }
        this.pos.stepInEpoch = b.index + 1;
        this.pos.globalStep++;
        this.ctx.dp?.checkConsistency(
          this.params.map((p) => p.variable),
          this.pos.globalStep,
        );
        if (stopAgreed) {
          acc.seconds += (performance.now() - t0) / 1000;
          acc.waitSeconds = (acc.waitSeconds ?? 0) + batches.stats.waitSeconds;
          return null;
        }
        const elapsed = (performance.now() - t0) / 1000 + acc.seconds;
        const shown: Record<string, string | number> = {
          loss: (acc.loss / Math.max(acc.seen, 1)).toFixed(4),
          'img/s': Math.round(acc.seen / Math.max(elapsed, 1e-9)),
        };
        if (this.task.streamed) shown['input img/s'] = Math.round(batches.stats.decoded / Math.max(batches.stats.seconds, 1e-9));
        progress.update(this.pos.stepInEpoch, shown);
      }
    } finally {
      progress.stop();
    }
    acc.waitSeconds = (acc.waitSeconds ?? 0) + batches.stats.waitSeconds;
    const seconds = acc.seconds + (performance.now() - t0) / 1000;
    acc.seconds = seconds;
    this.trainImages += acc.seen;
    this.trainSeconds += seconds;
    return lr;
  }

  /** The epoch's metrics record: train figures, and test (and val) figures on evaluated epochs. */
  private async evaluateEpoch(epoch: number, lr: number): Promise<EpochRecord> {
    const { config } = this.ctx;
    const tc = config.train;
    const acc = this.pos.epochAcc;
    const record: EpochRecord = {
      epoch: epoch + 1,
      lr,
      train_loss: acc.loss / Math.max(acc.seen, 1),
      ...this.task.trainFields(acc),
      test_loss: null,
      test_top1: null,
      test_top5: null,
      seconds: acc.seconds,
      img_per_s: acc.seen / Math.max(acc.seconds, 1e-9),
      ...(this.task.streamed ? { data_wait_s: acc.waitSeconds ?? 0, skipped_images: acc.skipped ?? 0 } : {}),
    };
    if ((epoch + 1) % tc.eval_every === 0 || epoch === tc.epochs - 1) {
      const te = await this.task.evaluate('test', this.evalBatch, this.ctx.dp);
      const va = this.task.hasVal ? await this.task.evaluate('val', this.evalBatch, this.ctx.dp) : {};
      Object.assign(record, te, va);
      if (te.eval_skipped_images !== undefined) record.eval_skipped_images = te.eval_skipped_images + (va.eval_skipped_images ?? 0);
    }
    return record;
  }

  /**
   * Records a finished epoch. The order keeps every prefix consistent after a kill -9: metrics and
   * learned shapes first (a resume trims what the last checkpoint does not cover), then the best
   * checkpoint, then the last one, which is what a resume reads. A kill between the two leaves the
   * old `last`; the resume then redoes the epoch and rewrites the same best.
   */
  private endEpoch(record: EpochRecord): void {
    const { run, log, config } = this.ctx;
    if (this.writes) run.appendMetrics(record);
    const learned = describeActivations(this.model);
    if (learned.length > 0 && this.writes) run.writeActivations(record.epoch, learned);
    log.info(
      {
        epoch: record.epoch,
        lr: +record.lr.toPrecision(4),
        train_loss: +record.train_loss.toFixed(4),
        ...this.task.logFields(record),
        img_per_s: Math.round(record.img_per_s),
      },
      `epoch ${record.epoch}/${config.train.epochs}`,
    );
    const score = this.selection === 'val' ? this.task.score(record) : null;
    const improved = score != null && (this.pos.best === null || score > bestScore(this.pos.best));
    // The position moves on only once both checkpoints are written: a failed write (disk full)
    // leaves the summary agreeing with checkpoint-last.
    const next: TrainPosition = {
      ...this.pos,
      epoch: record.epoch,
      stepInEpoch: 0,
      epochStarted: false,
      epochAcc: emptyEpochAcc(),
      best: improved ? this.task.best(record, score) : this.pos.best,
    };
    if (improved) this.saveCheckpoint('best', next);
    this.saveCheckpoint('last', next);
    this.pos = next;
    this.lastMetrics = record;
  }

  /** Saves a checkpoint at the current step and reports the run as interrupted. */
  private stop(): TrainOutcome {
    this.saveCheckpoint('last');
    this.ctx.log.warn({ epoch: this.pos.epoch, step: this.pos.stepInEpoch }, 'interrupted: checkpoint saved; continue with --resume');
    return { status: 'interrupted', model: this.model, ...this.progress() };
  }

  /** Whether this process writes the run directory: a single process, or rank 0 of a data-parallel run. */
  private get writes(): boolean {
    return this.ctx.dp?.isMain ?? true;
  }

  private saveCheckpoint(file: 'last' | 'best', pos: TrainPosition = this.pos): void {
    if (!this.writes) return;
    const opt = this.optimizer.getState();
    writeTrainCheckpoint(this.ctx.run.path(file), {
      meta: { ...pos, wallBefore: this.wallNow(), optimizer: { step: opt.step }, worldSize: this.ctx.dp?.worldSize ?? 1 },
      weights: modelTensors(this.model),
      slots: opt.slots.map((s) => ({ name: s.name, shape: s.tensor.shape, values: s.tensor.dataSync() as Float32Array })),
    });
  }

  /** One step function per set of frozen variables (PWLU's phase I freezes its parameters). */
  private stepFor(frozen: Set<string>): TaskStep<TaskBatch> {
    const key = [...frozen].sort().join('|');
    let s = this.steps.get(key);
    if (!s) {
      const vars = this.params.map((p) => p.variable).filter((v) => !frozen.has(v.name));
      s = this.task.makeStep(this.optimizer, vars, this.ctx.dp?.reduceStep);
      this.steps.set(key, s);
    }
    return s;
  }

  private wallNow(): number {
    return this.pos.wallBefore + (Date.now() - this.started) / 1000;
  }
}

/** Trains a run to its end (or until stopped); see Trainer. */
export function train(ctx: TrainContext): Promise<TrainOutcome> {
  return new Trainer(ctx).run();
}
