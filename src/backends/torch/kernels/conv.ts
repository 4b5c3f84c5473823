// 2-D convolutions (plain and depthwise, with fused bias + activation) and their gradients, NHWC
// only: NCHW and non-float32 inputs fall back to cpu.
import { backend_util, type TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchAddon } from '../addon.js';
import type { TorchBackend } from '../backend.js';
import { runOnCpu } from '../fallback.js';
import { ACT, pads, type Attrs, type Bind, type KernelFamily, type Pad, type Rounding, type Shape4 } from './common.js';

function convInfo(inShape: number[], filterShape: number[], a: Attrs, depthwise: boolean): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape as Shape4,
    a.strides as number | [number, number],
    (a.dilations ?? 1) as number | [number, number],
    a.pad as Pad,
    a.dimRoundingMode as Rounding,
    depthwise,
  );
}

function conv(
  addon: TorchAddon,
  x: TensorInfo,
  filter: TensorInfo,
  a: Attrs,
  depthwise: boolean,
  bias: TensorInfo | undefined,
  prelu: TensorInfo | undefined,
  b: TorchBackend,
): TensorInfo {
  const info = convInfo(x.shape, filter.shape, a, depthwise);
  const [pt, pb, pl, pr] = pads(info);
  const act = ACT[(a.activation as string | undefined) ?? 'linear'];
  if (act === undefined) throw new Error(`torch backend: unknown fused activation '${String(a.activation)}'`);
  addon.conv2d(
    b.h(x),
    b.h(filter),
    info.strideHeight,
    info.strideWidth,
    pt,
    pb,
    pl,
    pr,
    info.dilationHeight,
    info.dilationWidth,
    depthwise,
    b.hOpt(bias),
    act,
    Number(a.leakyreluAlpha ?? 0.2),
    b.hOpt(prelu),
  );
  return b.out1();
}

function convInput(addon: TorchAddon, dy: TensorInfo, filter: TensorInfo, a: Attrs, depthwise: boolean, b: TorchBackend): TensorInfo {
  const inShape = a.inputShape as Shape4;
  const info = convInfo(inShape, filter.shape, a, depthwise);
  const [pt, pb, pl, pr] = pads(info);
  addon.conv2dBackpropInput(
    b.h(dy),
    b.h(filter),
    inShape[0],
    inShape[1],
    inShape[2],
    inShape[3],
    info.strideHeight,
    info.strideWidth,
    pt,
    pb,
    pl,
    pr,
    info.dilationHeight,
    info.dilationWidth,
    depthwise,
  );
  return b.out1();
}

function convFilter(addon: TorchAddon, x: TensorInfo, dy: TensorInfo, a: Attrs, depthwise: boolean, b: TorchBackend): TensorInfo {
  const fs = a.filterShape as Shape4;
  const info = convInfo(x.shape, fs, a, depthwise);
  const [pt, pb, pl, pr] = pads(info);
  addon.conv2dBackpropFilter(
    b.h(x),
    b.h(dy),
    fs[0],
    fs[1],
    fs[2],
    fs[3],
    info.strideHeight,
    info.strideWidth,
    pt,
    pb,
    pl,
    pr,
    info.dilationHeight,
    info.dilationWidth,
    depthwise,
  );
  return b.out1();
}

const nchw = (a: Attrs): boolean => a.dataFormat === 'NCHW' || a.dataFormat === 'channelsFirst';
const floatOnly = (...ts: Array<TensorInfo | undefined>): boolean => ts.every((t) => t == null || t.dtype === 'float32');

/** Conv2D / DepthwiseConv2dNative. */
const plain =
  (depthwise: boolean): Bind =>
  (addon) =>
  ({ x, filter }, b, a, args, name) =>
    nchw(a) || !floatOnly(x, filter) ? runOnCpu(name, args) : conv(addon, x, filter, a, depthwise, undefined, undefined, b);
/** FusedConv2D / FusedDepthwiseConv2D: bias and activation in the same call. */
const fused =
  (depthwise: boolean): Bind =>
  (addon) =>
  ({ x, filter, bias, preluActivationWeights }, b, a, args, name) =>
    nchw(a) || !floatOnly(x, filter, bias, preluActivationWeights)
      ? runOnCpu(name, args)
      : conv(addon, x, filter, a, depthwise, bias, preluActivationWeights, b);

export const convKernels: KernelFamily = {
  Conv2D: plain(false),
  FusedConv2D: fused(false),
  DepthwiseConv2dNative: plain(true),
  FusedDepthwiseConv2D: fused(true),
  Conv2DBackpropInput:
    (addon) =>
    ({ dy, filter }, b, a, args, name) =>
      nchw(a) ? runOnCpu(name, args) : convInput(addon, dy, filter, a, false, b),
  DepthwiseConv2dNativeBackpropInput:
    (addon) =>
    ({ dy, filter }, b, a) =>
      convInput(addon, dy, filter, a, true, b),
  Conv2DBackpropFilter:
    (addon) =>
    ({ x, dy }, b, a, args, name) =>
      nchw(a) ? runOnCpu(name, args) : convFilter(addon, x, dy, a, false, b),
  DepthwiseConv2dNativeBackpropFilter:
    (addon) =>
    ({ x, dy }, b, a) =>
      convFilter(addon, x, dy, a, true, b),
};
