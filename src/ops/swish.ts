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
import { defineFusedOp, type OpImpl, type OpInputs } from './fused-op.js';
import { SWISH_BACKWARD_KERNEL, SWISH_FORWARD_KERNEL, type SwishForwardAttrs, type SwishForwardInputs } from './kernel-names.js';

/** A fixed beta (number) or a trainable one (one-element tensor). */
export type SwishBeta = number | tf.Tensor;

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

/** The beta of one call: the trainable input when there is one, else the attribute. */
const betaOf = (inputs: OpInputs<SwishForwardInputs>, attrs: SwishForwardAttrs): SwishBeta => inputs.beta ?? attrs.beta;

const op = defineFusedOp<SwishForwardInputs, SwishForwardAttrs>({
  name: 'Swish',
  kernels: { forward: SWISH_FORWARD_KERNEL, backward: SWISH_BACKWARD_KERNEL },
  check: (inputs, attrs) => checkBeta(betaOf(inputs, attrs)),
  canFuse: ({ x, beta }) => x.dtype === 'float32' && (beta === undefined || beta.dtype === 'float32'),
  composite: {
    forward: (inputs, attrs) => compositeForward(inputs.x, betaOf(inputs, attrs)),
    backward: (dy, inputs, attrs) => compositeBackward(dy, inputs.x, betaOf(inputs, attrs)),
  },
});

/** Kernel inputs and attrs of one call: a tensor beta is an input (attr 0), a fixed one the attr. */
function call(x: tf.Tensor, beta: SwishBeta): [OpInputs<SwishForwardInputs>, SwishForwardAttrs] {
  return typeof beta === 'number' ? [{ x }, { beta }] : [{ x, beta }, { beta: 0 }];
}

/** Swish forward without gradient (inference), fused where the backend has it. */
export function swishForward(x: tf.Tensor, beta: SwishBeta = 1, impl: OpImpl = 'auto'): tf.Tensor {
  return op.forward(...call(x, beta), impl);
}

/** Swish gradients for an upstream dy: [dx] for a fixed beta, [dx, dbeta] for a tensor beta (exposed for tests). */
export function swishBackward(dy: tf.Tensor, x: tf.Tensor, beta: SwishBeta = 1, impl: OpImpl = 'auto'): tf.Tensor[] {
  return op.backward(dy, ...call(x, beta), impl);
}

/** Swish with its hand-written gradient (training): saves only x (and beta), differentiable in x and in a tensor beta. */
export function swish(x: tf.Tensor, beta: SwishBeta = 1, impl: OpImpl = 'auto'): tf.Tensor {
  return op.apply(...call(x, beta), impl);
}
