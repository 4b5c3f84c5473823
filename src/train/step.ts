/**
 * One training step and what it needs: the configured model, its parameter groups, the step
 * function (forward, backward, update) and evaluation. Shared by the training loop, `pwlu speed`,
 * `pwlu eval`, scripts and tests.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { isActivationLayer } from '../activations/types.js';
import { makeActivationFactory } from '../activations/registry.js';
import type { Config } from '../config/schema.js';
import { splitBatches } from '../data/batches.js';
import type { AnySplit, Dataset } from '../data/types.js';
import { BatchNorm } from '../nn/batch-norm.js';
import { predict } from '../models/infer.js';
import { getModel, resolveStem } from '../models/registry.js';
import { UserError } from '../util/errors.js';
import { decayedActivationVariables, stepHooks } from './activation-hooks.js';
import { crossEntropy, topKCorrect } from './metrics.js';
import type { Optimizer, ParamGroupEntry } from './optimizer.js';

/** Eval results on one split. */
export interface EvalResult {
  loss: number;
  top1: number;
  top5: number;
  n: number;
  /** Images the streamed split could not read or decode (not counted in n). */
  skipped: number;
}

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

/** The evaluation batch: `train.eval_batch`, else twice the training batch (no gradients to hold), for training and `pwlu eval` alike. */
export function evalBatchSize(train: Pick<Config['train'], 'batch' | 'eval_batch'>): number {
  return train.eval_batch ?? train.batch * 2;
}

/** What a data-parallel evaluation needs: this rank's share of the split, and sums over every rank. */
export interface EvalSharding {
  shard(pad: boolean): { rank: number; worldSize: number; pad: boolean };
  sum(values: readonly number[]): number[];
}

/**
 * Loss, top-1 and top-5 over a split. In a data-parallel run each rank evaluates its own share (no
 * padding, so no image counts twice) and the counts are summed: the figures are exact over the split.
 */
export async function evaluate(model: tfl.LayersModel, split: AnySplit, ds: Dataset, batchSize: number, sharding?: EvalSharding): Promise<EvalResult> {
  let loss = 0;
  let top1 = 0;
  let top5 = 0;
  let n = 0;
  let skipped = 0;
  for await (const b of splitBatches(split, ds, {
    batchSize,
    seed: 0,
    epoch: 0,
    shuffle: false,
    augment: null,
    dropLast: false,
    shard: sharding?.shard(false),
  })) {
    skipped += b.skipped;
    if (b.size === 0) continue; // every image of the batch was unreadable (and skipped)
    n += b.size;
    const [l, c1, c5] = tf.tidy((): [tf.Tensor, tf.Tensor, tf.Tensor] => {
      const x = tf.tensor4d(b.x.subarray(0, b.size * ds.height * ds.width * ds.channels), [b.size, ds.height, ds.width, ds.channels]);
      const y = tf.tensor1d(b.y.subarray(0, b.size), 'int32');
      const logits = predict(model, x) as tf.Tensor2D;
      const { top1: t1, topk } = topKCorrect(logits, y, 5);
      return [tf.mul(crossEntropy(logits, y, 0), b.size), t1, topk];
    });
    const vals = [l, c1, c5].map((t) => {
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    });
    loss += vals[0]!;
    top1 += vals[1]!;
    top5 += vals[2]!;
  }
  if (sharding) [loss, top1, top5, n, skipped] = sharding.sum([loss, top1, top5, n, skipped]) as [number, number, number, number, number];
  return { loss: loss / n, top1: (100 * top1) / n, top5: (100 * top5) / n, n, skipped };
}

/** A step's figures: mean loss and top-1 count over the images it saw (every rank's, in a data-parallel run). */
export interface StepResult {
  loss: number;
  correct: number;
  /** Images the loss and count cover. */
  seen: number;
  /** Whether any rank asked to stop (a data-parallel run stops every rank after the same step). */
  stop: boolean;
  /** A task's loss terms, each summed over the images seen (detection: cls, box). */
  parts?: Record<string, number>;
}

/**
 * Averages a step's gradients over the ranks of a data-parallel run (in place), with the step's
 * figures [loss * size, correct, size, stop] summed in the same call.
 */
export type GradientReducer = (grads: tf.NamedTensorMap, figures: tf.Tensor1D) => tf.Tensor1D;

/**
 * A task's forward pass and loss on one batch, run inside the gradient tape: the loss to minimise (mean over the
 * batch) and the step's other figures, each summed over the batch's images (top-1 count; detection's loss terms).
 */
export type StepForward = () => { loss: tf.Scalar; figures: tf.Scalar[] };

/** What one optimizer step reports: the loss and the figures of StepForward, summed over every rank's images. */
export interface OptimizerStepResult {
  loss: number;
  seen: number;
  stop: boolean;
  figures: number[];
}

/**
 * The task-independent part of a step: the tape, the activations' step hooks (penalty, gradient clipping,
 * post-update guard), the data-parallel gradient average (before the hooks, as DistributedDataParallel averages
 * during backward) and the update. The reported loss leaves out an activation's penalty term.
 */
export function makeOptimizerStep(
  model: tfl.LayersModel,
  optimizer: Optimizer,
  vars: tf.Variable[],
  reduce?: GradientReducer,
): (forward: StepForward, size: number, lr: number, stop: boolean) => OptimizerStepResult {
  const hooks = stepHooks(model);
  return (forward, size, lr, stop) => {
    const out = tf.tidy(() => {
      let kept: tf.Scalar[] = [];
      let task: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const r = forward();
        kept = r.figures.map((f) => tf.keep(f));
        const reg = hooks.regularization();
        if (!reg) return r.loss;
        task = tf.keep(r.loss);
        return tf.add(r.loss, reg) as tf.Scalar;
      }, vars);
      const taskLoss = (task as tf.Scalar | null) ?? value;
      const local = tf.stack([tf.mul(taskLoss, size), tf.scalar(size), tf.scalar(stop ? 1 : 0), ...kept]) as tf.Tensor1D;
      // Kept past variableGrads' scope; no longer needed once stacked.
      tf.dispose(kept);
      (task as tf.Scalar | null)?.dispose();
      const all = reduce ? reduce(grads, local) : local;
      hooks.clip(grads);
      optimizer.apply(grads, lr);
      return all;
    });
    hooks.afterStep();
    const v = out.dataSync();
    out.dispose();
    const seen = v[1]!;
    return { loss: v[0]! / Math.max(seen, 1), seen, stop: v[2]! > 0, figures: Array.from(v.subarray(3)) };
  };
}

/**
 * One classification step (forward, backward, update) on a batch given as flat NHWC floats; returns the batch
 * loss (cross-entropy) and the number of correct top-1 predictions. Shared by training and `pwlu speed`.
 */
export function makeTrainStep(
  model: tfl.LayersModel,
  optimizer: Optimizer,
  vars: tf.Variable[],
  [h, w, c]: [number, number, number],
  labelSmoothing: number,
  reduce?: GradientReducer,
): (x: Float32Array, y: Int32Array, size: number, lr: number, stop?: boolean) => StepResult {
  const step = makeOptimizerStep(model, optimizer, vars, reduce);
  return (xs, ys, size, lr, stop = false) => {
    const r = step(
      () => {
        const x = tf.tensor4d(xs.subarray(0, size * h * w * c), [size, h, w, c]);
        const y = tf.tensor1d(ys.subarray(0, size), 'int32');
        const logits = model.apply(x, { training: true }) as tf.Tensor2D;
        const correct = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')) as tf.Scalar;
        return { loss: crossEntropy(logits, y, labelSmoothing), figures: [correct] };
      },
      size,
      lr,
      stop,
    );
    return { loss: r.loss, correct: r.figures[0]!, seen: r.seen, stop: r.stop };
  };
}
