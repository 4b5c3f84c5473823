/**
 * wasm `DepthwiseConv2dNativeBackpropInput` (the stock wasm backend has none): a depthwise
 * convolution of the stride-dilated dy with the rotated filter, then a sum over the multiplier.
 */
import { backend_util, DepthwiseConv2dNativeBackpropInput } from '@tensorflow/tfjs-core';
import type { DepthwiseConv2dNativeBackpropInputAttrs, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { asBackend, checkShape, pair, shape4, tensorInput, WASM, type Axis, type PadAttr, type Pair, type RoundingMode, type Shape4 } from './common.js';
import { inputGradOperand } from './conv2d-backprop-input.js';
import { withScope, type KernelScope } from './scope.js';

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
    throw new Error(
      `wasm DepthwiseConv2dNativeBackpropInput: shapes disagree: input [${inputShape.join(',')}], dy [${dy.shape.join(',')}], filter [${filterShape.join(',')}]`,
    );
  }
  const info = backend_util.computeConv2DInfo(inputShape, filterShape, strides, dilations, pad, dimRoundingMode, true, 'channelsLast');
  const rows: Axis = { size: h, out: oh, k: kh, stride: strides[0], dilation: dilations[0], padBefore: info.padInfo.top };
  const cols: Axis = { size: w, out: ow, k: kw, stride: strides[1], dilation: dilations[1], padBefore: info.padInfo.left };
  const { operand, pad: convPad } = inputGradOperand(s, dy, rows, cols);
  if (operand.shape[1] === 0 || operand.shape[2] === 0) {
    return s.run('Fill', {}, { shape: [n, h, w, c], value: 0, dtype: 'float32' });
  }
  const rotated = s.run('Reverse', { x: filter }, { dims: [0, 1] });
  // [kh,kw,C,M] -> [kh,kw,C*M,1]: one filter per dy channel (index c*M + m).
  const f = s.reshape(rotated, [kh, kw, c * m, 1]);
  const dxAll = s.run(
    'DepthwiseConv2dNative',
    { x: operand, filter: f },
    {
      strides: [1, 1],
      dilations: [dilations[0], dilations[1]],
      pad: convPad,
      dataFormat: 'NHWC',
    },
  );
  checkShape(dxAll.shape, [n, h, w, c * m], 'DepthwiseConv2dNativeBackpropInput');
  if (m === 1) return dxAll;
  const split = s.reshape(dxAll, [n, h, w, c, m]);
  return s.run('Sum', { x: split }, { axis: [4], keepDims: false });
}

const depthwiseBackpropInputFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = DepthwiseConv2dNativeBackpropInput;
  const a = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const dy = tensorInput(inputs, 'dy', kernel);
  const filter = tensorInput(inputs, 'filter', kernel);
  return withScope(asBackend(backend), (s) =>
    depthwiseInputGrad(s, dy, filter, shape4(a.inputShape, 'inputShape'), pair(a.strides, 'strides'), pair(a.dilations, 'dilations'), a.pad, a.dimRoundingMode),
  );
};

/** The DepthwiseConv2dNativeBackpropInput kernel of the wasm backend, for register.ts. */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: WASM,
  kernelFunc: depthwiseBackpropInputFunc,
};
