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
import { APL_BACKWARD_KERNEL, APL_FORWARD_KERNEL } from './kernel-names.js';
import { hasNativeKernel } from './native-kernel.js';

/** Which implementation to run: the fused kernel when the backend has one ('auto'), or forced. */
export type AplImpl = 'auto' | 'fused' | 'composite';

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

function useFused(impl: AplImpl): boolean {
  if (impl === 'composite') return false;
  const has = hasNativeKernel(APL_FORWARD_KERNEL) && hasNativeKernel(APL_BACKWARD_KERNEL);
  if (impl === 'fused' && !has) throw new Error(`APL: backend '${tf.getBackend()}' has no fused APL kernels`);
  return has;
}

function checkShapes(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): void {
  const c = x.shape[x.rank - 1];
  if (x.rank < 1) throw new Error('APL: x must have rank >= 1');
  if (a.rank !== 2 || a.shape[1] !== c || b.rank !== 2 || b.shape[0] !== a.shape[0] || b.shape[1] !== c) {
    throw new Error(`APL: a and b must both be [S, ${c}], got [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  }
}

/** APL forward without gradient (inference): one fused kernel where the backend has it. */
export function aplForward(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: AplImpl = 'auto'): tf.Tensor {
  checkShapes(x, a, b);
  if (useFused(impl)) return tf.engine().runKernel(APL_FORWARD_KERNEL, { x, a, b }, {}) as tf.Tensor;
  return compositeForward(x, a, b);
}

/** APL gradients [dx, da, db] for an upstream gradient dy (exposed for tests and the customGrad). */
export function aplBackward(dy: tf.Tensor, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: AplImpl = 'auto'): tf.Tensor[] {
  checkShapes(x, a, b);
  if (useFused(impl)) return tf.engine().runKernel(APL_BACKWARD_KERNEL, { dy, x, a, b }, {}) as tf.Tensor[];
  return compositeBackward(dy, x, a, b);
}

/**
 * APL with its hand-written gradient, so training saves x only instead of every hinge's
 * intermediates: differentiable in x, a [S, C] and b [S, C].
 */
export function apl(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: AplImpl = 'auto'): tf.Tensor {
  checkShapes(x, a, b);
  const mode: AplImpl = useFused(impl) ? 'fused' : 'composite';
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, as, bs] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    save([xs!, as!, bs!]);
    return {
      value: aplForward(xs!, as!, bs!, mode),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sa, sb] = saved;
        return aplBackward(dy, sx!, sa!, sb!, mode);
      },
    };
  });
  return f(x, a, b);
}
