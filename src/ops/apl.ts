/**
 * The APL op (shared/spec/activations.md): y = max(0,x) + sum_{s<S} a_s max(0, b_s - x) with S hinges
 * per channel (channel = last axis), forward and hand-written backward behind one tf.customGrad
 * that saves only x (and a, b). Two implementations with identical semantics:
 *
 *  - fused kernels `AplForward` / `AplBackward`, used on any backend that registers them (the torch
 *    backend: native/src/ops_pau_apl.cc, one pass each way);
 *  - a composite of tfjs ops for every other backend (cpu, wasm, tensorflow).
 *
 * ## Kernel contract (for native implementations)
 *
 * `AplForward`   inputs { x (rank >= 1, C = x.shape[-1]), a: [S, C], b: [S, C] }; attrs {}; output out (shape of x)
 * `AplBackward`  inputs { dy (shape of x), x, a, b }; attrs {}; outputs [dx (shape of x), da [S, C], db [S, C]]
 *
 * All float32. Per element of channel c, in float32 and in this order (the composite's, so that
 * forward and dx agree bitwise), with relu(t) = max(0, t) (NaN stays NaN) and m_s = [b_s - x > 0]
 * (the same as [b_s > x]):
 *   out = relu(x);  for s = 0..S-1: out = out + a_s relu(b_s - x)
 *   dx  = dy * step(x) (step: 1 for x > 0, 0 for x <= 0, NaN for NaN);  for s: dx = dx - a_s (dy m_s)
 *   da_s = sum dy relu(b_s - x),  db_s = a_s * sum dy m_s   (sums over every axis but the last)
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineFusedOp, type OpImpl } from './fused-op.js';
import { APL_BACKWARD_KERNEL, APL_FORWARD_KERNEL, type AplForwardAttrs, type AplForwardInputs } from './kernel-names.js';

function compositeForward(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const as = tf.unstack(a);
    const bs = tf.unstack(b);
    let y = tf.relu(x);
    for (let s = 0; s < as.length; s++) y = tf.add(y, tf.mul(as[s]!, tf.relu(tf.sub(bs[s]!, x))));
    return y;
  });
}

function compositeBackward(dy: tf.Tensor, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const perChannel = (v: tf.Tensor) => (axes.length === 0 ? v : tf.sum(v, axes));
    const as = tf.unstack(a);
    const bs = tf.unstack(b);
    let dx = tf.mul(dy, tf.step(x));
    const da: tf.Tensor[] = [];
    const dm: tf.Tensor[] = [];
    for (let s = 0; s < as.length; s++) {
      const t = tf.sub(bs[s]!, x);
      const gm = tf.mul(dy, tf.cast(tf.greater(t, 0), 'float32'));
      da.push(perChannel(tf.mul(dy, tf.relu(t))));
      dm.push(perChannel(gm));
      dx = tf.sub(dx, tf.mul(as[s]!, gm));
    }
    return [dx, tf.stack(da), tf.mul(a, tf.stack(dm))];
  });
}

function checkShapes(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): void {
  const c = x.shape[x.rank - 1];
  if (x.rank < 1) throw new Error('APL: x must have rank >= 1');
  if (a.rank !== 2 || a.shape[1] !== c || b.rank !== 2 || b.shape[0] !== a.shape[0] || b.shape[1] !== c) {
    throw new Error(`APL: a and b must both be [S, ${c}], got [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  }
}

const op = defineFusedOp<AplForwardInputs, AplForwardAttrs>({
  name: 'APL',
  kernels: { forward: APL_FORWARD_KERNEL, backward: APL_BACKWARD_KERNEL },
  check: ({ x, a, b }) => checkShapes(x, a, b),
  composite: {
    forward: ({ x, a, b }) => compositeForward(x, a, b),
    backward: (dy, { x, a, b }) => compositeBackward(dy, x, a, b),
  },
});

/** APL forward without gradient (inference): one fused kernel where the backend has it. */
export function aplForward(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.forward({ x, a, b }, {}, impl);
}

/** APL gradients [dx, da, db] for an upstream gradient dy (exposed for tests and the customGrad). */
export function aplBackward(dy: tf.Tensor, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor[] {
  return op.backward(dy, { x, a, b }, {}, impl);
}

/**
 * APL with its hand-written gradient, so training saves x only instead of every hinge's
 * intermediates: differentiable in x, a [S, C] and b [S, C].
 */
export function apl(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.apply({ x, a, b }, {}, impl);
}
