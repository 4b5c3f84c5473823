/**
 * Training kernels for the tfjs `wasm` backend.
 *
 * The stock wasm backend (4.22) has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
 * DepthwiseConv2dNativeBackpropInput or UnsortedSegmentSum, and its Conv2DBackpropInput is a scalar
 * loop. Every gradient here is rewritten as a FORWARD convolution (or a scatter), so it runs on the
 * backend's own XNNPACK kernels. Kernels are composed by calling the wasm backend's registered
 * kernels directly and disposing every intermediate.
 *
 * Notation: x [N,H,W,C] (NHWC), filter [kh,kw,Ci,Co] (depthwise: [kh,kw,C,M]), dy [N,OH,OW,Co],
 * stride s, dilation d, pads pt/pl (top/left) as computed by tfjs for the forward convolution.
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  getKernel,
  registerKernel,
  unregisterKernel,
  UnsortedSegmentSum,
  util,
} from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  TensorInfo,
  UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const WASM = 'wasm';

type Pair = [number, number];
type Shape4 = [number, number, number, number];
type PadAttr = Conv2DBackpropFilterAttrs['pad'];
type RoundingMode = Conv2DBackpropFilterAttrs['dimRoundingMode'];

/** Runs registered wasm kernels and remembers their outputs so that one call frees them all. */
class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Calls the wasm backend's own kernel `name`; the output is an intermediate unless kept. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const config = getKernel(name, WASM);
    if (config === undefined) {
      throw new Error(`wasm training kernels: the wasm backend has no '${name}' kernel`);
    }
    const out = config.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) {
      throw new Error(`wasm training kernels: '${name}' returned ${out.length} outputs, expected 1`);
    }
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** A new float32 intermediate on the wasm heap; its contents are the caller's to write. */
  alloc(shape: number[]): TensorInfo {
    return this.adopt(this.backend.makeOutput(shape, 'float32'));
  }

  /**
   * One float32 view of the whole wasm heap and each tensor's element offset in it, so that copies
   * are `heap.copyWithin` (a native memmove). Views detach when the heap grows: take this only after
   * every allocation a helper needs.
   */
  heap(tensors: TensorInfo[]): { heap: Float32Array; at: number[] } {
    const views = tensors.map((t) => {
      const v = this.backend.typedArrayFromHeap(t);
      if (!(v instanceof Float32Array)) throw new Error(`wasm training kernels: expected float32, got ${t.dtype}`);
      return v;
    });
    const buffer = views[0]!.buffer;
    return { heap: new Float32Array(buffer, 0, buffer.byteLength >>> 2), at: views.map((v) => v.byteOffset >>> 2) };
  }

  pad(x: TensorInfo, paddings: number[][]): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Makes a tensor created outside `run` an intermediate too. */
  adopt(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** Removes `t` from the intermediates: it is the caller's result. */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  /** Frees every intermediate (reshapes share buffers; the backend reference-counts them). */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` with a fresh scope, keeps its result and frees everything else, also on error. */
function withScope(backend: BackendWasm, body: (s: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}

function pair(v: number | number[] | undefined, name: string): Pair {
  if (v === undefined) return [1, 1];
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw new Error(`wasm training kernels: ${name} must have 2 values, got [${v.join(',')}]`);
  return [v[0]!, v[1]!];
}

function shape4(t: TensorInfo | number[], what: string): Shape4 {
  const s = Array.isArray(t) ? t : t.shape;
  if (s.length !== 4) throw new Error(`wasm training kernels: ${what} must be rank 4, got shape [${s.join(',')}]`);
  return [s[0]!, s[1]!, s[2]!, s[3]!];
}

function requireNHWC(dataFormat: string | undefined, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`wasm ${kernel}: only dataFormat 'NHWC' is supported (the wasm forward Conv2D has the same limit), got '${dataFormat}'`);
  }
}

function explicitPad(top: number, bottom: number, left: number, right: number): number[][] {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/**
 * NHWC crop x[:, r0:r0+rows, c0:c0+cols, :], copied heap to heap. (The wasm Slice kernel first copies
 * its whole input out of the heap.)
 */
function crop4d(s: KernelScope, x: TensorInfo, r0: number, c0: number, rows: number, cols: number): TensorInfo {
  const [n, h, w, c] = shape4(x, 'x');
  const out = s.alloc([n, rows, cols, c]);
  const { heap, at } = s.heap([x, out]);
  const [src, dst] = at as [number, number];
  const run = cols * c;
  let to = dst;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < rows; r++, to += run) {
      const from = src + ((b * h + r0 + r) * w + c0) * c;
      heap.copyWithin(to, from, from + run);
    }
  }
  return out;
}

/** Geometry of one spatial axis, shared by the filter- and input-gradient formulas. */
interface Axis {
  /** input size */
  size: number;
  /** output (dy) size */
  out: number;
  /** filter taps */
  k: number;
  stride: number;
  dilation: number;
  /** padding before the input, as the forward convolution used it */
  padBefore: number;
}

/**
 * Rows of x that the forward convolution actually read, counted from row 0: the forward conv ignores
 * trailing rows when (size + pads - effective filter) is not divisible by the stride, and may have
 * padded below. Returns how many input rows to keep and how many zero rows to add below.
 */
function filterGradInputExtent(a: Axis): { keep: number; padAfter: number } {
  const needed = (a.k - 1) * a.dilation + (a.out - 1) * a.stride - a.padBefore + 1;
  return { keep: Math.max(0, Math.min(a.size, needed)), padAfter: Math.max(0, needed - a.size) };
}

/**
 * Filter gradient of a 2-D convolution as ONE forward convolution: the input channels become the batch,
 * the batch becomes the input channels, dy is the filter, and stride and dilation swap roles.
 * dw[a,b,c,o] = sum_{n,i,j} x[n, a*d + i*s - pt, b*d + j*s - pl, c] * dy[n,i,j,o].
 */
function conv2dFilterGrad(
  s: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: Shape4,
  strides: Pair,
  dilations: Pair,
  pad: PadAttr,
  dimRoundingMode: RoundingMode,
): TensorInfo {
  const [n, h, w, ci] = shape4(x, 'x');
  const [dn, oh, ow, co] = shape4(dy, 'dy');
  const [kh, kw] = filterShape;
  if (filterShape[2] !== ci || filterShape[3] !== co || dn !== n) {
    throw new Error(`wasm Conv2DBackpropFilter: shapes disagree: x [${x.shape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`);
  }
  const info = backend_util.computeConv2DInfo(
    [n, h, w, ci], filterShape, strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
  const rows = filterGradInputExtent({ size: h, out: oh, k: kh, stride: strides[0], dilation: dilations[0], padBefore: info.padInfo.top });
  const cols = filterGradInputExtent({ size: w, out: ow, k: kw, stride: strides[1], dilation: dilations[1], padBefore: info.padInfo.left });
  if (rows.keep === 0 || cols.keep === 0 || n === 0 || oh === 0 || ow === 0) {
    // Every tap read padding only: the gradient is exactly zero.
    return s.run('Fill', {}, { shape: [...filterShape], value: 0, dtype: 'float32' });
  }
  let xc = x;
  if (rows.keep < h || cols.keep < w) xc = crop4d(s, x, 0, 0, rows.keep, cols.keep);
  // [N,H,W,Ci] -> [Ci,H,W,N]: input channels as the batch, batch as the channels.
  const xt = s.transpose(xc, [3, 1, 2, 0]);
  // [N,OH,OW,Co] -> [OH,OW,N,Co]: dy as a filter with N input and Co output channels.
  const f = s.transpose(dy, [1, 2, 0, 3]);
  const out = s.run('Conv2D', { x: xt, filter: f }, {
    strides: [dilations[0], dilations[1]],
    dilations: [strides[0], strides[1]],
    pad: explicitPad(info.padInfo.top, rows.padAfter, info.padInfo.left, cols.padAfter),
    dataFormat: 'NHWC',
  });
  checkShape(out.shape, [ci, kh, kw, co], 'Conv2DBackpropFilter');
  // [Ci,kh,kw,Co] -> [kh,kw,Ci,Co]
  return s.transpose(out, [1, 2, 0, 3]);
}

/**
 * Inserts (stride - 1) zeros after every element of dy along H and W, so that the input gradient of a
 * strided convolution becomes a stride-1 convolution. Result height is OH*sh (trailing zeros included).
 */
function zeroInsert(s: KernelScope, dy: TensorInfo, strides: Pair): TensorInfo {
  const [n, oh, ow, c] = shape4(dy, 'dy');
  const [sh, sw] = strides;
  if (sh === 1 && sw === 1) return dy;
  const d6 = s.reshape(dy, [n, oh, 1, ow, 1, c]);
  const padded = s.pad(d6, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return s.reshape(padded, [n, oh * sh, ow * sw, c]);
}

/**
 * Prepares dy for an input gradient computed as a stride-1 forward convolution with the rotated
 * filter: zero-inserts dy by the stride and works out the convolution's padding; negative padding
 * (explicit pads larger than the filter reach, or strides beyond the filter) becomes a crop.
 */
function inputGradOperand(
  s: KernelScope,
  dy: TensorInfo,
  rows: Axis,
  cols: Axis,
): { operand: TensorInfo; pad: number[][] } {
  let d = zeroInsert(s, dy, [rows.stride, cols.stride]);
  const [, dh, dw] = shape4(d, 'dilated dy');
  // dx[h] = sum_a' D[h + pt - (k-1)*d + a'*d] * wrot[a']  over h in [0, size).
  let top = (rows.k - 1) * rows.dilation - rows.padBefore;
  let bottom = rows.size + rows.padBefore - dh;
  let left = (cols.k - 1) * cols.dilation - cols.padBefore;
  let right = cols.size + cols.padBefore - dw;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const r0 = Math.max(0, -top);
    const c0 = Math.max(0, -left);
    const r1 = dh + Math.min(0, bottom);
    const c1 = dw + Math.min(0, right);
    d = crop4d(s, d, r0, c0, Math.max(0, r1 - r0), Math.max(0, c1 - c0));
    top = Math.max(0, top);
    bottom = Math.max(0, bottom);
    left = Math.max(0, left);
    right = Math.max(0, right);
  }
  return { operand: d, pad: explicitPad(top, bottom, left, right) };
}

/**
 * Input gradient of a 2-D convolution as ONE stride-1 forward convolution of the stride-dilated dy
 * with the 180°-rotated filter whose input and output channels are swapped.
 */
function conv2dInputGrad(
  s: KernelScope,
  dy: TensorInfo,
  filter: TensorInfo,
  inputShape: Shape4,
  strides: Pair,
  dilations: Pair,
  pad: PadAttr,
  dimRoundingMode: RoundingMode,
): TensorInfo {
  const [n, h, w, ci] = inputShape;
  const [dn, oh, ow, co] = shape4(dy, 'dy');
  const filterShape = shape4(filter, 'filter');
  const [kh, kw] = filterShape;
  if (filterShape[2] !== ci || filterShape[3] !== co || dn !== n) {
    throw new Error(`wasm Conv2DBackpropInput: shapes disagree: input [${inputShape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`);
  }
  const info = backend_util.computeConv2DInfo(
    inputShape, filterShape, strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
  const rows: Axis = { size: h, out: oh, k: kh, stride: strides[0], dilation: dilations[0], padBefore: info.padInfo.top };
  const cols: Axis = { size: w, out: ow, k: kw, stride: strides[1], dilation: dilations[1], padBefore: info.padInfo.left };
  if (kh === 1 && kw === 1 && (strides[0] > 1 || strides[1] > 1)) {
    // Strided 1x1 (projection shortcuts): multiply the small dy by the filter first, then spread the
    // result over the input grid. The same zero-insertion and crop/pad, on Ci instead of Co channels,
    // without convolving the inserted zeros.
    const g = s.run('Conv2D', { x: dy, filter: s.transpose(filter, [0, 1, 3, 2]) }, { strides: [1, 1], dilations: [1, 1], pad: 'valid', dataFormat: 'NHWC' });
    const { operand, pad: place } = inputGradOperand(s, g, rows, cols);
    if (operand.shape[1] === 0 || operand.shape[2] === 0) {
      return s.run('Fill', {}, { shape: [n, h, w, ci], value: 0, dtype: 'float32' });
    }
    const dx = place.some(([a, b]) => a! > 0 || b! > 0) ? s.pad(operand, place) : operand;
    checkShape(dx.shape, [n, h, w, ci], 'Conv2DBackpropInput');
    return dx;
  }
  const { operand, pad: convPad } = inputGradOperand(s, dy, rows, cols);
  if (operand.shape[1] === 0 || operand.shape[2] === 0) {
    return s.run('Fill', {}, { shape: [n, h, w, ci], value: 0, dtype: 'float32' });
  }
  // [kh,kw,Ci,Co] rotated by 180° and transposed to [kh,kw,Co,Ci].
  const rotated = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  const swapped = s.transpose(rotated, [0, 1, 3, 2]);
  const dx = s.run('Conv2D', { x: operand, filter: swapped }, {
    strides: [1, 1],
    dilations: [dilations[0], dilations[1]],
    pad: convPad,
    dataFormat: 'NHWC',
  });
  checkShape(dx.shape, [n, h, w, ci], 'Conv2DBackpropInput');
  return dx;
}

/** dy block sizes whose tap counts (9, 25) have dedicated XNNPACK depthwise micro-kernels. */
const DW_BLOCKS = [3, 5] as const;

/**
 * Picks the dy block size for the windowed depthwise filter gradient: the one with the least estimated
 * work (window copies plus block copies plus convolution taps), summed over all blocks.
 */
function chooseDepthwiseBlock(rows: Axis, cols: Axis): number {
  let best: number = DW_BLOCKS[0];
  let bestCost = Infinity;
  for (const b of DW_BLOCKS) {
    const blocks = Math.ceil(rows.out / b) * Math.ceil(cols.out / b);
    const window = ((rows.k - 1) * rows.dilation + (b - 1) * rows.stride + 1) * ((cols.k - 1) * cols.dilation + (b - 1) * cols.stride + 1);
    const cost = blocks * (window + b * b * (1 + (rows.k * cols.k) / 4));
    if (cost < bestCost) {
      best = b;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * Filter gradient of a depthwise convolution as ONE depthwise convolution with a small kernel:
 * dw[a,b,c,m] = sum_{n,i,j} x[n, a*d + i*s - pt, b*d + j*s - pl, c] * dy[n,i,j,c*M+m].
 * Used directly, dy is an OH x OW kernel, which XNNPACK runs on a slow generic path (about 10x the
 * forward's time). So dy is cut into B x B blocks (B = 3 or 5, tap counts with fast micro-kernels);
 * block (u,v) of image n becomes its own channel, paired with the window of x it meets. One depthwise
 * convolution over all (n,u,v,c,m) channels (stride d, dilation s) then a sum over (n,u,v) gives dw.
 * Windows and blocks are gathered straight on the wasm heap.
 */
function depthwiseFilterGrad(
  s: KernelScope,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: Shape4,
  strides: Pair,
  dilations: Pair,
  pad: PadAttr,
  dimRoundingMode: RoundingMode,
): TensorInfo {
  const [n, h, w, c] = shape4(x, 'x');
  const [, oh, ow, cm] = shape4(dy, 'dy');
  const [kh, kw, fc, m] = filterShape;
  if (fc !== c || cm !== c * m || dy.shape[0] !== n) {
    throw new Error(`wasm DepthwiseConv2dNativeBackpropFilter: shapes disagree: x [${x.shape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`);
  }
  if (n === 0 || oh === 0 || ow === 0 || h === 0 || w === 0) {
    return s.run('Fill', {}, { shape: [...filterShape], value: 0, dtype: 'float32' });
  }
  const info = backend_util.computeConv2DInfo(
    [n, h, w, c], filterShape, strides, dilations, pad, dimRoundingMode, true, 'channelsLast');
  const rows: Axis = { size: h, out: oh, k: kh, stride: strides[0], dilation: dilations[0], padBefore: info.padInfo.top };
  const cols: Axis = { size: w, out: ow, k: kw, stride: strides[1], dilation: dilations[1], padBefore: info.padInfo.left };
  const b = chooseDepthwiseBlock(rows, cols);
  const bu = Math.ceil(oh / b);
  const bv = Math.ceil(ow / b);
  // Window extent: taps (k-1)*d + 1 plus (b-1) block steps of the stride.
  const lh = (kh - 1) * rows.dilation + (b - 1) * rows.stride + 1;
  const lw = (kw - 1) * cols.dilation + (b - 1) * cols.stride + 1;
  const groups = n * bu * bv;
  const channels = groups * c * m;
  const windows = s.alloc([1, lh, lw, channels]);
  const blocks = s.alloc([b, b, channels, 1]);
  const { heap, at } = s.heap([x, dy, windows, blocks]);
  const [xAt, dyAt, winAt, blkAt] = at as [number, number, number, number];
  const rowStep = b * rows.stride;
  const colStep = b * cols.stride;
  const cellSize = c * m;
  // windows[0, th, tw, ((nb*bu + u)*bv + v)*c*m + ci*m + mi] = x[nb, th + u*b*s - pt, tw + v*b*s - pl, ci]
  let to = winAt;
  for (let th = 0; th < lh; th++) {
    for (let tw = 0; tw < lw; tw++) {
      for (let nb = 0; nb < n; nb++) {
        for (let u = 0; u < bu; u++) {
          const r = th + u * rowStep - rows.padBefore;
          if (r < 0 || r >= h) {
            heap.fill(0, to, to + bv * cellSize);
            to += bv * cellSize;
            continue;
          }
          const rowBase = xAt + (nb * h + r) * w * c;
          for (let v = 0; v < bv; v++, to += cellSize) {
            const col = tw + v * colStep - cols.padBefore;
            if (col < 0 || col >= w) {
              heap.fill(0, to, to + cellSize);
            } else if (m === 1) {
              heap.copyWithin(to, rowBase + col * c, rowBase + col * c + c);
            } else {
              const from = rowBase + col * c;
              for (let ci = 0; ci < c; ci++) heap.fill(heap[from + ci]!, to + ci * m, to + ci * m + m);
            }
          }
        }
      }
    }
  }
  // blocks[bh, bw, ((nb*bu + u)*bv + v)*c*m + k, 0] = dy[nb, u*b + bh, v*b + bw, k]  (zero beyond OH/OW)
  to = blkAt;
  for (let bh = 0; bh < b; bh++) {
    for (let bw = 0; bw < b; bw++) {
      for (let nb = 0; nb < n; nb++) {
        for (let u = 0; u < bu; u++) {
          const r = u * b + bh;
          if (r >= oh) {
            heap.fill(0, to, to + bv * cm);
            to += bv * cm;
            continue;
          }
          for (let v = 0; v < bv; v++, to += cm) {
            const col = v * b + bw;
            if (col >= ow) {
              heap.fill(0, to, to + cm);
            } else {
              const from = dyAt + ((nb * oh + r) * ow + col) * cm;
              heap.copyWithin(to, from, from + cm);
            }
          }
        }
      }
    }
  }
  const out = s.run('DepthwiseConv2dNative', { x: windows, filter: blocks }, {
    strides: [dilations[0], dilations[1]],
    dilations: [strides[0], strides[1]],
    pad: 'valid',
    dataFormat: 'NHWC',
  });
  checkShape(out.shape, [1, kh, kw, channels], 'DepthwiseConv2dNativeBackpropFilter');
  if (groups === 1) return s.reshape(out, [kh, kw, c, m]);
  // Sum over the (n,u,v) groups as a batched product with ones: about 3x faster than the Sum
  // kernel, which transposes a middle-axis reduction first.
  const perGroup = s.reshape(out, [kh * kw, groups, c * m]);
  const ones = s.run('Fill', {}, { shape: [kh * kw, 1, groups], value: 1, dtype: 'float32' });
  const summed = s.run('BatchMatMul', { a: ones, b: perGroup }, { transposeA: false, transposeB: false });
  return s.reshape(summed, [kh, kw, c, m]);
}

/**
 * Input gradient of a depthwise convolution: a depthwise convolution (multiplier 1) of the
 * stride-dilated dy with the rotated filter over all C*M channels, then a sum over the multiplier.
 */
function depthwiseInputGrad(
  s: KernelScope,
  dy: TensorInfo,
  filter: TensorInfo,
  inputShape: Shape4,
  strides: Pair,
  dilations: Pair,
  pad: PadAttr,
  dimRoundingMode: RoundingMode,
): TensorInfo {
  const [n, h, w, c] = inputShape;
  const [dn, oh, ow, cm] = shape4(dy, 'dy');
  const filterShape = shape4(filter, 'filter');
  const [kh, kw, fc, m] = filterShape;
  if (fc !== c || cm !== c * m || dn !== n) {
    throw new Error(`wasm DepthwiseConv2dNativeBackpropInput: shapes disagree: input [${inputShape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`);
  }
  const info = backend_util.computeConv2DInfo(
    inputShape, filterShape, strides, dilations, pad, dimRoundingMode, true, 'channelsLast');
  const rows: Axis = { size: h, out: oh, k: kh, stride: strides[0], dilation: dilations[0], padBefore: info.padInfo.top };
  const cols: Axis = { size: w, out: ow, k: kw, stride: strides[1], dilation: dilations[1], padBefore: info.padInfo.left };
  const { operand, pad: convPad } = inputGradOperand(s, dy, rows, cols);
  if (operand.shape[1] === 0 || operand.shape[2] === 0) {
    return s.run('Fill', {}, { shape: [n, h, w, c], value: 0, dtype: 'float32' });
  }
  const rotated = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  // [kh,kw,C,M] -> [kh,kw,C*M,1]: one filter per dy channel (index c*M + m).
  const f = s.reshape(rotated, [kh, kw, c * m, 1]);
  const dxAll = s.run('DepthwiseConv2dNative', { x: operand, filter: f }, {
    strides: [1, 1],
    dilations: [dilations[0], dilations[1]],
    pad: convPad,
    dataFormat: 'NHWC',
  });
  checkShape(dxAll.shape, [n, h, w, c * m], 'DepthwiseConv2dNativeBackpropInput');
  if (m === 1) return dxAll;
  const split = s.reshape(dxAll, [n, h, w, c, m]);
  return s.run('Sum', { x: split }, { axis: [4], keepDims: false });
}

/**
 * tf.unsortedSegmentSum for a 1-D segmentIds of length x.shape[0], via the wasm ScatterNd kernel (which
 * sums duplicates). Ids outside [0, numSegments) are dropped, as on the cpu backend: they are routed to
 * one spare segment that is cut off afterwards.
 */
function unsortedSegmentSumImpl(s: KernelScope, x: TensorInfo, segmentIds: TensorInfo, numSegments: number): TensorInfo {
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(`wasm UnsortedSegmentSum: segmentIds must be 1-D with length x.shape[0]; got [${segmentIds.shape.join(',')}] for x [${x.shape.join(',')}]`);
  }
  if (segmentIds.dtype !== 'int32') throw new Error(`wasm UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  const count = segmentIds.shape[0]!;
  const inner = x.shape.slice(1);
  if (count === 0) {
    return s.run('Fill', {}, { shape: [numSegments, ...inner], value: 0, dtype: x.dtype });
  }
  const ids = s.backend.typedArrayFromHeap(segmentIds);
  let valid = true;
  for (let i = 0; i < count; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= numSegments) {
      valid = false;
      break;
    }
  }
  const updates = x.shape.length === 1 ? s.reshape(x, [count, 1]) : x;
  const sliceShape = x.shape.length === 1 ? [1] : inner;
  if (valid) {
    const indices = s.reshape(segmentIds, [count, 1]);
    const out = s.run('ScatterNd', { indices, updates }, { shape: [numSegments, ...sliceShape] });
    return x.shape.length === 1 ? s.reshape(out, [numSegments]) : out;
  }
  const remapped = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const id = ids[i]!;
    remapped[i] = id >= 0 && id < numSegments ? id : numSegments;
  }
  const indices = s.adopt(s.backend.makeOutput([count, 1], 'int32', undefined, remapped));
  const spare = s.run('ScatterNd', { indices, updates }, { shape: [numSegments + 1, ...sliceShape] });
  const out = s.slice(spare, [0, ...sliceShape.map(() => 0)], [numSegments, ...sliceShape]);
  return x.shape.length === 1 ? s.reshape(out, [numSegments]) : out;
}

function checkShape(got: number[], want: number[], kernel: string): void {
  if (!util.arraysEqual(got, want)) {
    throw new Error(`wasm ${kernel}: internal shape error, got [${got.join(',')}], expected [${want.join(',')}]`);
  }
}

function asBackend(backend: unknown): BackendWasm {
  return backend as BackendWasm;
}

function tensorInput(inputs: NamedTensorInfoMap, name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`wasm ${kernel}: missing input '${name}'`);
  return t;
}

/** tfjs attrs may carry `dilations` even where the kernel's attr type does not list it. */
function dilationsOf(attrs: NamedAttrMap | undefined): Pair {
  const d = attrs?.['dilations'];
  return pair(typeof d === 'number' || Array.isArray(d) ? (d as number | number[]) : undefined, 'dilations');
}

const conv2dBackpropFilterFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = Conv2DBackpropFilter;
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  requireNHWC(a.dataFormat, kernel);
  const x = tensorInput(inputs, 'x', kernel);
  const dy = tensorInput(inputs, 'dy', kernel);
  return withScope(asBackend(backend), (s) =>
    conv2dFilterGrad(s, x, dy, shape4(a.filterShape, 'filterShape'), pair(a.strides, 'strides'), dilationsOf(attrs), a.pad, a.dimRoundingMode));
};

const conv2dBackpropInputFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = Conv2DBackpropInput;
  const a = attrs as unknown as Conv2DBackpropInputAttrs;
  requireNHWC(a.dataFormat, kernel);
  const dy = tensorInput(inputs, 'dy', kernel);
  const filter = tensorInput(inputs, 'filter', kernel);
  return withScope(asBackend(backend), (s) =>
    conv2dInputGrad(s, dy, filter, shape4(a.inputShape, 'inputShape'), pair(a.strides, 'strides'), dilationsOf(attrs), a.pad, a.dimRoundingMode));
};

const depthwiseBackpropFilterFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = DepthwiseConv2dNativeBackpropFilter;
  const a = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const x = tensorInput(inputs, 'x', kernel);
  const dy = tensorInput(inputs, 'dy', kernel);
  return withScope(asBackend(backend), (s) =>
    depthwiseFilterGrad(s, x, dy, shape4(a.filterShape, 'filterShape'), pair(a.strides, 'strides'), pair(a.dilations, 'dilations'), a.pad, a.dimRoundingMode));
};

const depthwiseBackpropInputFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = DepthwiseConv2dNativeBackpropInput;
  const a = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const dy = tensorInput(inputs, 'dy', kernel);
  const filter = tensorInput(inputs, 'filter', kernel);
  return withScope(asBackend(backend), (s) =>
    depthwiseInputGrad(s, dy, filter, shape4(a.inputShape, 'inputShape'), pair(a.strides, 'strides'), pair(a.dilations, 'dilations'), a.pad, a.dimRoundingMode));
};

const unsortedSegmentSumFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = UnsortedSegmentSum;
  const a = attrs as unknown as UnsortedSegmentSumAttrs;
  const x = tensorInput(inputs, 'x', kernel);
  const segmentIds = tensorInput(inputs, 'segmentIds', kernel);
  return withScope(asBackend(backend), (s) => unsortedSegmentSumImpl(s, x, segmentIds, a.numSegments));
};

/** The kernels this module provides for the wasm backend, replacing any stock kernel of the same name. */
export const wasmTrainingKernelConfigs: readonly KernelConfig[] = [
  { kernelName: Conv2DBackpropFilter, backendName: WASM, kernelFunc: conv2dBackpropFilterFunc },
  { kernelName: Conv2DBackpropInput, backendName: WASM, kernelFunc: conv2dBackpropInputFunc },
  { kernelName: DepthwiseConv2dNativeBackpropFilter, backendName: WASM, kernelFunc: depthwiseBackpropFilterFunc },
  { kernelName: DepthwiseConv2dNativeBackpropInput, backendName: WASM, kernelFunc: depthwiseBackpropInputFunc },
  { kernelName: UnsortedSegmentSum, backendName: WASM, kernelFunc: unsortedSegmentSumFunc },
];

/** Registers the training kernels for 'wasm' (unregistering stock ones first); safe to call repeatedly. */
export function registerWasmTrainingKernelConfigs(): void {
  for (const config of wasmTrainingKernelConfigs) {
    const existing = getKernel(config.kernelName, WASM);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing !== undefined) unregisterKernel(config.kernelName, WASM);
    registerKernel(config);
  }
}
