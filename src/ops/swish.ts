/**
 * The Swish op y = x * sigmoid(beta * x) with its hand-written gradient, so that a training step
 * saves only x per site (not sigmoid(beta x) and the products autodiff would keep) and runs one
 * kernel each way. Two implementations with the same semantics:
 *
 *  - fused kernels, where the active backend registers them (the torch backend:
 *    native/src/ops_swish_prelu.cc);
 *  - a composite of tfjs ops for every other backend (cpu, wasm, tensorflow), under the same
 *    tf.customGrad, so the gradient is the hand-written one everywhere.
 *
 * beta is either a fixed number (no beta gradient; beta = 1 is SiLU, the cheapest path) or a
 * one-element float32 tensor (trainable beta: the backward also returns dbeta).
 *
 * ## Kernel contract (for native implementations)
 *
 * `PwluSwishForward`   inputs { x } or { x, beta: one element }; attrs { beta: number } (used
 *                      when there is no beta input)
 *                      output y = x * s, s = sigmoid(beta * x)
 * `PwluSwishBackward`  inputs { dy, x } or { dy, x, beta }; attrs { beta: number }
 *                      outputs [dx] without a beta input, [dx, dbeta (shape of beta)] with one:
 *                        dx    = dy * (s + beta * x * s * (1 - s))
 *                        dbeta = sum over all elements of dy * x^2 * s * (1 - s)
 * All tensors float32; x of any rank.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SWISH_BACKWARD_KERNEL, SWISH_FORWARD_KERNEL } from './kernel-names.js';
import { hasNativeKernel } from './native-kernel.js';

/** Which implementation to run: the fused kernel when the backend has one ('auto'), or forced. */
export type SwishImpl = 'auto' | 'fused' | 'composite';

/** A fixed beta (number) or a trainable one (one-element tensor). */
export type SwishBeta = number | tf.Tensor;

function useFused(impl: SwishImpl, x: tf.Tensor, beta: SwishBeta): boolean {
  if (impl === 'composite') return false;
  const has =
    hasNativeKernel(SWISH_FORWARD_KERNEL) &&
    hasNativeKernel(SWISH_BACKWARD_KERNEL) &&
    x.dtype === 'float32' &&
    (typeof beta === 'number' || beta.dtype === 'float32');
  if (impl === 'fused' && !has) throw new Error(`Swish: backend '${tf.getBackend()}' has no fused Swish kernels for these inputs`);
  return has;
}

function checkBeta(beta: SwishBeta): void {
  if (typeof beta !== 'number' && beta.size !== 1) throw new Error(`Swish: beta must have one element, got [${beta.shape.join(',')}]`);
}

function compositeForward(x: tf.Tensor, beta: SwishBeta): tf.Tensor {
  return tf.tidy(() => (beta === 1 ? tf.mul(x, tf.sigmoid(x)) : tf.mul(x, tf.sigmoid(tf.mul(x, beta)))));
}

function compositeBackward(dy: tf.Tensor, x: tf.Tensor, beta: SwishBeta): tf.Tensor[] {
  return tf.tidy(() => {
    const z = beta === 1 ? x : tf.mul(x, beta);
    const s = tf.sigmoid(z);
    const sp = tf.mul(s, tf.sub(1, s)); // s * (1 - s)
    const dx = tf.mul(dy, tf.add(s, tf.mul(z, sp)));
    if (typeof beta === 'number') return [dx];
    const dbeta = tf.reshape(tf.sum(tf.mul(tf.mul(dy, tf.square(x)), sp)), beta.shape);
    return [dx, dbeta];
  });
}

/** Swish forward without gradient (inference), fused where the backend has it. */
export function swishForward(x: tf.Tensor, beta: SwishBeta = 1, impl: SwishImpl = 'auto'): tf.Tensor {
  checkBeta(beta);
  if (!useFused(impl, x, beta)) return compositeForward(x, beta);
  const inputs: tf.NamedTensorMap = typeof beta === 'number' ? { x } : { x, beta };
  return tf.engine().runKernel(SWISH_FORWARD_KERNEL, inputs, { beta: typeof beta === 'number' ? beta : 0 }) as tf.Tensor;
}

/** Swish gradients for an upstream dy: [dx] for a fixed beta, [dx, dbeta] for a tensor beta (exposed for tests). */
export function swishBackward(dy: tf.Tensor, x: tf.Tensor, beta: SwishBeta = 1, impl: SwishImpl = 'auto'): tf.Tensor[] {
  checkBeta(beta);
  if (!useFused(impl, x, beta)) return compositeBackward(dy, x, beta);
  const inputs: tf.NamedTensorMap = typeof beta === 'number' ? { dy, x } : { dy, x, beta };
  const out = tf.engine().runKernel(SWISH_BACKWARD_KERNEL, inputs, { beta: typeof beta === 'number' ? beta : 0 }) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/** Swish with its hand-written gradient (training): saves only x (and beta), differentiable in x and in a tensor beta. */
export function swish(x: tf.Tensor, beta: SwishBeta = 1, impl: SwishImpl = 'auto'): tf.Tensor {
  checkBeta(beta);
  const mode: SwishImpl = useFused(impl, x, beta) ? 'fused' : 'composite';
  if (typeof beta === 'number') {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const xs = args[0] as tf.Tensor;
      (args[1] as tf.GradSaveFunc)([xs]);
      return {
        value: swishForward(xs, beta, mode),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => swishBackward(dy, saved[0]!, beta, mode)[0]!,
      };
    });
    return f(x);
  }
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, b] = args as tf.Tensor[];
    (args[2] as tf.GradSaveFunc)([xs!, b!]);
    return {
      value: swishForward(xs!, b!, mode),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => swishBackward(dy, saved[0]!, saved[1]!, mode),
    };
  });
  return f(x, beta);
}
