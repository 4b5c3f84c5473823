/**
 * The fused PWLU kernels of the JS backends (`cpu` and `wasm`): one loop over typed arrays each way,
 * to the kernel contract at the top of src/ops/pwlu.ts. The segment table comes from
 * `pwluTableArrays` (src/ops/pwlu-table.ts), the one definition every TypeScript consumer shares;
 * parameter gradients are accumulated in float64 in element order, so results are deterministic.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { PWLU_BACKWARD_KERNEL, PWLU_FORWARD_KERNEL, type PwluBackwardInputs, type PwluForwardInputs } from '../../ops/kernel-names.js';
import { pwluTableArrays } from '../../ops/pwlu-table.js';
import { JS_BACKENDS, type ArrayIOFactory } from './array-io.js';

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

function forwardKernel(ioFor: ArrayIOFactory): KernelFunc {
  return ({ inputs, backend }) => {
    const { x, y, kl, kr, bl, br } = inputs as PwluForwardInputs;
    const g = geometry(x, y);
    const io = ioFor(backend);
    const { infos, arrays } = io.alloc([x.shape]);
    const out = arrays[0]!;
    const xs = io.read(x);
    const bls = io.read(bl);
    const brs = io.read(br);
    const { p, n } = g;
    const { slopes: s, intercepts: o, d } = pwluTableArrays(p, n, { y: io.read(y), kl: io.read(kl), kr: io.read(kr), bl: bls, br: brs });
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

function backwardKernel(ioFor: ArrayIOFactory): KernelFunc {
  return ({ inputs, backend }) => {
    const { dy, x, y, kl, kr, bl, br } = inputs as PwluBackwardInputs;
    const g = geometry(x, y);
    const { p, n } = g;
    const io = ioFor(backend);
    const { infos, arrays } = io.alloc([x.shape, [p, n + 1], [p], [p], [p], [p]]);
    const [dx, dY, dKL, dKR, dBL, dBR] = arrays as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    const gs = io.read(dy);
    const xs = io.read(x);
    const kls = io.read(kl);
    const krs = io.read(kr);
    const bls = io.read(bl);
    const brs = io.read(br);
    const { slopes: s, d } = pwluTableArrays(p, n, { y: io.read(y), kl: kls, kr: krs, bl: bls, br: brs });
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

/** The fused PWLU kernel configs of the JS backends (forward and backward for cpu and wasm), for registerJsKernels. */
export const pwluKernelConfigs: readonly KernelConfig[] = Object.entries(JS_BACKENDS).flatMap(([backendName, io]) => [
  { kernelName: PWLU_FORWARD_KERNEL, backendName, kernelFunc: forwardKernel(io) },
  { kernelName: PWLU_BACKWARD_KERNEL, backendName, kernelFunc: backwardKernel(io) },
]);
