/**
 * wasm `Conv2DBackpropInput`, replacing the stock one (a scalar loop): the input gradient as one
 * stride-1 forward convolution of the stride-dilated dy with the rotated filter. The dy preparation
 * (`inputGradOperand`) is shared with the depthwise input gradient.
 */
import { backend_util, Conv2DBackpropInput } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropInputAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  asBackend,
  checkShape,
  dilationsOf,
  explicitPad,
  pair,
  requireNHWC,
  shape4,
  tensorInput,
  WASM,
  type Axis,
  type PadAttr,
  type Pair,
  type RoundingMode,
  type Shape4,
} from './common.js';
import { crop4d, withScope, type KernelScope } from './scope.js';

/**
 * Inserts (stride - 1) zeros after every element of dy along H and W, so that the input gradient of a
 * strided convolution becomes a stride-1 convolution. Result height is OH*sh (trailing zeros included).
 */
function zeroInsert(s: KernelScope, dy: TensorInfo, strides: Pair): TensorInfo {
  const [n, oh, ow, c] = shape4(dy, 'dy');
  const [sh, sw] = strides;
  if (sh === 1 && sw === 1) return dy;
  const d6 = s.reshape(dy, [n, oh, 1, ow, 1, c]);
  const padded = s.pad(d6, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return s.reshape(padded, [n, oh * sh, ow * sw, c]);
}

/**
 * Prepares dy for an input gradient computed as a stride-1 forward convolution with the rotated
 * filter: zero-inserts dy by the stride and works out the convolution's padding; negative padding
 * (explicit pads larger than the filter reach, or strides beyond the filter) becomes a crop.
 */
export function inputGradOperand(s: KernelScope, dy: TensorInfo, rows: Axis, cols: Axis): { operand: TensorInfo; pad: number[][] } {
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
    throw new Error(
      `wasm Conv2DBackpropInput: shapes disagree: input [${inputShape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`,
    );
  }
  const info = backend_util.computeConv2DInfo(inputShape, filterShape, strides, dilations, pad, dimRoundingMode, false, 'channelsLast');
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
  const dx = s.run(
    'Conv2D',
    { x: operand, filter: swapped },
    {
      strides: [1, 1],
      dilations: [dilations[0], dilations[1]],
      pad: convPad,
      dataFormat: 'NHWC',
    },
  );
  checkShape(dx.shape, [n, h, w, ci], 'Conv2DBackpropInput');
  return dx;
}

const conv2dBackpropInputFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = Conv2DBackpropInput;
  const a = attrs as unknown as Conv2DBackpropInputAttrs;
  requireNHWC(a.dataFormat, kernel);
  const dy = tensorInput(inputs, 'dy', kernel);
  const filter = tensorInput(inputs, 'filter', kernel);
  return withScope(asBackend(backend), (s) =>
    conv2dInputGrad(s, dy, filter, shape4(a.inputShape, 'inputShape'), pair(a.strides, 'strides'), dilationsOf(attrs), a.pad, a.dimRoundingMode),
  );
};

/** The Conv2DBackpropInput kernel of the wasm backend, for register.ts. */
export const conv2dBackpropInputConfig: KernelConfig = { kernelName: Conv2DBackpropInput, backendName: WASM, kernelFunc: conv2dBackpropInputFunc };
