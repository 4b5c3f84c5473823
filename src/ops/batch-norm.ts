/**
 * Batch norm over every axis but the last (channels-last): training mode with a hand-written
 * gradient, and inference mode. A backend may register native kernels under the names below (the
 * torch backend does); every other backend gets the composite version, which is still far cheaper
 * than autodiff through `tf.moments` + `tf.batchNorm`.
 *
 * ## Kernel contract (for native implementations)
 *
 * `PwluBatchNormTrain`  inputs { x (C = x.shape[-1]), scale [C], offset [C], runningMean [C], runningVar [C] };
 *                       attrs { epsilon, momentum }
 *                       outputs [y, mean [C], invstd [C], runningMean' [C], runningVar' [C]]:
 *                       invstd = 1 / sqrt(var + epsilon) (biased batch variance),
 *                       running' = (1 - momentum) * running + momentum * batch, with the unbiased
 *                       batch variance for runningVar' (as PyTorch)
 * `PwluBatchNormGrad`   inputs { dy, x, scale, mean, invstd }; attrs { epsilon }
 *                       outputs [dx, dscale [C], doffset [C]]
 * All tensors float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpInputs } from './fused-op.js';
import { BN_GRAD_KERNEL, BN_TRAIN_KERNEL, type BnGradAttrs, type BnGradInputs, type BnTrainAttrs, type BnTrainInputs } from './kernel-names.js';
import { allReduceSum } from './collectives.js';
import { hasNativeKernel, runNativeKernel } from './native-kernel.js';

function reductionAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

/** Running statistics of a batch norm and the weight of a batch in their update (PyTorch's momentum). */
export interface RunningStats {
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  momentum: number;
}

/**
 * Batch statistics, the normalised output and the updated running statistics:
 * [y, mean, invstd, runningMean', runningVar'], with running' = (1 - m) * running + m * batch
 * (unbiased batch variance for the running variance, as PyTorch).
 */
function bnTrainForward(x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, epsilon: number, running: RunningStats): tf.Tensor[] {
  if (hasNativeKernel(BN_TRAIN_KERNEL)) {
    const inputs: OpInputs<BnTrainInputs> = { x, scale, offset, runningMean: running.mean, runningVar: running.variance };
    const attrs: BnTrainAttrs = { epsilon, momentum: running.momentum };
    return runNativeKernel<tf.Tensor[]>(BN_TRAIN_KERNEL, inputs, attrs);
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, reductionAxes(x.rank));
    const invstd = tf.rsqrt(tf.add(variance, epsilon));
    const y = tf.add(tf.mul(tf.sub(x, mean), tf.mul(invstd, scale)), offset);
    const count = x.size / x.shape[x.rank - 1];
    const unbias = count > 1 ? count / (count - 1) : 1;
    const m = running.momentum;
    // the variance as the gradient sees it (from invstd), so that both paths share one definition
    const batchVar = tf.sub(tf.reciprocal(tf.square(invstd)), epsilon);
    const runningMean = tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m));
    const runningVar = tf.add(tf.mul(running.variance, 1 - m), tf.mul(batchVar, m * unbias));
    return [y, mean, invstd, runningMean, runningVar];
  });
}

/** Gradients of the training-mode batch norm: [dx, dscale, doffset]. */
function bnTrainBackward(dy: tf.Tensor, x: tf.Tensor, scale: tf.Tensor, mean: tf.Tensor, invstd: tf.Tensor, epsilon: number): tf.Tensor[] {
  if (hasNativeKernel(BN_GRAD_KERNEL)) {
    const inputs: OpInputs<BnGradInputs> = { dy, x, scale, mean, invstd };
    const attrs: BnGradAttrs = { epsilon };
    return runNativeKernel<tf.Tensor[]>(BN_GRAD_KERNEL, inputs, attrs);
  }
  return tf.tidy(() => {
    const axes = reductionAxes(x.rank);
    const count = x.size / x.shape[x.rank - 1];
    const xhat = tf.mul(tf.sub(x, mean), invstd);
    const doffset = tf.sum(dy, axes);
    const dscale = tf.sum(tf.mul(dy, xhat), axes);
    // dx = scale * invstd / m * (m*dy - sum(dy) - xhat * sum(dy*xhat))
    const k = tf.div(tf.mul(scale, invstd), count);
    const inner = tf.sub(tf.sub(tf.mul(dy, count), doffset), tf.mul(xhat, dscale));
    return [tf.mul(inner, k), dscale, doffset];
  });
}

/**
 * Training-mode batch normalisation over every axis but the last (channels-last), with a
 * hand-written gradient. Returns the output and the updated running statistics (the caller owns them).
 */
export function batchNormTrain(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  epsilon: number,
  running: RunningStats,
): { y: tf.Tensor; runningMean: tf.Tensor1D; runningVar: tf.Tensor1D } {
  let stats: tf.Tensor[] = [];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, s, o] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, invstd, runningMean, runningVar] = bnTrainForward(xs, s as tf.Tensor1D, o as tf.Tensor1D, epsilon, running);
    save([xs, s, mean, invstd]);
    // customGrad runs this inside a tidy: keep the running statistics for the caller.
    stats = [tf.keep(runningMean), tf.keep(runningVar)];
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, ss, sm, si] = saved;
        return bnTrainBackward(dy, sx, ss, sm, si, epsilon);
      },
    };
  });
  const y = f(x, scale, offset);
  return { y, runningMean: stats[0] as tf.Tensor1D, runningVar: stats[1] as tf.Tensor1D };
}

/**
 * Training-mode batch norm whose statistics are those of every rank's batch (PyTorch's SyncBatchNorm):
 * the per-channel sums go through a differentiable allreduce, so autodiff gives SyncBatchNorm's backward
 * (the gradient's global sums) and a run over W ranks equals one process over the global batch.
 */
export function batchNormTrainGlobal(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  epsilon: number,
  running: RunningStats,
): { y: tf.Tensor; runningMean: tf.Tensor1D; runningVar: tf.Tensor1D } {
  const axes = reductionAxes(x.rank);
  const c = x.shape[x.rank - 1]!;
  // One allreduce for the sums and the count (ranks may hold different numbers of images).
  const sums = allReduceSum(tf.concat([tf.sum(x, axes), tf.fill([1], x.size / c)]));
  const count = tf.slice(sums, [c], [1]);
  const mean = tf.div(tf.slice(sums, [0], [c]), count);
  const centred = tf.sub(x, mean);
  const variance = tf.div(allReduceSum(tf.sum(tf.square(centred), axes)), count);
  const y = tf.add(tf.mul(centred, tf.mul(tf.rsqrt(tf.add(variance, epsilon)), scale)), offset);
  const m = running.momentum;
  const unbiased = tf.mul(variance, tf.div(count, tf.maximum(tf.sub(count, 1), 1)));
  const runningMean = tf.keep(tf.add(tf.mul(running.mean, 1 - m), tf.mul(mean, m))) as tf.Tensor1D;
  const runningVar = tf.keep(tf.add(tf.mul(running.variance, 1 - m), tf.mul(unbiased, m))) as tf.Tensor1D;
  return { y, runningMean, runningVar };
}

/** Inference-mode batch norm with running statistics: one FusedBatchNorm kernel (a single native pass on torch). */
export function batchNormInfer(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  movingMean: tf.Tensor1D,
  movingVar: tf.Tensor1D,
  epsilon: number,
): tf.Tensor {
  return tf.batchNorm(x, movingMean, movingVar, offset, scale, epsilon);
}
