/**
 * The PReLU op y = x > 0 ? x : a_c * x (one slope per channel, the last axis) with its hand-written
 * gradient, so that a training step runs one kernel each way instead of tfjs's composite Prelu
 * gradient (mask, select, multiply, reduction). Two implementations with the same semantics:
 *
 *  - fused kernels, where the active backend registers them (the torch backend:
 *    native/src/ops_swish_prelu.cc);
 *  - a composite of tfjs ops for every other backend (cpu, wasm, tensorflow), under the same
 *    tf.customGrad.
 *
 * ## Kernel contract (for native implementations)
 *
 * `PwluPreluForward`   inputs { x, alpha: [C] }, C = x.shape[-1]; attrs {}
 *                      output y = x > 0 ? x : alpha[c] * x
 * `PwluPreluBackward`  inputs { dy, x, alpha }; attrs {}
 *                      outputs [dx = x > 0 ? dy : alpha[c] * dy,
 *                               dalpha [C] = sum over the elements of channel c with x <= 0 of dy * x]
 * All tensors float32; x of rank >= 1. At x = 0 the slope is alpha (as tfjs's Prelu gradient).
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineFusedOp, type OpImpl } from './fused-op.js';
import { PRELU_BACKWARD_KERNEL, PRELU_FORWARD_KERNEL, type PreluForwardAttrs, type PreluForwardInputs } from './kernel-names.js';

function checkShapes(x: tf.Tensor, alpha: tf.Tensor): void {
  const c = x.rank > 0 ? x.shape[x.rank - 1] : undefined;
  if (c === undefined || alpha.rank !== 1 || alpha.shape[0] !== c) {
    throw new Error(`PReLU: alpha must be [C] for x [${x.shape.join(',')}] (one slope per channel), got [${alpha.shape.join(',')}]`);
  }
}

function compositeBackward(dy: tf.Tensor, x: tf.Tensor, alpha: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const pos = tf.greater(x, 0);
    const dx = tf.where(pos, dy, tf.mul(dy, alpha));
    const terms = tf.where(pos, tf.zerosLike(dy), tf.mul(dy, x));
    const dalpha =
      x.rank === 1
        ? terms
        : tf.sum(
            terms,
            Array.from({ length: x.rank - 1 }, (_, i) => i),
          );
    return [dx, dalpha];
  });
}

const op = defineFusedOp<PreluForwardInputs, PreluForwardAttrs>({
  name: 'PReLU',
  kernels: { forward: PRELU_FORWARD_KERNEL, backward: PRELU_BACKWARD_KERNEL },
  check: ({ x, alpha }) => checkShapes(x, alpha),
  canFuse: ({ x, alpha }) => x.dtype === 'float32' && alpha.dtype === 'float32',
  composite: {
    forward: ({ x, alpha }) => tf.prelu(x, alpha),
    backward: (dy, { x, alpha }) => compositeBackward(dy, x, alpha),
  },
});

/** PReLU forward without gradient (inference), fused where the backend has it. */
export function preluForward(x: tf.Tensor, alpha: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.forward({ x, alpha }, {}, impl);
}

/** PReLU gradients [dx, dalpha] for an upstream dy (exposed for tests and kernels). */
export function preluBackward(dy: tf.Tensor, x: tf.Tensor, alpha: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor[] {
  return op.backward(dy, { x, alpha }, {}, impl);
}

/** PReLU with its hand-written gradient (training): one fused kernel each way where available. */
export function prelu(x: tf.Tensor, alpha: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.apply({ x, alpha }, {}, impl);
}
