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
import { BatchNorm } from '../models/batch-norm.js';
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

/** Loss and top-1/top-5 over a split, in batches, in inference mode (over the images it could read). */
export async function evaluate(model: tfl.LayersModel, split: AnySplit, ds: Dataset, batchSize: number): Promise<EvalResult> {
  let loss = 0;
  let top1 = 0;
  let top5 = 0;
  let n = 0;
  let skipped = 0;
  for await (const b of splitBatches(split, ds, { batchSize, seed: 0, epoch: 0, shuffle: false, augment: null, dropLast: false })) {
    skipped += b.skipped;
    if (b.size === 0) continue; // every image of the batch was unreadable (and skipped)
    n += b.size;
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
  return { loss: loss / n, top1: (100 * top1) / n, top5: (100 * top5) / n, n, skipped };
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
