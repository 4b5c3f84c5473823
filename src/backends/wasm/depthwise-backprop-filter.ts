/**
 * wasm `DepthwiseConv2dNativeBackpropFilter` (the stock wasm backend has none): the filter gradient
 * as one depthwise convolution with a small kernel over blocks of dy gathered on the wasm heap.
 */
import { backend_util, DepthwiseConv2dNativeBackpropFilter } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropFilterAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { asBackend, checkShape, pair, shape4, tensorInput, WASM, type Axis, type PadAttr, type Pair, type RoundingMode, type Shape4 } from './common.js';
import { withScope, type KernelScope } from './scope.js';

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

/** Where the windows of x are cut: x's shape, the window extent, the block grid and its steps on x. */
interface WindowGeometry {
  n: number;
  h: number;
  w: number;
  c: number;
  m: number;
  /** window extent (rows, columns) */
  lh: number;
  lw: number;
  /** blocks per image (rows, columns) */
  bu: number;
  bv: number;
  /** rows and columns of x between neighbouring blocks: b * stride */
  rowStep: number;
  colStep: number;
  padTop: number;
  padLeft: number;
}

/**
 * The x operand of the windowed filter gradient, copied on the heap at `to` (zero where the window
 * reaches padding; each channel repeated M times):
 * windows[0, th, tw, ((nb*bu + u)*bv + v)*c*m + ci*m + mi] = x[nb, th + u*b*s - pt, tw + v*b*s - pl, ci]
 */
function gatherWindows(heap: Float32Array, xAt: number, to: number, g: WindowGeometry): void {
  const { n, h, w, c, m, lh, lw, bu, bv, rowStep, colStep, padTop, padLeft } = g;
  const cellSize = c * m;
  for (let th = 0; th < lh; th++) {
    for (let tw = 0; tw < lw; tw++) {
      for (let nb = 0; nb < n; nb++) {
        for (let u = 0; u < bu; u++) {
          const r = th + u * rowStep - padTop;
          if (r < 0 || r >= h) {
            heap.fill(0, to, to + bv * cellSize);
            to += bv * cellSize;
            continue;
          }
          const rowBase = xAt + (nb * h + r) * w * c;
          for (let v = 0; v < bv; v++, to += cellSize) {
            const col = tw + v * colStep - padLeft;
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
}

/** dy's shape and how it is cut into b x b blocks (bu x bv per image). */
interface BlockGeometry {
  n: number;
  oh: number;
  ow: number;
  /** dy channels, C * M */
  cm: number;
  b: number;
  bu: number;
  bv: number;
}

/**
 * The filter operand of the windowed filter gradient, copied on the heap at `to`:
 * blocks[bh, bw, ((nb*bu + u)*bv + v)*c*m + k, 0] = dy[nb, u*b + bh, v*b + bw, k]  (zero beyond OH/OW)
 */
function gatherBlocks(heap: Float32Array, dyAt: number, to: number, g: BlockGeometry): void {
  const { n, oh, ow, cm, b, bu, bv } = g;
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
    throw new Error(
      `wasm DepthwiseConv2dNativeBackpropFilter: shapes disagree: x [${x.shape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`,
    );
  }
  if (n === 0 || oh === 0 || ow === 0 || h === 0 || w === 0) {
    return s.run('Fill', {}, { shape: [...filterShape], value: 0, dtype: 'float32' });
  }
  const info = backend_util.computeConv2DInfo([n, h, w, c], filterShape, strides, dilations, pad, dimRoundingMode, true, 'channelsLast');
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
  gatherWindows(heap, xAt, winAt, {
    n,
    h,
    w,
    c,
    m,
    lh,
    lw,
    bu,
    bv,
    rowStep: b * rows.stride,
    colStep: b * cols.stride,
    padTop: rows.padBefore,
    padLeft: cols.padBefore,
  });
  gatherBlocks(heap, dyAt, blkAt, { n, oh, ow, cm, b, bu, bv });
  const out = s.run(
    'DepthwiseConv2dNative',
    { x: windows, filter: blocks },
    {
      strides: [dilations[0], dilations[1]],
      dilations: [strides[0], strides[1]],
      pad: 'valid',
      dataFormat: 'NHWC',
    },
  );
  checkShape(out.shape, [1, kh, kw, channels], 'DepthwiseConv2dNativeBackpropFilter');
  if (groups === 1) return s.reshape(out, [kh, kw, c, m]);
  // Sum over the (n,u,v) groups as a batched product with ones: about 3x faster than the Sum
  // kernel, which transposes a middle-axis reduction first.
  const perGroup = s.reshape(out, [kh * kw, groups, c * m]);
  const ones = s.run('Fill', {}, { shape: [kh * kw, 1, groups], value: 1, dtype: 'float32' });
  const summed = s.run('BatchMatMul', { a: ones, b: perGroup }, { transposeA: false, transposeB: false });
  return s.reshape(summed, [kh, kw, c, m]);
}

const depthwiseBackpropFilterFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = DepthwiseConv2dNativeBackpropFilter;
  const a = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const x = tensorInput(inputs, 'x', kernel);
  const dy = tensorInput(inputs, 'dy', kernel);
  return withScope(asBackend(backend), (s) =>
    depthwiseFilterGrad(s, x, dy, shape4(a.filterShape, 'filterShape'), pair(a.strides, 'strides'), pair(a.dilations, 'dilations'), a.pad, a.dimRoundingMode),
  );
};

/** The DepthwiseConv2dNativeBackpropFilter kernel of the wasm backend, for register.ts. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: WASM,
  kernelFunc: depthwiseBackpropFilterFunc,
};
