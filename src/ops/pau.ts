/**
 * The PAU op (safe Padé unit, version A, degrees 5/4; shared/spec/activations.md): forward and
 * hand-written backward behind one tf.customGrad that saves only x (and the ten coefficients), the
 * backward recomputing P and Q. Two implementations with identical semantics:
 *
 *  - fused kernels `PauForward` / `PauBackward`, used on any backend that registers them (the torch
 *    backend: native/src/ops_pau_apl.cc, one pass each way);
 *  - a composite of tfjs ops for every other backend (cpu, wasm, tensorflow).
 *
 * ## Kernel contract (for native implementations)
 *
 * `PauForward`   inputs { x (any shape), a: [6], b: [4] }; attrs {}; output out (shape of x)
 * `PauBackward`  inputs { dy (shape of x), x, a, b }; attrs {}; outputs [dx (shape of x), da [6], db [4]]
 *
 * All float32. Per element, in float32 and in this order (the composite's order, so that forward and
 * dx agree bitwise; no fused multiply-add):
 *   P  = ((((a5 x + a4) x + a3) x + a2) x + a1) x + a0
 *   Q  = ((((|b4| |x| + |b3|) |x| + |b2|) |x| + |b1|) |x|) + 1
 *   out = P / Q
 *   g = dy * (1/Q),  h = g * (P * (1/Q))
 *   P' = horner(x; 1a1, 2a2, 3a3, 4a4, 5a5),  D = horner(|x|; 1|b1|, 2|b2|, 3|b3|, 4|b4|)   (coefficients rounded to float32)
 *   dx = g P' - h (sign(x) D)
 *   da_j = sum g x^j (j = 0..5; x^j applied to g by repeated multiplication),
 *   db_k = -sign(b_k) sum h |x|^k (k = 1..4; likewise)
 * Sums run over every element (one coefficient set per op call); any summation order.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineFusedOp, type OpImpl } from './fused-op.js';
import { PAU_BACKWARD_KERNEL, PAU_FORWARD_KERNEL, type PauForwardAttrs, type PauForwardInputs } from './kernel-names.js';

/** sum_j c_j x^j by Horner's rule (c as scalar tensors, lowest degree first). */
function horner(x: tf.Tensor, c: tf.Tensor[]): tf.Tensor {
  let acc: tf.Tensor = c[c.length - 1]!;
  for (let j = c.length - 2; j >= 0; j--) acc = tf.add(tf.mul(acc, x), c[j]!);
  return acc;
}

/** Sums of g * x^j for j = from..from+k-1, stacked into [k]. */
function momentSums(g: tf.Tensor, x: tf.Tensor, k: number, from = 0): tf.Tensor {
  const out: tf.Tensor[] = [];
  let term = from === 0 ? g : tf.mul(g, from === 1 ? x : tf.pow(x, from));
  for (let j = 0; j < k; j++) {
    out.push(tf.sum(term));
    if (j < k - 1) term = tf.mul(term, x);
  }
  return tf.stack(out);
}

/** P(x) and Q(x) of the composite version. */
function pq(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): { p: tf.Tensor; q: tf.Tensor; ax: tf.Tensor } {
  const ax = tf.abs(x);
  const p = horner(x, tf.unstack(a));
  const q = tf.add(tf.mul(horner(ax, tf.unstack(tf.abs(b))), ax), 1);
  return { p, q, ax };
}

function compositeForward(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { p, q } = pq(x, a, b);
    return tf.div(p, q);
  });
}

function compositeBackward(dy: tf.Tensor, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor[] {
  return tf.tidy(() => {
    const ca = tf.unstack(a);
    const cb = tf.unstack(tf.abs(b));
    const { p, q, ax } = pq(x, a, b);
    const invQ = tf.reciprocal(q);
    const g = tf.mul(dy, invQ);
    // dF/da_j = x^j / Q
    const da = momentSums(g, x, 6);
    // dF/db_k = -sign(b_k) |x|^k P / Q^2
    const h = tf.mul(g, tf.mul(p, invQ));
    const db = tf.mul(tf.neg(tf.sign(b)), momentSums(h, ax, 4, 1));
    // dF/dx = P'/Q - P sign(x) sum_k k |b_k| |x|^(k-1) / Q^2
    const dp = horner(
      x,
      ca.slice(1).map((c, j) => tf.mul(c, j + 1)),
    );
    const dq = horner(
      ax,
      cb.map((c, k) => tf.mul(c, k + 1)),
    );
    const dx = tf.sub(tf.mul(g, dp), tf.mul(h, tf.mul(tf.sign(x), dq)));
    return [dx, da, db];
  });
}

function checkShapes(a: tf.Tensor, b: tf.Tensor): void {
  if (a.rank !== 1 || a.shape[0] !== 6) throw new Error(`PAU: numerator must be [6], got [${a.shape.join(',')}]`);
  if (b.rank !== 1 || b.shape[0] !== 4) throw new Error(`PAU: denominator must be [4], got [${b.shape.join(',')}]`);
}

const op = defineFusedOp<PauForwardInputs, PauForwardAttrs>({
  name: 'PAU',
  kernels: { forward: PAU_FORWARD_KERNEL, backward: PAU_BACKWARD_KERNEL },
  check: ({ a, b }) => checkShapes(a, b),
  composite: {
    forward: ({ x, a, b }) => compositeForward(x, a, b),
    backward: (dy, { x, a, b }) => compositeBackward(dy, x, a, b),
  },
});

/** PAU forward without gradient (inference): one fused kernel where the backend has it. */
export function pauForward(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.forward({ x, a, b }, {}, impl);
}

/** PAU gradients [dx, da, db] for an upstream gradient dy (exposed for tests and the customGrad). */
export function pauBackward(dy: tf.Tensor, x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor[] {
  return op.backward(dy, { x, a, b }, {}, impl);
}

/**
 * Safe PAU (version A) with its hand-written gradient, so training saves x only instead of every
 * intermediate of autodiff: F = P(x) / Q(x), differentiable in x, a [6] and b [4].
 */
export function pau(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor, impl: OpImpl = 'auto'): tf.Tensor {
  return op.apply({ x, a, b }, {}, impl);
}
