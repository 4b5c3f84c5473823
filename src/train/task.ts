/**
 * What the training loop needs from a task: its network, an epoch's batches, the step on one batch, and the
 * evaluation of a split with the score that selects an epoch. The loop (src/train/trainer.ts) holds no
 * classification or detection code; src/train/classification.ts and src/train/detection/task.ts implement this.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { RankShard, StreamStats } from '../data/types.js';
import type { BestRecord, EpochRecord } from '../run/records.js';
import type { EpochAcc } from './checkpoint-contents.js';
import type { Optimizer } from './optimizer.js';
import type { EvalSharding, GradientReducer, StepResult } from './step.js';

/** The part of a batch the loop reads: its position in the epoch, its size, and the images skipped building it. */
export interface TaskBatch {
  index: number;
  size: number;
  skipped: number;
}

/** An epoch's batches of the training split, with the input pipeline's counters. */
export type TaskBatches<B extends TaskBatch> = AsyncIterable<B> & { readonly stats: StreamStats };

/** A step on one batch: forward, loss, backward, update. */
export type TaskStep<B extends TaskBatch> = (batch: B, lr: number, stop: boolean) => StepResult;

/** What an evaluation adds to an epoch's record (test_* or val_* fields). */
export type EvalFields = Partial<EpochRecord>;

/** One task's side of training. */
export interface TrainTask<B extends TaskBatch = TaskBatch> {
  readonly model: tfl.LayersModel;
  /** Whether a validation split exists to select the reported epoch on. */
  readonly hasVal: boolean;
  /** Whether the training split is streamed from disk (its records then carry the pipeline's counters). */
  readonly streamed: boolean;
  /** Training images in one rank's share of an epoch (the whole split without a shard). */
  trainImages(shard?: RankShard): number;
  /** The training batches of one epoch from `startBatch`, ordered by (seed, epoch) only. */
  trainBatches(o: { seed: number; epoch: number; batchSize: number; startBatch: number; shard?: RankShard }): TaskBatches<B>;
  /** The step function over these trainable variables (PWLU's phase I freezes some). */
  makeStep(optimizer: Optimizer, vars: tf.Variable[], reduce?: GradientReducer): TaskStep<B>;
  /** Evaluates the test or val split; the fields go into the epoch's record. */
  evaluate(split: 'test' | 'val', evalBatch: number, sharding?: EvalSharding): Promise<EvalFields>;
  /** The selection score of an evaluated epoch (on val; higher is better), null where it has none. */
  score(record: EpochRecord): number | null;
  /** The record of a newly selected epoch. */
  best(record: EpochRecord, score: number): BestRecord;
  /** The epoch's training figures beyond the loss (classification: top-1; detection: the loss terms). */
  trainFields(acc: EpochAcc): Pick<EpochRecord, 'train_top1'> & Partial<EpochRecord>;
  /** The epoch's figures for the log line (beyond epoch, lr, loss and speed). */
  logFields(record: EpochRecord): Record<string, number | null>;
}

/**
 * A task as the loop holds it: the loop only passes a task's own batches back to that task's step, so the batch
 * type it never reads beyond TaskBatch can be forgotten.
 */
export function opaqueTask<B extends TaskBatch>(task: TrainTask<B>): TrainTask {
  return task as unknown as TrainTask;
}
