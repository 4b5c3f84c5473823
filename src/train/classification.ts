/** Image classification as a training task: cross-entropy steps, top-1/top-5 evaluation, selection on val top-1. */
import type * as tf from '@tensorflow/tfjs-core';
import type { Config } from '../config/schema.js';
import { shardCount, splitBatches } from '../data/batches.js';
import { isStreamed, type AnySplit, type Batch, type Dataset } from '../data/types.js';
import type { EpochRecord } from '../run/records.js';
import type { Optimizer } from './optimizer.js';
import { buildModel, evaluate, makeTrainStep, type EvalSharding, type GradientReducer } from './step.js';
import type { EvalFields, TaskBatches, TaskStep, TrainTask } from './task.js';

const round2 = (v: number | null | undefined) => (v == null ? null : +v.toFixed(2));

/** The classification task over a loaded dataset and its optional validation hold-out. */
export function classificationTask(config: Config, dataset: Dataset, val: AnySplit | null): TrainTask<Batch> {
  const model = buildModel(config, dataset);
  const { height: h, width: w, channels: c } = dataset;
  return {
    model,
    hasVal: val !== null,
    streamed: isStreamed(dataset.train),
    trainImages: (shard) => shardCount(dataset.train.n, shard),
    trainBatches: (o): TaskBatches<Batch> => splitBatches(dataset.train, dataset, { ...o, shuffle: true, augment: config.data.augment, dropLast: true }),
    makeStep(optimizer: Optimizer, vars: tf.Variable[], reduce?: GradientReducer): TaskStep<Batch> {
      const step = makeTrainStep(model, optimizer, vars, [h, w, c], config.train.label_smoothing, reduce);
      return (b, lr, stop) => step(b.x, b.y, b.size, lr, stop);
    },
    async evaluate(split, evalBatch, sharding?: EvalSharding): Promise<EvalFields> {
      const r = await evaluate(model, split === 'test' ? dataset.test : val!, dataset, evalBatch, sharding);
      const fields: EvalFields =
        split === 'test' ? { test_loss: r.loss, test_top1: r.top1, test_top5: r.top5 } : { val_loss: r.loss, val_top1: r.top1, val_top5: r.top5 };
      if (isStreamed(dataset.test)) fields.eval_skipped_images = r.skipped;
      return fields;
    },
    trainFields: (acc) => ({ train_top1: (100 * acc.correct) / Math.max(acc.seen, 1) }),
    score: (r: EpochRecord) => r.val_top1 ?? null,
    best: (r, score) => ({ epoch: r.epoch, split: 'val', top1: score, test_top1: r.test_top1, test_top5: r.test_top5 }),
    logFields: (r) => ({
      test_top1: round2(r.test_top1),
      test_top5: round2(r.test_top5),
      ...(r.val_top1 !== undefined ? { val_top1: round2(r.val_top1) } : {}),
    }),
  };
}
