/**
 * SGD with momentum (PyTorch's update rule, coupled L2 weight decay) over every parameter in one
 * kernel call, for backends that register it (the torch backend does); src/train/optimizer.ts runs
 * its per-parameter tfjs update everywhere else.
 *
 * ## Kernel contract (for native implementations)
 *
 * `PwluSgdMomentum`  inputs { w<i>, g<i>, b<i> } per parameter i (weight, gradient, momentum buffer);
 *                    attrs { lr, momentum, nesterov, weightDecays: number[] (one per parameter) }
 *                    outputs [w'<0>, b'<0>, w'<1>, b'<1>, ...], with g' = g + weightDecay * w,
 *                    b' = momentum * b + g', w' = w - lr * (nesterov ? g' + momentum * b' : b')
 * All tensors float32.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { SGD_MOMENTUM_KERNEL, type SgdMomentumAttrs } from './kernel-names.js';
import { runNativeKernel } from './native-kernel.js';

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
  const attrs: SgdMomentumAttrs = { lr, momentum, nesterov, weightDecays: slots.map((s) => s.weightDecay) };
  const out = runNativeKernel<tf.Tensor[]>(SGD_MOMENTUM_KERNEL, inputs, attrs);
  return slots.map((_, i) => [out[2 * i]!, out[2 * i + 1]!]);
}
