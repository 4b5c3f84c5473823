/**
 * wasm `Conv2DBackpropFilter` (the stock wasm backend has none): the filter gradient as one forward
 * convolution on the backend's own XNNPACK kernels.
 */
import { backend_util, Conv2DBackpropFilter } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  asBackend,
  checkShape,
  dilationsOf,
  explicitPad,
  filterGradInputExtent,
  pair,
  requireNHWC,
  shape4,
  tensorInput,
  WASM,
  type PadAttr,
  type Pair,
  type RoundingMode,
  type Shape4,
} from './common.js';
import { crop4d, withScope, type KernelScope } from './scope.js';

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
  const info = backend_util.computeConv2DInfo([n, h, w, ci], filterShape, strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
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
  const out = s.run(
    'Conv2D',
    { x: xt, filter: f },
    {
      strides: [dilations[0], dilations[1]],
      dilations: [strides[0], strides[1]],
      pad: explicitPad(info.padInfo.top, rows.padAfter, info.padInfo.left, cols.padAfter),
      dataFormat: 'NHWC',
    },
  );
  checkShape(out.shape, [ci, kh, kw, co], 'Conv2DBackpropFilter');
  // [Ci,kh,kw,Co] -> [kh,kw,Ci,Co]
  return s.transpose(out, [1, 2, 0, 3]);
}

const conv2dBackpropFilterFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = Conv2DBackpropFilter;
  const a = attrs as unknown as Conv2DBackpropFilterAttrs;
  requireNHWC(a.dataFormat, kernel);
  const x = tensorInput(inputs, 'x', kernel);
  const dy = tensorInput(inputs, 'dy', kernel);
  return withScope(asBackend(backend), (s) =>
    conv2dFilterGrad(s, x, dy, shape4(a.filterShape, 'filterShape'), pair(a.strides, 'strides'), dilationsOf(attrs), a.pad, a.dimRoundingMode),
  );
};

/** The Conv2DBackpropFilter kernel of the wasm backend, for register.ts. */
export const conv2dBackpropFilterConfig: KernelConfig = { kernelName: Conv2DBackpropFilter, backendName: WASM, kernelFunc: conv2dBackpropFilterFunc };
