// Native kernel configs of the 'torch' backend. Elementwise ops and reductions are table-driven
// (op-name lists come from the addon); the rest map tfjs attrs onto one addon call each.
import {
  backend_util,
  slice_util,
  util,
  type DataType,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

import { DTYPE_CODE, type TorchAddon } from './addon.js';
import type { TorchBackend } from './backend.js';
import {
  APL_BACKWARD_KERNEL,
  APL_FORWARD_KERNEL,
  BN_GRAD_KERNEL,
  BN_TRAIN_KERNEL,
  HARDSWISH_BACKWARD_KERNEL,
  HARDSWISH_FORWARD_KERNEL,
  MEAN_GRAD_KERNEL,
  PAU_BACKWARD_KERNEL,
  PAU_FORWARD_KERNEL,
  PRELU_BACKWARD_KERNEL,
  PRELU_FORWARD_KERNEL,
  PWLU_BACKWARD_KERNEL,
  PWLU_FORWARD_KERNEL,
  PWLU_INFER_KERNEL,
  SGD_MOMENTUM_KERNEL,
  SIGMOID_GRAD_KERNEL,
  SWISH_BACKWARD_KERNEL,
  SWISH_FORWARD_KERNEL,
} from '../../ops/kernel-names.js';
import { runOnCpu, type KernelArgs } from './fallback.js';

type Attrs = Record<string, unknown>;
type Impl = (inputs: Record<string, TensorInfo>, b: TorchBackend, attrs: Attrs, args: KernelArgs, name: string) => TensorInfo | TensorInfo[];

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
type Rounding = 'floor' | 'round' | 'ceil' | undefined;
type Shape4 = [number, number, number, number];

const ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, prelu: 4, leakyrelu: 5, sigmoid: 6 };

function nativeDtype(t: TensorInfo | null | undefined): boolean {
  return t == null || t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool';
}

function code(dtype: DataType): number {
  const c = (DTYPE_CODE as Record<string, number>)[dtype];
  if (c === undefined) throw new Error(`torch backend: dtype '${dtype}' is not native`);
  return c;
}

/**
 * Paddings [top, bottom, left, right] for ATen (floor output size) that reproduce tfjs's output
 * size, which may come from 'ceil'/'round' rounding: bottom/right are adjusted (a negative pad crops).
 */
function pads(info: backend_util.Conv2DInfo): [number, number, number, number] {
  const p = info.padInfo;
  let { bottom, right } = p;
  const h = Math.floor((info.inHeight + p.top + bottom - info.effectiveFilterHeight) / info.strideHeight) + 1;
  if (h !== info.outHeight) bottom = (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - info.inHeight - p.top;
  const w = Math.floor((info.inWidth + p.left + right - info.effectiveFilterWidth) / info.strideWidth) + 1;
  if (w !== info.outWidth) right = (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - info.inWidth - p.left;
  return [p.top, bottom, p.left, right];
}

/** Every native kernel config of the backend, bound to the loaded addon (registered by registerTorchBackend). */
export function nativeKernels(addon: TorchAddon): KernelConfig[] {
  const configs: KernelConfig[] = [];
  const reg = (kernelName: string, impl: Impl): void => {
    const kernelFunc = ((args: KernelArgs) =>
      impl(args.inputs as unknown as Record<string, TensorInfo>, args.backend, (args.attrs ?? {}) as Attrs, args, kernelName)) as unknown as KernelFunc;
    configs.push({ kernelName, backendName: 'torch', kernelFunc });
  };
  const fallback = (name: string, args: KernelArgs) => runOnCpu(name, args);
  const allNative = (inputs: Record<string, TensorInfo> | TensorInfo[]): boolean => {
    for (const t of Object.values(inputs)) if (!nativeDtype(t)) return false;
    return true;
  };

  // ---- elementwise ---------------------------------------------------------------------------
  addon.unaryOps.forEach((name, op) => {
    const p1 = name === 'LeakyRelu' || name === 'Step' ? 'alpha' : name === 'ClipByValue' ? 'clipValueMin' : undefined;
    const p2 = name === 'ClipByValue' ? 'clipValueMax' : undefined;
    reg(name, ({ x }, b, a, args) => {
      if (!nativeDtype(x)) return fallback(name, args);
      addon.unary(op, b.h(x), p1 ? Number(a[p1] ?? (name === 'LeakyRelu' ? 0.2 : 0)) : 0, p2 ? Number(a[p2]) : 0);
      return b.out1();
    });
  });
  addon.binaryOps.forEach((name, op) => {
    const [ka, kb] =
      name === 'Prelu' ? ['x', 'alpha'] : name === 'EluGrad' || name === SIGMOID_GRAD_KERNEL ? ['dy', 'y'] : name.startsWith('Pwlu') ? ['dy', 'x'] : ['a', 'b'];
    reg(name, (inputs, b, _a, args) => {
      const x = inputs[ka];
      const y = inputs[kb];
      if (!nativeDtype(x) || !nativeDtype(y)) return fallback(name, args);
      addon.binary(op, b.h(x), b.h(y));
      return b.out1();
    });
  });
  addon.reduceOps.forEach((name, op) => {
    reg(name, ({ x }, b, a) => {
      if (name === 'ArgMax' || name === 'ArgMin') {
        const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
        addon.reduce(op, b.h(x), [axis], false);
      } else {
        const axes = util.parseAxisParam((name === 'Max' ? a.reductionIndices : a.axis) as number | number[], x.shape);
        addon.reduce(op, b.h(x), axes, Boolean(a.keepDims));
      }
      return b.out1();
    });
  });
  reg(MEAN_GRAD_KERNEL, ({ dy, x }, b, a) => {
    addon.meanGrad(b.h(dy), x.shape, a.axes as number[]);
    return b.out1();
  });
  reg('AddN', (inputs, b, _a, args) => {
    const ts = Object.values(inputs);
    if (!allNative(ts)) return fallback('AddN', args);
    if (ts.length === 1) return b.share(ts[0]);
    addon.addN(ts.map((t) => b.h(t)));
    return b.out1();
  });

  // ---- sharing / dtype -----------------------------------------------------------------------
  reg('Identity', ({ x }, b) => b.share(x));
  reg('Reshape', ({ x }, b, a) => b.share(x, util.inferFromImplicitShape([...(a.shape as number[])], util.sizeFromShape(x.shape))));
  reg('ExpandDims', ({ input }, b, a) => {
    const rank = input.shape.length;
    let dim = a.dim as number;
    if (dim < 0) dim = rank + dim + 1;
    const shape = input.shape.slice();
    shape.splice(dim, 0, 1);
    return b.share(input, shape);
  });
  reg('Cast', ({ x }, b, a, args) => {
    const dtype = a.dtype as DataType;
    if (dtype === x.dtype) return b.share(x);
    if (!nativeDtype(x) || !(dtype in DTYPE_CODE)) return fallback('Cast', args);
    addon.cast(b.h(x), code(dtype));
    return b.out1();
  });

  // ---- convolutions --------------------------------------------------------------------------
  const conv = (
    x: TensorInfo, filter: TensorInfo, a: Attrs, depthwise: boolean, bias: TensorInfo | undefined,
    prelu: TensorInfo | undefined, b: TorchBackend,
  ): TensorInfo => {
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4, filter.shape as Shape4, a.strides as number | [number, number], (a.dilations ?? 1) as number | [number, number],
      a.pad as Pad, a.dimRoundingMode as Rounding, depthwise,
    );
    const [pt, pb, pl, pr] = pads(info);
    const act = ACT[(a.activation as string | undefined) ?? 'linear'];
    if (act === undefined) throw new Error(`torch backend: unknown fused activation '${String(a.activation)}'`);
    addon.conv2d(
      b.h(x), b.h(filter), info.strideHeight, info.strideWidth, pt, pb, pl, pr, info.dilationHeight, info.dilationWidth,
      depthwise, b.hOpt(bias), act, Number(a.leakyreluAlpha ?? 0.2), b.hOpt(prelu),
    );
    return b.out1();
  };
  const nchw = (a: Attrs): boolean => a.dataFormat === 'NCHW' || a.dataFormat === 'channelsFirst';
  const floatOnly = (...ts: Array<TensorInfo | undefined>): boolean => ts.every((t) => t == null || t.dtype === 'float32');
  reg('Conv2D', ({ x, filter }, b, a, args, n) =>
    nchw(a) || !floatOnly(x, filter) ? fallback(n, args) : conv(x, filter, a, false, undefined, undefined, b));
  reg('FusedConv2D', ({ x, filter, bias, preluActivationWeights }, b, a, args, n) =>
    nchw(a) || !floatOnly(x, filter, bias, preluActivationWeights) ? fallback(n, args) : conv(x, filter, a, false, bias, preluActivationWeights, b));
  reg('DepthwiseConv2dNative', ({ x, filter }, b, a, args, n) =>
    nchw(a) || !floatOnly(x, filter) ? fallback(n, args) : conv(x, filter, a, true, undefined, undefined, b));
  reg('FusedDepthwiseConv2D', ({ x, filter, bias, preluActivationWeights }, b, a, args, n) =>
    nchw(a) || !floatOnly(x, filter, bias, preluActivationWeights) ? fallback(n, args) : conv(x, filter, a, true, bias, preluActivationWeights, b));

  const convInput = (dy: TensorInfo, filter: TensorInfo, a: Attrs, depthwise: boolean, b: TorchBackend): TensorInfo => {
    const inShape = a.inputShape as Shape4;
    const info = backend_util.computeConv2DInfo(
      inShape, filter.shape as Shape4, a.strides as number | [number, number], (a.dilations ?? 1) as number | [number, number],
      a.pad as Pad, a.dimRoundingMode as Rounding, depthwise,
    );
    const [pt, pb, pl, pr] = pads(info);
    addon.conv2dBackpropInput(
      b.h(dy), b.h(filter), inShape[0], inShape[1], inShape[2], inShape[3], info.strideHeight, info.strideWidth,
      pt, pb, pl, pr, info.dilationHeight, info.dilationWidth, depthwise,
    );
    return b.out1();
  };
  const convFilter = (x: TensorInfo, dy: TensorInfo, a: Attrs, depthwise: boolean, b: TorchBackend): TensorInfo => {
    const fs = a.filterShape as Shape4;
    const info = backend_util.computeConv2DInfo(
      x.shape as Shape4, fs, a.strides as number | [number, number], (a.dilations ?? 1) as number | [number, number],
      a.pad as Pad, a.dimRoundingMode as Rounding, depthwise,
    );
    const [pt, pb, pl, pr] = pads(info);
    addon.conv2dBackpropFilter(
      b.h(x), b.h(dy), fs[0], fs[1], fs[2], fs[3], info.strideHeight, info.strideWidth,
      pt, pb, pl, pr, info.dilationHeight, info.dilationWidth, depthwise,
    );
    return b.out1();
  };
  reg('Conv2DBackpropInput', ({ dy, filter }, b, a, args, n) => (nchw(a) ? fallback(n, args) : convInput(dy, filter, a, false, b)));
  reg('DepthwiseConv2dNativeBackpropInput', ({ dy, filter }, b, a) => convInput(dy, filter, a, true, b));
  reg('Conv2DBackpropFilter', ({ x, dy }, b, a, args, n) => (nchw(a) ? fallback(n, args) : convFilter(x, dy, a, false, b)));
  reg('DepthwiseConv2dNativeBackpropFilter', ({ x, dy }, b, a) => convFilter(x, dy, a, true, b));

  // ---- pooling -------------------------------------------------------------------------------
  const poolInfo = (shape: number[], a: Attrs) =>
    backend_util.computePool2DInfo(
      shape as Shape4, a.filterSize as number | [number, number], a.strides as number | [number, number], 1, a.pad as Pad,
      a.dimRoundingMode as Rounding,
    );
  /** Window, strides and explicit pads of a 2-D pool, in the order the addon's pool entry points take them. */
  const poolArgs = (shape: number[], a: Attrs): [number, number, number, number, number, number, number, number] => {
    const i = poolInfo(shape, a);
    const [pt, pb, pl, pr] = pads(i);
    return [i.filterHeight, i.filterWidth, i.strideHeight, i.strideWidth, pt, pb, pl, pr];
  };
  reg('MaxPool', ({ x }, b, a) => {
    addon.maxPool(b.h(x), ...poolArgs(x.shape, a));
    return b.out1();
  });
  reg('MaxPoolGrad', ({ dy, input }, b, a) => {
    addon.maxPoolGrad(b.h(dy), b.h(input), ...poolArgs(input.shape, a));
    return b.out1();
  });
  reg('AvgPool', ({ x }, b, a) => {
    addon.avgPool(b.h(x), ...poolArgs(x.shape, a));
    return b.out1();
  });
  reg('AvgPoolGrad', ({ dy, input }, b, a) => {
    addon.avgPoolGrad(b.h(dy), b.h(input), ...poolArgs(input.shape, a));
    return b.out1();
  });

  // ---- normalisation, matmul, softmax, top-k ------------------------------------------------
  reg(SGD_MOMENTUM_KERNEL, (inputs, b, a) => {
    const wds = a.weightDecays as number[];
    const ids: number[] = [];
    for (let i = 0; i < wds.length; i++) ids.push(b.h(inputs[`w${i}`]!), b.h(inputs[`g${i}`]!), b.h(inputs[`b${i}`]!));
    addon.sgdMomentum(ids, Number(a.lr), Number(a.momentum), Boolean(a.nesterov), wds);
    return b.outs();
  });
  reg(BN_TRAIN_KERNEL, ({ x, scale, offset, runningMean, runningVar }, b, a) => {
    addon.bnTrain(b.h(x), b.hOpt(scale), b.hOpt(offset), Number(a.epsilon ?? 1e-3), b.hOpt(runningMean), b.hOpt(runningVar), Number(a.momentum ?? 0));
    return b.outs();
  });
  reg(BN_GRAD_KERNEL, ({ dy, x, scale, mean, invstd }, b, a) => {
    addon.bnGrad(b.h(dy), b.h(x), b.hOpt(scale), b.h(mean), b.h(invstd), Number(a.epsilon ?? 1e-3));
    return b.outs();
  });
  const pwluNative = (ts: Array<TensorInfo | undefined>): boolean => ts.every((t) => t !== undefined && t.dtype === 'float32');
  reg(PWLU_FORWARD_KERNEL, ({ x, y, kl, kr, bl, br }, b, _a, args) => {
    if (!pwluNative([x, y, kl, kr, bl, br])) return fallback(PWLU_FORWARD_KERNEL, args);
    addon.pwluForward(b.h(x), b.h(y), b.h(kl), b.h(kr), b.h(bl), b.h(br));
    return b.out1();
  });
  reg(PWLU_INFER_KERNEL, ({ x, y, kl, kr, bl, br }, b, _a, args) => {
    if (!pwluNative([x, y, kl, kr, bl, br])) return fallback(PWLU_FORWARD_KERNEL, args); // same values; cpu has no infer kernel
    addon.pwluInfer(b.h(x), b.h(y), b.h(kl), b.h(kr), b.h(bl), b.h(br));
    return b.out1();
  });
  reg(PWLU_BACKWARD_KERNEL, ({ dy, x, y, kl, kr, bl, br }, b, _a, args) => {
    if (!pwluNative([dy, x, y, kl, kr, bl, br])) return fallback(PWLU_BACKWARD_KERNEL, args);
    addon.pwluBackward(b.h(dy), b.h(x), b.h(y), b.h(kl), b.h(kr), b.h(bl), b.h(br));
    return b.outs();
  });
  const act2Native = (name: string, ts: TensorInfo[]): void => {
    if (!ts.every((t) => t.dtype === 'float32')) throw new Error(`torch backend: ${name} takes float32 tensors only`);
  };
  reg(PAU_FORWARD_KERNEL, ({ x, a, b: c }, b) => {
    act2Native(PAU_FORWARD_KERNEL, [x, a, c]);
    addon.pauForward(b.h(x), b.h(a), b.h(c));
    return b.out1();
  });
  reg(PAU_BACKWARD_KERNEL, ({ dy, x, a, b: c }, b) => {
    act2Native(PAU_BACKWARD_KERNEL, [dy, x, a, c]);
    addon.pauBackward(b.h(dy), b.h(x), b.h(a), b.h(c));
    return b.outs();
  });
  reg(APL_FORWARD_KERNEL, ({ x, a, b: c }, b) => {
    act2Native(APL_FORWARD_KERNEL, [x, a, c]);
    addon.aplForward(b.h(x), b.h(a), b.h(c));
    return b.out1();
  });
  reg(APL_BACKWARD_KERNEL, ({ dy, x, a, b: c }, b) => {
    act2Native(APL_BACKWARD_KERNEL, [dy, x, a, c]);
    addon.aplBackward(b.h(dy), b.h(x), b.h(a), b.h(c));
    return b.outs();
  });
  reg(SWISH_FORWARD_KERNEL, ({ x, beta }, b, a) => {
    addon.swishForward(b.h(x), b.hOpt(beta), Number(a.beta ?? 1));
    return b.out1();
  });
  reg(SWISH_BACKWARD_KERNEL, ({ dy, x, beta }, b, a) => {
    addon.swishBackward(b.h(dy), b.h(x), b.hOpt(beta), Number(a.beta ?? 1));
    return b.outs();
  });
  reg(PRELU_FORWARD_KERNEL, ({ x, alpha }, b) => {
    addon.preluForward(b.h(x), b.h(alpha));
    return b.out1();
  });
  reg(PRELU_BACKWARD_KERNEL, ({ dy, x, alpha }, b) => {
    addon.preluBackward(b.h(dy), b.h(x), b.h(alpha));
    return b.outs();
  });
  reg(HARDSWISH_FORWARD_KERNEL, ({ x }, b) => {
    addon.hardswishForward(b.h(x));
    return b.out1();
  });
  reg(HARDSWISH_BACKWARD_KERNEL, ({ dy, x }, b) => {
    addon.hardswishBackward(b.h(dy), b.h(x));
    return b.out1();
  });
  reg('FusedBatchNorm', ({ x, mean, variance, offset, scale }, b, a) => {
    addon.fusedBatchNorm(b.h(x), b.h(mean), b.h(variance), b.hOpt(offset), b.hOpt(scale), Number(a.varianceEpsilon ?? 1e-3));
    return b.out1();
  });
  reg('BatchMatMul', ({ a: x, b: y }, b, a) => {
    addon.batchMatMul(b.h(x), b.h(y), Boolean(a.transposeA), Boolean(a.transposeB), -1, 0, 0, -1);
    return b.out1();
  });
  reg('_FusedMatMul', ({ a: x, b: y, bias, preluActivationWeights }, b, a) => {
    const act = ACT[(a.activation as string | undefined) ?? 'linear'];
    addon.batchMatMul(
      b.h(x), b.h(y), Boolean(a.transposeA), Boolean(a.transposeB), b.hOpt(bias), act ?? 0, Number(a.leakyreluAlpha ?? 0.2),
      b.hOpt(preluActivationWeights),
    );
    return b.out1();
  });
  reg('Softmax', ({ logits }, b, a) => {
    const dim = a.dim as number;
    addon.softmax(b.h(logits), dim < 0 ? logits.shape.length + dim : dim);
    return b.out1();
  });
  reg('TopK', ({ x }, b, a) => {
    addon.topk(b.h(x), a.k as number, a.sorted !== false);
    return b.outs();
  });

  // ---- data movement -------------------------------------------------------------------------
  reg('Transpose', ({ x }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('Transpose', args);
    addon.transpose(b.h(x), a.perm as number[]);
    return b.out1();
  });
  reg('Tile', ({ x }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('Tile', args);
    addon.tile(b.h(x), a.reps as number[]);
    return b.out1();
  });
  reg('PadV2', ({ x }, b, a) => {
    addon.pad(b.h(x), (a.paddings as Array<[number, number]>).flat(), Number(a.constantValue ?? 0));
    return b.out1();
  });
  reg('MirrorPad', ({ x }, b, a) => {
    addon.mirrorPad(b.h(x), (a.paddings as Array<[number, number]>).flat(), a.mode === 'reflect');
    return b.out1();
  });
  reg('Slice', ({ x }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('Slice', args);
    const [begin, size] = slice_util.parseSliceParams(x, a.begin as number | number[], a.size as number | number[]);
    slice_util.assertParamsValid(x, begin, size);
    addon.slice(b.h(x), begin, size);
    return b.out1();
  });
  reg('StridedSlice', ({ x }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('StridedSlice', args);
    const s = slice_util.sliceInfo(
      x.shape, a.begin as number[], a.end as number[], a.strides as number[], a.beginMask as number, a.endMask as number,
      a.ellipsisMask as number, a.newAxisMask as number, a.shrinkAxisMask as number,
    );
    if (s.isIdentity) return b.share(x, s.finalShape);
    addon.stridedSlice(b.h(x), s.begin, s.strides, slice_util.computeOutShape(s.begin, s.end, s.strides), s.finalShape);
    return b.out1();
  });
  reg('Concat', (inputs, b, a, args) => {
    const ts = Object.values(inputs);
    if (!allNative(ts)) return fallback('Concat', args);
    const axis = util.parseAxisParam(a.axis as number, ts[0].shape)[0];
    const nonEmpty = ts.filter((t) => util.sizeFromShape(t.shape) > 0);
    if (nonEmpty.length === 1) return b.share(nonEmpty[0]);
    addon.concat((nonEmpty.length ? nonEmpty : ts).map((t) => b.h(t)), axis);
    return b.out1();
  });
  reg('Pack', (inputs, b, a, args) => {
    const ts = Object.values(inputs);
    if (!allNative(ts)) return fallback('Pack', args);
    const axis = a.axis as number;
    addon.pack(ts.map((t) => b.h(t)), axis < 0 ? axis + ts[0].shape.length + 1 : axis);
    return b.out1();
  });
  reg('Unpack', ({ value }, b, a, args) => {
    if (!nativeDtype(value)) return fallback('Unpack', args);
    const axis = a.axis as number;
    addon.unpack(b.h(value), axis < 0 ? axis + value.shape.length : axis);
    return b.outs();
  });
  reg('SplitV', ({ x }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('SplitV', args);
    const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
    const sizes = backend_util.prepareSplitSize(x, a.numOrSizeSplits as number | number[], axis);
    addon.splitV(b.h(x), sizes, axis);
    return b.outs();
  });
  reg('Reverse', ({ x }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('Reverse', args);
    addon.reverse(b.h(x), util.parseAxisParam(a.dims as number | number[], x.shape));
    return b.out1();
  });
  reg('FlipLeftRight', ({ image }, b) => {
    addon.reverse(b.h(image), [2]);
    return b.out1();
  });
  reg('GatherV2', ({ x, indices }, b, a, args) => {
    if (!nativeDtype(x)) return fallback('GatherV2', args);
    const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
    const s = backend_util.segment_util.collectGatherOpShapeInfo(x, indices, axis, (a.batchDims as number | undefined) ?? 0);
    addon.gather(b.h(x), b.h(indices), s.batchSize, s.outerSize, s.dimSize, s.sliceSize, s.outputShape);
    return b.out1();
  });
  reg('GatherNd', ({ params, indices }, b, _a, args) => {
    if (!nativeDtype(params)) return fallback('GatherNd', args);
    addon.gatherNd(b.h(params), b.h(indices));
    return b.out1();
  });
  reg('OneHot', ({ indices }, b, a) => {
    addon.oneHot(b.h(indices), a.depth as number, Number(a.onValue ?? 1), Number(a.offValue ?? 0), code((a.dtype as DataType) ?? 'int32'));
    return b.out1();
  });
  reg('UnsortedSegmentSum', ({ x, segmentIds }, b, a) => {
    addon.unsortedSegmentSum(b.h(x), b.h(segmentIds), a.numSegments as number);
    return b.out1();
  });
  reg('Select', ({ condition, t, e }, b, _a, args) => {
    if (!nativeDtype(t) || !nativeDtype(e)) return fallback('Select', args);
    addon.select(b.h(condition), b.h(t), b.h(e));
    return b.out1();
  });
  reg('Fill', (_i, b, a, args) => {
    const dtype = (a.dtype as DataType | undefined) ?? (typeof a.value === 'string' ? 'string' : 'float32');
    if (!(dtype in DTYPE_CODE)) return fallback('Fill', args);
    addon.fill(a.shape as number[], Number(a.value), code(dtype));
    return b.out1();
  });
  reg('Range', (_i, b, a) => {
    const { start, stop } = a as { start: number; stop: number };
    let step = a.step as number;
    const dtype = (a.dtype as DataType | undefined) ?? 'float32';
    let n = 0;
    if (!(start === stop || (start < stop && step < 0) || (stop < start && step > 1))) {
      n = Math.abs(Math.ceil((stop - start) / step));
      if (stop < start && step === 1) step = -1;
    }
    addon.range(start, step, n, code(dtype));
    return b.out1();
  });
  reg('LinSpace', (_i, b, a) => {
    addon.linspace(a.start as number, a.stop as number, a.num as number);
    return b.out1();
  });
  for (const name of ['Cumsum', 'Cumprod']) {
    reg(name, ({ x }, b, a) => {
      const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
      addon.cumulative(b.h(x), axis, Boolean(a.exclusive), Boolean(a.reverse), name === 'Cumprod');
      return b.out1();
    });
  }
  return configs;
}

