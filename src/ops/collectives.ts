/**
 * Collectives over the run's process group (data-parallel training, src/train/distributed.ts): the
 * gradient allreduce, the initial-weight broadcast, and a differentiable allreduce-sum for statistics
 * that must be global (SyncBatchNorm, PWLU's phase-I statistics). Only the torch backend registers
 * them (over c10d, native/src/dist.cc); a distributed run needs that backend.
 *
 * ## Kernel contract (for native implementations)
 *
 * `PwluAllReduce`  inputs { t0, t1, ... } float32; attrs { average: boolean, bucketBytes: number }
 *                  outputs [r0, r1, ...] with r_i = sum over ranks of t_i (divided by the world size
 *                  when average), shapes kept. Inputs are packed into flat buckets of at most
 *                  bucketBytes (a larger tensor alone), all buckets in flight before any is awaited.
 * `PwluBroadcast`  inputs { t0, t1, ... }; attrs { root: number } outputs [r0, ...] = rank root's t_i.
 * Every rank must call the same kernels with the same shapes in the same order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ALLREDUCE_KERNEL, BROADCAST_KERNEL, type AllReduceAttrs, type BroadcastAttrs } from './kernel-names.js';
import { runNativeKernel } from './native-kernel.js';

/** What models and activations need to know of the run's process group: its size and whether batch norm is global. */
export interface CollectiveWorld {
  worldSize: number;
  /** train.sync_bn: batch-norm statistics over every rank's batch. */
  syncBatchNorm: boolean;
}

let world: CollectiveWorld | null = null;

/** Set by the trainer once the process has joined its group (null again when it leaves). */
export function setCollectiveWorld(w: CollectiveWorld | null): void {
  world = w && w.worldSize > 1 ? w : null;
}

/** The run's process group when there are several ranks, else null: layers whose statistics must be global ask this. */
export function collectiveWorld(): CollectiveWorld | null {
  return world;
}

function named(tensors: readonly tf.Tensor[]): Record<string, tf.Tensor> {
  const inputs: Record<string, tf.Tensor> = {};
  tensors.forEach((t, i) => (inputs[`t${i}`] = t));
  return inputs;
}

/** Sums (or averages) tensors over every rank in a few fused buffers: one call per training step, not one per gradient. */
export function allReduce(tensors: readonly tf.Tensor[], opts: AllReduceAttrs): tf.Tensor[] {
  if (tensors.length === 0) return [];
  return runNativeKernel<tf.Tensor[]>(ALLREDUCE_KERNEL, named(tensors), opts);
}

/** Rank root's tensors on every rank (the initial weights, so all ranks start from one model). */
export function broadcast(tensors: readonly tf.Tensor[], root: number): tf.Tensor[] {
  if (tensors.length === 0) return [];
  const attrs: BroadcastAttrs = { root };
  return runNativeKernel<tf.Tensor[]>(BROADCAST_KERNEL, named(tensors), attrs);
}

/**
 * Sums over every rank of a few small statistics tensors (non-differentiable), packed into one
 * buffer: PWLU's phase-I statistics use it so that every rank sees the global batch's.
 */
export function allReduceStats(tensors: readonly tf.Tensor[]): tf.Tensor[] {
  return allReduce(tensors, { average: false, bucketBytes: Number.MAX_SAFE_INTEGER });
}

/**
 * The sum of x over every rank, differentiable: the gradient of a global sum is the global sum of the
 * gradients, so a statistic built from it (SyncBatchNorm's mean and variance) back-propagates exactly.
 */
export function allReduceSum(x: tf.Tensor): tf.Tensor {
  const whole = { average: false, bucketBytes: Number.MAX_SAFE_INTEGER };
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: allReduce([args[0] as tf.Tensor], whole)[0]!,
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => allReduce([dy as tf.Tensor], whole)[0]!,
  }));
  return f(x);
}
