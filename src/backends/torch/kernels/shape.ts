// Shape, dtype and data-movement kernels (native/src/ops_shape.cc): views that share storage
// (Identity, Reshape, ExpandDims), casts, transposes, pads, slices, concat/stack/split, gathers,
// one-hot, segment sums and tensor creation (fill, range, linspace).
import { backend_util, slice_util, util, type DataType, type TensorInfo } from '@tensorflow/tfjs-core';

import { DTYPE_CODE } from '../addon.js';
import { runOnCpu } from '../fallback.js';
import { allNative, code, nativeDtype, type KernelFamily } from './common.js';

export const shapeKernels: KernelFamily = {
  Identity:
    () =>
    ({ x }, b) =>
      b.share(x),
  Reshape:
    () =>
    ({ x }, b, a) =>
      b.share(x, util.inferFromImplicitShape([...(a.shape as number[])], util.sizeFromShape(x.shape))),
  ExpandDims:
    () =>
    ({ input }, b, a) => {
      const rank = input.shape.length;
      let dim = a.dim as number;
      if (dim < 0) dim = rank + dim + 1;
      const shape = input.shape.slice();
      shape.splice(dim, 0, 1);
      return b.share(input, shape);
    },
  Cast:
    (addon) =>
    ({ x }, b, a, args, name) => {
      const dtype = a.dtype as DataType;
      if (dtype === x.dtype) return b.share(x);
      if (!nativeDtype(x) || !(dtype in DTYPE_CODE)) return runOnCpu(name, args);
      addon.cast(b.h(x), code(dtype));
      return b.out1();
    },
  Transpose:
    (addon) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      addon.transpose(b.h(x), a.perm as number[]);
      return b.out1();
    },
  Tile:
    (addon) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      addon.tile(b.h(x), a.reps as number[]);
      return b.out1();
    },
  PadV2:
    (addon) =>
    ({ x }, b, a) => {
      addon.pad(b.h(x), (a.paddings as Array<[number, number]>).flat(), Number(a.constantValue ?? 0));
      return b.out1();
    },
  MirrorPad:
    (addon) =>
    ({ x }, b, a) => {
      addon.mirrorPad(b.h(x), (a.paddings as Array<[number, number]>).flat(), a.mode === 'reflect');
      return b.out1();
    },
  Slice:
    (addon) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      const [begin, size] = slice_util.parseSliceParams(x, a.begin as number | number[], a.size as number | number[]);
      slice_util.assertParamsValid(x, begin, size);
      addon.slice(b.h(x), begin, size);
      return b.out1();
    },
  StridedSlice:
    (addon) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      const s = slice_util.sliceInfo(
        x.shape,
        a.begin as number[],
        a.end as number[],
        a.strides as number[],
        a.beginMask as number,
        a.endMask as number,
        a.ellipsisMask as number,
        a.newAxisMask as number,
        a.shrinkAxisMask as number,
      );
      if (s.isIdentity) return b.share(x, s.finalShape);
      addon.stridedSlice(b.h(x), s.begin, s.strides, slice_util.computeOutShape(s.begin, s.end, s.strides), s.finalShape);
      return b.out1();
    },
  Concat: (addon) => (inputs, b, a, args, name) => {
    const ts: TensorInfo[] = Object.values(inputs);
    if (!allNative(ts)) return runOnCpu(name, args);
    const axis = util.parseAxisParam(a.axis as number, ts[0].shape)[0];
    const nonEmpty = ts.filter((t) => util.sizeFromShape(t.shape) > 0);
    if (nonEmpty.length === 1) return b.share(nonEmpty[0]);
    addon.concat(
      (nonEmpty.length ? nonEmpty : ts).map((t) => b.h(t)),
      axis,
    );
    return b.out1();
  },
  Pack: (addon) => (inputs, b, a, args, name) => {
    const ts: TensorInfo[] = Object.values(inputs);
    if (!allNative(ts)) return runOnCpu(name, args);
    const axis = a.axis as number;
    addon.pack(
      ts.map((t) => b.h(t)),
      axis < 0 ? axis + ts[0].shape.length + 1 : axis,
    );
    return b.out1();
  },
  Unpack:
    (addon) =>
    ({ value }, b, a, args, name) => {
      if (!nativeDtype(value)) return runOnCpu(name, args);
      const axis = a.axis as number;
      addon.unpack(b.h(value), axis < 0 ? axis + value.shape.length : axis);
      return b.outs();
    },
  SplitV:
    (addon) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
      const sizes = backend_util.prepareSplitSize(x, a.numOrSizeSplits as number | number[], axis);
      addon.splitV(b.h(x), sizes, axis);
      return b.outs();
    },
  Reverse:
    (addon) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      addon.reverse(b.h(x), util.parseAxisParam(a.dims as number | number[], x.shape));
      return b.out1();
    },
  FlipLeftRight:
    (addon) =>
    ({ image }, b) => {
      addon.reverse(b.h(image), [2]);
      return b.out1();
    },
  GatherV2:
    (addon) =>
    ({ x, indices }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
      const s = backend_util.segment_util.collectGatherOpShapeInfo(x, indices, axis, (a.batchDims as number | undefined) ?? 0);
      addon.gather(b.h(x), b.h(indices), s.batchSize, s.outerSize, s.dimSize, s.sliceSize, s.outputShape);
      return b.out1();
    },
  GatherNd:
    (addon) =>
    ({ params, indices }, b, _a, args, name) => {
      if (!nativeDtype(params)) return runOnCpu(name, args);
      addon.gatherNd(b.h(params), b.h(indices));
      return b.out1();
    },
  OneHot:
    (addon) =>
    ({ indices }, b, a) => {
      addon.oneHot(b.h(indices), a.depth as number, Number(a.onValue ?? 1), Number(a.offValue ?? 0), code((a.dtype as DataType) ?? 'int32'));
      return b.out1();
    },
  UnsortedSegmentSum:
    (addon) =>
    ({ x, segmentIds }, b, a) => {
      addon.unsortedSegmentSum(b.h(x), b.h(segmentIds), a.numSegments as number);
      return b.out1();
    },
  Fill: (addon) => (_i, b, a, args, name) => {
    const dtype = (a.dtype as DataType | undefined) ?? (typeof a.value === 'string' ? 'string' : 'float32');
    if (!(dtype in DTYPE_CODE)) return runOnCpu(name, args);
    addon.fill(a.shape as number[], Number(a.value), code(dtype));
    return b.out1();
  },
  Range: (addon) => (_i, b, a) => {
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
  },
  LinSpace: (addon) => (_i, b, a) => {
    addon.linspace(a.start as number, a.stop as number, a.num as number);
    return b.out1();
  },
};
