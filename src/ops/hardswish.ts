/**
 * The hard-swish op y = x * relu6(x + 3) / 6 (torch.nn.Hardswish) with its hand-written gradient, so
 * that a training step saves only x per site (autodiff through add, relu6, div and mul would keep
 * their intermediates and run four gradient kernels) and runs one kernel each way. Two
 * implementations with the same semantics:
 *
 *  - fused kernels, where the active backend registers them (the torch backend:
 *    native/src/ops_swish_prelu.cc);
 *  - a composite of tfjs ops for every other backend (cpu, wasm, tensorflow), under the same
 *    tf.customGrad, so the gradient is the hand-written one everywhere.
 *
 * ## Kernel contract (for native implementations)
 *
 * `PwluHardSwishForward`   inputs { x }; no attrs
 *                          y = (x * r) / 6, r = min(max(x + 3, 0), 6), each step a float32
 *                          operation in this order (PyTorch's order, and the composite's), so
 *                          native, composite and torch.nn.functional.hardswish agree bitwise
 * `PwluHardSwishBackward`  inputs { dy, x }; no attrs
 *                          dx = x < -3 ? 0 : x > 3 ? dy : dy * (x / 3 + 0.5)
 *                          (the slope (2x + 3) / 6 evaluated as PyTorch's hardswish_backward does,
 *                          x / 3 + 0.5 in float32; at the kinks x = -3 and x = 3 the middle branch
 *                          applies: slopes -0.5 and 1.5, as torch's scalar and CUDA kernels and
 *                          autograd formula; a NaN x gives a NaN dx)
 * All tensors float32; x of any rank.
 *
 * Notes: x < -3 gives y = -0 (x * 0), as torch. The forward multiplies before dividing (torch's
 * order), so |x| above ~5.7e37 overflows to inf: activations never get there.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineFusedOp, type OpImpl } from './fused-op.js';
import { HARDSWISH_BACKWARD_KERNEL, HARDSWISH_FORWARD_KERNEL, type HardSwishForwardAttrs, type HardSwishForwardInputs } from './kernel-names.js';

function compositeForward(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.div(tf.mul(x, tf.relu6(tf.add(x, 3))), 6));
}

function compositeBackward(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const mid = tf.mul(dy, tf.add(tf.div(x, 3), 0.5));
    const upper = tf.where(tf.greater(x, 3), dy, mid);
    return tf.where(tf.less(x, -3), tf.zerosLike(x), upper);
  });
}

const op = defineFusedOp<HardSwishForwardInputs, HardSwishForwardAttrs>({
  name: 'hard-swish',
  kernels: { forward: HARDSWISH_FORWARD_KERNEL, backward: HARDSWISH_BACKWARD_KERNEL },
  canFuse: ({ x }) => x.dtype === 'float32',
  composite: {
    forward: ({ x }) => compositeForward(x),
    backward: (dy, { x }) => [compositeBackward(dy, x)],
  },
});

/** Hard-swish forward without gradient (inference), fused where the backend has it. */
export function hardswishForward(x: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.forward({ x }, {}, impl);
}

/** Hard-swish dx for an upstream dy (exposed for tests). */
export function hardswishBackward(dy: tf.Tensor, x: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.backward(dy, { x }, {}, impl)[0]!;
}

/** Hard-swish with its hand-written gradient (training): saves only x, one kernel each way where fused. */
export function hardswish(x: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.apply({ x }, {}, impl);
}
