/**
 * The PWLU op: forward in the slope/intercept table form, backward by the hand-written gradient of
 * shared/spec/activations.md. Two implementations with identical semantics:
 *
 *  - fused kernels, registered here for the `cpu` and `wasm` backends (one JS loop over typed
 *    arrays each way; parameter gradients accumulated in float64, in a fixed order, so results are
 *    deterministic), and picked up automatically on any backend that registers the same names
 *    (the torch backend can add C++ kernels without touching this file);
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
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { PWLU_BACKWARD_KERNEL, PWLU_FORWARD_KERNEL, PWLU_INFER_KERNEL } from './kernel-names.js';
import { hasNativeKernel } from './native-kernel.js';

/** The parameters of the P instances an op call covers (P = 1 layer-wise, P = C channel-wise). */
export interface PwluTensors {
  /** Heights Y_0..Y_N at the breakpoints, [P, N+1]. */
  y: tf.Tensor;
  /** Outer slopes and bounds, [P] each. */
  kl: tf.Tensor;
  kr: tf.Tensor;
  bl: tf.Tensor;
  br: tf.Tensor;
}

/** Which implementation to run: the fused kernel when the backend has one ('auto'), or forced. */
export type PwluImpl = 'auto' | 'fused' | 'composite';

// ---------------------------------------------------------------------------------------------
// Fused JS kernels (cpu and wasm)
// ---------------------------------------------------------------------------------------------

/** Typed-array access to a backend's tensors: a view where possible, else the backend's own array. */
interface ArrayIO {
  /** Allocates float32 outputs; call before `read` (wasm heap growth detaches older views). */
  alloc(shapes: number[][]): { infos: TensorInfo[]; arrays: Float32Array[] };
  read(t: TensorInfo): Float32Array;
}

interface CpuLike {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

interface WasmLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): unknown;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function asF32(v: unknown, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new Error(`PWLU kernel: ${what} must be float32`);
  return v;
}

function ioFor(backendName: string, backend: unknown): ArrayIO {
  if (backendName === 'wasm') {
    const b = backend as WasmLike;
    return {
      alloc: (shapes) => {
        const infos = shapes.map((s) => b.makeOutput(s, 'float32'));
        return { infos, arrays: infos.map((t) => asF32(b.typedArrayFromHeap(t), 'output')) };
      },
      read: (t) => asF32(b.typedArrayFromHeap(t), 'input'),
    };
  }
  const b = backend as CpuLike;
  return {
    alloc: (shapes) => {
      // The cpu backend keeps the array it is given by reference: fill it after registering it.
      const arrays = shapes.map((s) => new Float32Array(sizeOf(s)));
      return { infos: shapes.map((s, i) => b.makeTensorInfo(s, 'float32', arrays[i]!)), arrays };
    },
    read: (t) => asF32(b.readSync(t.dataId), 'input'),
  };
}

interface Geometry {
  p: number;
  n: number;
}

function geometry(x: TensorInfo, y: TensorInfo): Geometry {
  if (y.shape.length !== 2) throw new Error(`PWLU kernel: y must be [P, N+1], got [${y.shape.join(',')}]`);
  const p = y.shape[0]!;
  const n = y.shape[1]! - 1;
  const c = x.shape.length > 0 ? x.shape[x.shape.length - 1]! : 1;
  if (n < 1) throw new Error('PWLU kernel: need at least one interval');
  if (p !== 1 && p !== c) throw new Error(`PWLU kernel: P must be 1 or the channel count ${c}, got ${p}`);
  return { p, n };
}

/** Per-instance segment tables S, O (N+2 each) in float64, and the float32-rounded interval width d. */
function tables(g: Geometry, y: Float32Array, kl: Float32Array, kr: Float32Array, bl: Float32Array, br: Float32Array) {
  const { p, n } = g;
  const s = new Float64Array(p * (n + 2));
  const o = new Float64Array(p * (n + 2));
  const d = new Float64Array(p);
  for (let q = 0; q < p; q++) {
    const dq = Math.fround(Math.fround(br[q]! - bl[q]!) / n);
    d[q] = dq;
    const yq = q * (n + 1);
    const base = q * (n + 2);
    s[base] = kl[q]!;
    o[base] = y[yq]! - kl[q]! * bl[q]!;
    for (let i = 0; i < n; i++) {
      const k = (y[yq + i + 1]! - y[yq + i]!) / dq;
      s[base + i + 1] = k;
      o[base + i + 1] = y[yq + i]! - k * (bl[q]! + i * dq);
    }
    s[base + n + 1] = kr[q]!;
    o[base + n + 1] = y[yq + n]! - kr[q]! * br[q]!;
  }
  return { s, o, d };
}

function forwardKernel(backendName: string): KernelFunc {
  return ({ inputs, backend }) => {
    const { x, y, kl, kr, bl, br } = inputs as Record<string, TensorInfo>;
    const g = geometry(x!, y!);
    const io = ioFor(backendName, backend);
    const { infos, arrays } = io.alloc([x!.shape]);
    const out = arrays[0]!;
    const xs = io.read(x!);
    const bls = io.read(bl!);
    const brs = io.read(br!);
    const { s, o, d } = tables(g, io.read(y!), io.read(kl!), io.read(kr!), bls, brs);
    const { p, n } = g;
    const fr = Math.fround;
    // q: the instance of element e (e % C channel-wise, always 0 layer-wise), advanced without a modulo.
    const qStep = p === 1 ? 0 : 1;
    let q = 0;
    for (let e = 0; e < xs.length; e++) {
      const v = xs[e]!;
      const lo = bls[q]!;
      const base = q * (n + 2);
      let k: number;
      if (v < lo) k = base;
      else if (v >= brs[q]!) k = base + n + 1;
      else {
        // v >= lo, so u >= 0 and truncation is floor.
        let i = fr(fr(v - lo) / d[q]!) | 0;
        if (i > n - 1) i = n - 1;
        k = base + i + 1;
      }
      out[e] = s[k]! * v + o[k]!;
      q += qStep;
      if (q === p) q = 0;
    }
    return infos[0]!;
  };
}

function backwardKernel(backendName: string): KernelFunc {
  return ({ inputs, backend }) => {
    const { dy, x, y, kl, kr, bl, br } = inputs as Record<string, TensorInfo>;
    const g = geometry(x!, y!);
    const { p, n } = g;
    const io = ioFor(backendName, backend);
    const { infos, arrays } = io.alloc([x!.shape, [p, n + 1], [p], [p], [p], [p]]);
    const [dx, dY, dKL, dKR, dBL, dBR] = arrays as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const gs = io.read(dy!);
    const xs = io.read(x!);
    const kls = io.read(kl!);
    const krs = io.read(kr!);
    const bls = io.read(bl!);
    const brs = io.read(br!);
    const { s, d } = tables(g, io.read(y!), kls, krs, bls, brs);
    // float64 accumulators, one set per instance, filled in element order: deterministic.
    const accY = new Float64Array(p * (n + 1));
    const aKL = new Float64Array(p);
    const aKR = new Float64Array(p);
    const aBL = new Float64Array(p);
    const aBR = new Float64Array(p);
    const fr = Math.fround;
    const qStep = p === 1 ? 0 : 1;
    let q = 0;
    for (let e = 0; e < xs.length; e++) {
      const v = xs[e]!;
      const gr = gs[e]!;
      const lo = bls[q]!;
      const hi = brs[q]!;
      const yb = q * (n + 1);
      if (v < lo) {
        const kq = kls[q]!;
        dx[e] = kq * gr;
        accY[yb] += gr;
        aKL[q] += gr * (v - lo);
        aBL[q] -= kq * gr;
      } else if (v >= hi) {
        const kq = krs[q]!;
        dx[e] = kq * gr;
        accY[yb + n] += gr;
        aKR[q] += gr * (v - hi);
        aBR[q] -= kq * gr;
      } else {
        const u = fr(fr(v - lo) / d[q]!);
        let i = u | 0; // u >= 0: truncation is floor
        if (i > n - 1) i = n - 1;
        const slope = s[q * (n + 2) + i + 1]!;
        dx[e] = slope * gr;
        const t = u - i;
        accY[yb + i] += (1 - t) * gr;
        accY[yb + i + 1] += t * gr;
        const r = u / n;
        aBL[q] -= slope * (1 - r) * gr;
        aBR[q] -= slope * r * gr;
      }
      q += qStep;
      if (q === p) q = 0;
    }
    dY.set(accY);
    dKL.set(aKL);
    dKR.set(aKR);
    dBL.set(aBL);
    dBR.set(aBR);
    return infos;
  };
}

/** Backends that get the JS kernels from this module. */
export const PWLU_JS_BACKENDS = ['cpu', 'wasm'] as const;

/** The fused kernel configs this module provides (forward and backward for cpu and wasm). */
export const pwluKernelConfigs: readonly KernelConfig[] = PWLU_JS_BACKENDS.flatMap((b) => [
  { kernelName: PWLU_FORWARD_KERNEL, backendName: b, kernelFunc: forwardKernel(b) },
  { kernelName: PWLU_BACKWARD_KERNEL, backendName: b, kernelFunc: backwardKernel(b) },
]);

/** Registers the JS PWLU kernels for cpu and wasm unless a kernel of that name exists; idempotent. */
export function registerPwluKernels(): void {
  for (const k of pwluKernelConfigs) {
    if (tf.getKernel(k.kernelName, k.backendName) === undefined) tf.registerKernel(k);
  }
}
registerPwluKernels();

// ---------------------------------------------------------------------------------------------
// Composite (tfjs ops) version
// ---------------------------------------------------------------------------------------------

interface Dims {
  p: number;
  n: number;
  c: number;
}

function dims(x: tf.Tensor, y: tf.Tensor): Dims {
  const p = y.shape[0]!;
  const n = y.shape[1]! - 1;
  const c = x.shape[x.rank - 1] ?? 1;
  if (p !== 1 && p !== c) throw new Error(`PWLU: P must be 1 or the channel count ${c}, got ${p}`);
  return { p, n, c };
}

/** Slope and intercept tables [P, N+2] (segments: left, intervals 0..N-1, right) and the width d [P]. */
export function pwluTable(params: PwluTensors): { slopes: tf.Tensor2D; intercepts: tf.Tensor2D; d: tf.Tensor1D } {
  return tf.tidy(() => {
    const { y, kl, kr, bl, br } = params;
    const p = y.shape[0]!;
    const n = y.shape[1]! - 1;
    const d = tf.div(tf.sub(br, bl), n) as tf.Tensor1D;
    const col = (t: tf.Tensor) => tf.reshape(t, [p, 1]);
    const yl = tf.slice(y, [0, 0], [p, n]);
    const yr = tf.slice(y, [0, 1], [p, n]);
    const k = tf.div(tf.sub(yr, yl), col(d));
    const b = tf.add(col(bl), tf.mul(tf.range(0, n, 1, 'float32'), col(d)));
    const y0 = tf.slice(y, [0, 0], [p, 1]);
    const yN = tf.slice(y, [0, n], [p, 1]);
    const slopes = tf.concat([col(kl), k, col(kr)], 1) as tf.Tensor2D;
    const intercepts = tf.concat([tf.sub(y0, tf.mul(col(kl), col(bl))), tf.sub(yl, tf.mul(k, b)), tf.sub(yN, tf.mul(col(kr), col(br)))], 1) as tf.Tensor2D;
    return { slopes, intercepts, d };
  });
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
    const perInstance = (v: tf.Tensor) => (p === 1 ? tf.reshape(tf.sum(v), [1]) : tf.sum(v, Array.from({ length: v.rank - 1 }, (_, i) => i)));
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

function useFused(impl: PwluImpl): boolean {
  if (impl === 'composite') return false;
  const has = hasNativeKernel(PWLU_FORWARD_KERNEL) && hasNativeKernel(PWLU_BACKWARD_KERNEL);
  if (impl === 'fused' && !has) throw new Error(`PWLU: backend '${tf.getBackend()}' has no fused PWLU kernels`);
  return has;
}

function checkShapes(x: tf.Tensor, p: PwluTensors): void {
  if (p.y.rank !== 2) throw new Error(`PWLU: heights must be [P, N+1], got [${p.y.shape.join(',')}]`);
  const P = p.y.shape[0]!;
  for (const [k, t] of [['kl', p.kl], ['kr', p.kr], ['bl', p.bl], ['br', p.br]] as const) {
    if (t.rank !== 1 || t.shape[0] !== P) throw new Error(`PWLU: ${k} must be [${P}], got [${t.shape.join(',')}]`);
  }
  dims(x, p.y);
}

/** PWLU forward without gradient (inference): the table form, fused where the backend has it. */
export function pwluForward(x: tf.Tensor, params: PwluTensors, impl: PwluImpl = 'auto'): tf.Tensor {
  checkShapes(x, params);
  if (useFused(impl)) {
    const { y, kl, kr, bl, br } = params;
    return tf.engine().runKernel(PWLU_FORWARD_KERNEL, { x, y, kl, kr, bl, br }, {}) as tf.Tensor;
  }
  return compositeForward(x, params);
}

/** PWLU at inference: the backend's float32 inference kernel where it has one (torch), else pwluForward. */
export function pwluInfer(x: tf.Tensor, params: PwluTensors): tf.Tensor {
  if (!hasNativeKernel(PWLU_INFER_KERNEL)) return pwluForward(x, params);
  checkShapes(x, params);
  const { y, kl, kr, bl, br } = params;
  return tf.engine().runKernel(PWLU_INFER_KERNEL, { x, y, kl, kr, bl, br }, {}) as tf.Tensor;
}

/** PWLU gradients [dx, dY, dKL, dKR, dBL, dBR] for an upstream gradient dy (exposed for tests and kernels). */
export function pwluBackward(dy: tf.Tensor, x: tf.Tensor, params: PwluTensors, impl: PwluImpl = 'auto'): tf.Tensor[] {
  checkShapes(x, params);
  if (useFused(impl)) {
    const { y, kl, kr, bl, br } = params;
    return tf.engine().runKernel(PWLU_BACKWARD_KERNEL, { dy, x, y, kl, kr, bl, br }, {}) as tf.Tensor[];
  }
  return compositeBackward(dy, x, params);
}

/** PWLU with its hand-written gradient (training): differentiable in x and in every parameter. */
export function pwlu(x: tf.Tensor, params: PwluTensors, impl: PwluImpl = 'auto'): tf.Tensor {
  checkShapes(x, params);
  const fused = useFused(impl);
  const mode: PwluImpl = fused ? 'fused' : 'composite';
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, y, kl, kr, bl, br] = args as tf.Tensor[];
    const save = args[6] as tf.GradSaveFunc;
    const p: PwluTensors = { y: y!, kl: kl!, kr: kr!, bl: bl!, br: br! };
    save([xs!, y!, kl!, kr!, bl!, br!]);
    return {
      value: pwluForward(xs!, p, mode),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sy, skl, skr, sbl, sbr] = saved;
        return pwluBackward(dy, sx!, { y: sy!, kl: skl!, kr: skr!, bl: sbl!, br: sbr! }, mode);
      },
    };
  });
  return f(x, params.y, params.kl, params.kr, params.bl, params.br);
}
