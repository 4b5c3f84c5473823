/**
 * The PWLU op: forward in the slope/intercept table form, backward by the hand-written gradient of
 * shared/spec/activations.md. Two implementations with identical semantics:
 *
 *  - fused kernels, on any backend that registers the names below: the `cpu` and `wasm` backends
 *    get JS loops over typed arrays (src/backends/js-kernels/pwlu.ts; parameter gradients
 *    accumulated in float64, in a fixed order, so results are deterministic), the torch backend
 *    C++ kernels (native/src/ops_pwlu.cc);
 *  - a composite of tfjs ops for every other backend (e.g. `tensorflow`), with the Y gradient as
 *    an `unsortedSegmentSum` scatter-add into N+1 bins per instance.
 *
 * ## Kernel contract (for native implementations)
 *
 * Notation: x has any rank >= 1 and C = x.shape[-1]. An op call covers P instances: P = 1 (one PWLU
 * for every element: layer-wise) or P = C (instance c covers the elements x[..., c]: channel-wise).
 * N = Y.shape[1] - 1 intervals. All tensors float32.
 *
 * `PwluForward`   inputs  { x, y: [P, N+1], kl: [P], kr: [P], bl: [P], br: [P] }; attrs {}
 *                 output  out (shape of x)
 * `PwluBackward`  inputs  { dy (shape of x), x, y, kl, kr, bl, br }; attrs {}
 *                 outputs [dx (shape of x), dy_heights [P, N+1], dkl [P], dkr [P], dbl [P], dbr [P]]
 * `PwluInfer`     inference only (torch): inputs, attrs and output as `PwluForward`, the table form in
 *                 float32 where the table fits in registers; equal to `PwluForward` up to float rounding
 *                 (a reciprocal instead of a division, float instead of double table arithmetic)
 * `PwluWidenBounds`  the guard after each update (torch): inputs { bl: [P], br: [P] }; attrs { minWidth }
 *                 outputs [bl', br'], h = max(minWidth - (br - bl), 0) / 2, bl' = bl - h, br' = br + h, each
 *                 step rounded to float32 (so equal to the composite bit for bit); a width at or above
 *                 minWidth is left unchanged, a narrower one widened about its midpoint to minWidth
 *
 * Per element, with p its instance, d = fl32(fl32(BR - BL) / N) and u = fl32(fl32(x - BL) / d)
 * (float32 rounding as written, so that every implementation picks the same interval):
 *   region  left  if x < BL;  right if x >= BR;  else inner interval i = clamp(floor(u), 0, N-1), t = u - i
 *   out     S[seg] * x + O[seg], table of N+2 segments (left, 0..N-1, right):
 *             S = [KL, K_0..K_{N-1}, KR], K_i = (Y_{i+1} - Y_i) / d, B_i = BL + i*d,
 *             O = [Y_0 - KL*BL, Y_i - K_i*B_i, Y_N - KR*BR]
 *   dx      dy * S[seg]
 *   dY      left: bin 0 += dy;  right: bin N += dy;  inner: bin i += (1-t) dy, bin i+1 += t dy
 *   dKL     left: dy * (x - BL)            dKR   right: dy * (x - BR)
 *   dBL     left: -KL dy;  inner: -K_i (1 - u/N) dy
 *   dBR     right: -KR dy; inner: -K_i (u/N) dy
 * Parameter gradients are sums over the elements of the instance (any summation order; the JS
 * kernels accumulate in float64).
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineFusedOp, type OpImpl, type OpInputs } from './fused-op.js';
import {
  PWLU_BACKWARD_KERNEL,
  PWLU_FORWARD_KERNEL,
  PWLU_INFER_KERNEL,
  PWLU_WIDEN_BOUNDS_KERNEL,
  type PwluForwardAttrs,
  type PwluForwardInputs,
  type PwluWidenBoundsAttrs,
  type PwluWidenBoundsInputs,
} from './kernel-names.js';
import { hasNativeKernel, runNativeKernel } from './native-kernel.js';
import { pwluTable, type PwluTensors } from './pwlu-table.js';

export { pwluTable, type PwluTensors } from './pwlu-table.js';

// ---------------------------------------------------------------------------------------------
// Composite (tfjs ops) version
// ---------------------------------------------------------------------------------------------

interface Dims {
  p: number;
  n: number;
  c: number;
}

function dims(x: tf.Tensor, y: tf.Tensor): Dims {
  const p = y.shape[0];
  const n = y.shape[1]! - 1;
  const c = x.shape[x.rank - 1] ?? 1;
  if (p !== 1 && p !== c) throw new Error(`PWLU: P must be 1 or the channel count ${c}, got ${p}`);
  return { p, n, c };
}

/** Regions, interval index and u for every element, and the flat segment index into a [P*(N+2)] table. */
function segments(x: tf.Tensor, params: PwluTensors, d: tf.Tensor, { p, n, c }: Dims) {
  const u = tf.div(tf.sub(x, params.bl), d);
  const iF = tf.clipByValue(tf.floor(u), 0, n - 1);
  const left = tf.less(x, params.bl);
  const right = tf.greaterEqual(x, params.br);
  const segF = tf.where(left, tf.zerosLike(u), tf.where(right, tf.fill(u.shape, n + 1), tf.add(iF, 1)));
  let seg = tf.cast(segF, 'int32');
  let off: tf.Tensor | null = null;
  if (p > 1) {
    off = tf.range(0, c, 1, 'int32');
    seg = tf.add(seg, tf.mul(off, tf.scalar(n + 2, 'int32')));
  }
  return { u, iF, left, right, seg, off };
}

function compositeForward(x: tf.Tensor, params: PwluTensors): tf.Tensor {
  return tf.tidy(() => {
    const dm = dims(x, params.y);
    const { slopes, intercepts, d } = pwluTable(params);
    const { seg } = segments(x, params, d, dm);
    return tf.add(tf.mul(tf.gather(tf.reshape(slopes, [-1]), seg), x), tf.gather(tf.reshape(intercepts, [-1]), seg));
  });
}

function compositeBackward(dy: tf.Tensor, x: tf.Tensor, params: PwluTensors): tf.Tensor[] {
  return tf.tidy(() => {
    const dm = dims(x, params.y);
    const { p, n } = dm;
    const { slopes, d } = pwluTable(params);
    const { u, iF, left, right, seg, off } = segments(x, params, d, dm);
    const s = tf.gather(tf.reshape(slopes, [-1]), seg);
    const dx = tf.mul(dy, s);
    const mL = tf.cast(left, 'float32');
    const mR = tf.cast(right, 'float32');
    const mI = tf.sub(tf.sub(1, mL), mR);
    const t = tf.sub(u, iF);
    // Y: two scatter-adds into P*(N+1) bins.
    const iI = tf.cast(iF, 'int32');
    let bin0 = tf.where(left, tf.zerosLike(iI), tf.where(right, tf.fill(iI.shape, n, 'int32'), iI));
    let bin1 = tf.add(iI, tf.scalar(1, 'int32'));
    if (off) {
      const o = tf.mul(off, tf.scalar(n + 1, 'int32'));
      bin0 = tf.add(bin0, o);
      bin1 = tf.add(bin1, o);
    }
    const w0 = tf.add(tf.add(mL, mR), tf.mul(mI, tf.sub(1, t)));
    const w1 = tf.mul(mI, t);
    const vals = tf.concat([tf.reshape(tf.mul(dy, w0), [-1]), tf.reshape(tf.mul(dy, w1), [-1])]);
    const ids = tf.concat([tf.reshape(bin0, [-1]), tf.reshape(bin1, [-1])]) as tf.Tensor1D;
    const dY = tf.reshape(tf.unsortedSegmentSum(vals, ids, p * (n + 1)), [p, n + 1]);
    const perInstance = (v: tf.Tensor) =>
      p === 1
        ? tf.reshape(tf.sum(v), [1])
        : tf.sum(
            v,
            Array.from({ length: v.rank - 1 }, (_, i) => i),
          );
    const dKL = perInstance(tf.mul(tf.mul(dy, mL), tf.sub(x, params.bl)));
    const dKR = perInstance(tf.mul(tf.mul(dy, mR), tf.sub(x, params.br)));
    const gI = tf.mul(tf.mul(dy, mI), s);
    const r = tf.div(u, n);
    const dBL = tf.neg(perInstance(tf.add(tf.mul(tf.mul(dy, mL), params.kl), tf.mul(gI, tf.sub(1, r)))));
    const dBR = tf.neg(perInstance(tf.add(tf.mul(tf.mul(dy, mR), params.kr), tf.mul(gI, r))));
    return [dx, dY, dKL, dKR, dBL, dBR];
  });
}

// ---------------------------------------------------------------------------------------------
// Public ops
// ---------------------------------------------------------------------------------------------

function checkShapes(x: tf.Tensor, p: PwluTensors): void {
  if (p.y.rank !== 2) throw new Error(`PWLU: heights must be [P, N+1], got [${p.y.shape.join(',')}]`);
  const P = p.y.shape[0];
  for (const [k, t] of [
    ['kl', p.kl],
    ['kr', p.kr],
    ['bl', p.bl],
    ['br', p.br],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== P) throw new Error(`PWLU: ${k} must be [${P}], got [${t.shape.join(',')}]`);
  }
  dims(x, p.y);
}

const NO_ATTRS: PwluForwardAttrs = {};

const op = defineFusedOp<PwluForwardInputs, PwluForwardAttrs>({
  name: 'PWLU',
  kernels: { forward: PWLU_FORWARD_KERNEL, backward: PWLU_BACKWARD_KERNEL, infer: PWLU_INFER_KERNEL },
  check: ({ x, ...params }) => checkShapes(x, params),
  composite: {
    forward: ({ x, ...params }) => compositeForward(x, params),
    backward: (dy, { x, ...params }) => compositeBackward(dy, x, params),
  },
});

/** The kernel inputs of one call, x first: the order of the gradients the backward returns. */
function inputs(x: tf.Tensor, { y, kl, kr, bl, br }: PwluTensors) {
  return { x, y, kl, kr, bl, br };
}

/** PWLU forward without gradient (inference): the table form, fused where the backend has it. */
export function pwluForward(x: tf.Tensor, params: PwluTensors, impl: OpImpl = 'auto'): tf.Tensor {
  return op.forward(inputs(x, params), NO_ATTRS, impl);
}

/** PWLU at inference: the backend's float32 inference kernel where it has one (torch), else pwluForward. */
export function pwluInfer(x: tf.Tensor, params: PwluTensors): tf.Tensor {
  return op.infer(inputs(x, params), NO_ATTRS);
}

/** PWLU gradients [dx, dY, dKL, dKR, dBL, dBR] for an upstream gradient dy (exposed for tests and kernels). */
export function pwluBackward(dy: tf.Tensor, x: tf.Tensor, params: PwluTensors, impl: OpImpl = 'auto'): tf.Tensor[] {
  return op.backward(dy, inputs(x, params), NO_ATTRS, impl);
}

/** PWLU with its hand-written gradient (training): differentiable in x and in every parameter. */
export function pwlu(x: tf.Tensor, params: PwluTensors, impl: OpImpl = 'auto'): tf.Tensor {
  return op.apply(inputs(x, params), NO_ATTRS, impl);
}

/**
 * Keeps BR - BL >= minWidth after an update (our guard; the paper leaves it implicit), widening about the midpoint:
 * one kernel call per layer where the backend has it, since it runs for every PWLU layer after every step.
 */
export function pwluWidenBounds(bl: tf.Tensor, br: tf.Tensor, minWidth: number, impl: Exclude<OpImpl, 'fused'> = 'auto'): [tf.Tensor, tf.Tensor] {
  if (impl === 'auto' && hasNativeKernel(PWLU_WIDEN_BOUNDS_KERNEL)) {
    const inputs: OpInputs<PwluWidenBoundsInputs> = { bl, br };
    const attrs: PwluWidenBoundsAttrs = { minWidth };
    const [b0, b1] = runNativeKernel<tf.Tensor[]>(PWLU_WIDEN_BOUNDS_KERNEL, inputs, attrs);
    return [b0!, b1!];
  }
  return tf.tidy(() => {
    const h = tf.mul(tf.relu(tf.sub(minWidth, tf.sub(br, bl))), 0.5);
    return [tf.sub(bl, h), tf.add(br, h)];
  });
}
