// Reductions and scans: the addon's table-driven reductions (the table names every reduction of
// native/src/ops_elementwise.cc), the one-pass Mean gradient, cumulative sums/products and top-k.
import { util } from '@tensorflow/tfjs-core';

import { MEAN_GRAD_KERNEL, type MeanGradAttrs, type MeanGradInputs } from '../../../ops/kernel-names.js';
import { kernel, tableKernels, type Bind, type KernelFamily } from './common.js';

/** How a reduction reads its axes: the attr holding them, and whether it reduces one axis to an index (no keepDims). */
interface Reduction {
  axesAttr: 'axis' | 'reductionIndices';
  toIndex: boolean;
}

const OVER_AXES: Reduction = { axesAttr: 'axis', toIndex: false };
const TO_INDEX: Reduction = { axesAttr: 'axis', toIndex: true };
const REDUCTIONS: Readonly<Record<string, Reduction>> = {
  Sum: OVER_AXES,
  Mean: OVER_AXES,
  Max: { axesAttr: 'reductionIndices', toIndex: false },
  Min: OVER_AXES,
  Prod: OVER_AXES,
  All: OVER_AXES,
  Any: OVER_AXES,
  ArgMax: TO_INDEX,
  ArgMin: TO_INDEX,
};

/** The addon's reductions (op codes from its `reduceOps` list). */
export const reduceKernels = tableKernels(
  REDUCTIONS,
  (addon) => addon.reduceOps,
  (addon, op, { axesAttr, toIndex }) =>
    toIndex
      ? ({ x }, b, a) => {
          const axis = util.parseAxisParam(a[axesAttr] as number, x.shape)[0];
          addon.reduce(op, b.h(x), [axis], false);
          return b.out1();
        }
      : ({ x }, b, a) => {
          const axes = util.parseAxisParam(a[axesAttr] as number | number[], x.shape);
          addon.reduce(op, b.h(x), axes, Boolean(a.keepDims));
          return b.out1();
        },
);

/** Cumsum / Cumprod. */
const cumulative =
  (product: boolean): Bind =>
  (addon) =>
  ({ x }, b, a) => {
    const axis = util.parseAxisParam(a.axis as number, x.shape)[0];
    addon.cumulative(b.h(x), axis, Boolean(a.exclusive), Boolean(a.reverse), product);
    return b.out1();
  };

export const reductionKernels: KernelFamily = {
  ...reduceKernels,
  [MEAN_GRAD_KERNEL]: kernel<MeanGradInputs, MeanGradAttrs>((addon) => ({ dy, x }, b, a) => {
    addon.meanGrad(b.h(dy), x.shape, a.axes);
    return b.out1();
  }),
  Cumsum: cumulative(false),
  Cumprod: cumulative(true),
  TopK:
    (addon) =>
    ({ x }, b, a) => {
      addon.topk(b.h(x), a.k as number, a.sorted !== false);
      return b.outs();
    },
};
