import * as tf from '@tensorflow/tfjs-core';

/**
 * Fused ops with a hand-written gradient. A backend may register a native kernel under the
 * kernel name below (the torch backend does); every other backend gets the composite version,
 * which is still far cheaper than autodiff through `tf.moments` + `tf.batchNorm`.
 */
export const BN_TRAIN_KERNEL = 'PwluBatchNormTrain';
export const BN_GRAD_KERNEL = 'PwluBatchNormGrad';
/** SGD with momentum over all parameters in one kernel: inputs w<i>, g<i>, b<i>; outputs [w', buf'] per i. */
export const SGD_MOMENTUM_KERNEL = 'PwluSgdMomentum';

/** True when the active backend has a native kernel of that name. */
export function hasNativeKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

function reductionAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

/** Batch statistics and the normalised output: [y, mean, invstd]. */
function bnTrainForward(x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, epsilon: number): tf.Tensor[] {
  if (hasNativeKernel(BN_TRAIN_KERNEL)) {
    return tf.engine().runKernel(BN_TRAIN_KERNEL, { x, scale, offset }, { epsilon }) as tf.Tensor[];
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, reductionAxes(x.rank));
    const invstd = tf.rsqrt(tf.add(variance, epsilon));
    const y = tf.add(tf.mul(tf.sub(x, mean), tf.mul(invstd, scale)), offset);
    return [y, mean, invstd];
  });
}

/** Gradients of the training-mode batch norm: [dx, dscale, doffset]. */
function bnTrainBackward(
  dy: tf.Tensor,
  x: tf.Tensor,
  scale: tf.Tensor,
  mean: tf.Tensor,
  invstd: tf.Tensor,
  epsilon: number,
): tf.Tensor[] {
  if (hasNativeKernel(BN_GRAD_KERNEL)) {
    return tf.engine().runKernel(BN_GRAD_KERNEL, { dy, x, scale, mean, invstd }, { epsilon }) as tf.Tensor[];
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
 * hand-written gradient. `onStats(mean, biasedVariance)` receives the batch statistics (for the
 * running averages); they are disposed once it returns.
 */
export function batchNormTrain(
  x: tf.Tensor,
  scale: tf.Tensor1D,
  offset: tf.Tensor1D,
  epsilon: number,
  onStats: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void,
): tf.Tensor {
  let stats: tf.Tensor[] = [];
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, s, o] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, invstd] = bnTrainForward(xs, s as tf.Tensor1D, o as tf.Tensor1D, epsilon);
    save([xs, s, mean, invstd]);
    // customGrad runs this inside a tidy: keep the statistics so the caller can read them.
    stats = [tf.keep(mean), tf.keep(invstd)];
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, ss, sm, si] = saved;
        return bnTrainBackward(dy, sx, ss, sm, si, epsilon);
      },
    };
  });
  const y = f(x, scale, offset);
  const [mean, invstd] = stats;
  try {
    tf.tidy(() => onStats(mean as tf.Tensor1D, tf.sub(tf.reciprocal(tf.square(invstd)), epsilon) as tf.Tensor1D));
  } finally {
    mean.dispose();
    invstd.dispose();
  }
  return y;
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

/** One SGD-momentum parameter: weight, its gradient, its momentum buffer and its L2 decay. */
export interface SgdSlot {
  w: tf.Tensor;
  g: tf.Tensor;
  buf: tf.Tensor;
  weightDecay: number;
}

/**
 * SGD-momentum updates of every parameter as one kernel call (where the backend has it), instead of four
 * elementwise kernels per parameter: returns [new weight, new buffer] per slot, for the caller to assign.
 */
export function sgdMomentumFused(slots: SgdSlot[], lr: number, momentum: number, nesterov: boolean): [tf.Tensor, tf.Tensor][] {
  const inputs: Record<string, tf.Tensor> = {};
  slots.forEach((s, i) => {
    inputs[`w${i}`] = s.w;
    inputs[`g${i}`] = s.g;
    inputs[`b${i}`] = s.buf;
  });
  const attrs = { lr, momentum, nesterov, weightDecays: slots.map((s) => s.weightDecay) };
  const out = tf.engine().runKernel(SGD_MOMENTUM_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return slots.map((_, i) => [out[2 * i]!, out[2 * i + 1]!]);
}
