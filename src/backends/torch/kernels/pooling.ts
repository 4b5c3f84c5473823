// 2-D max and average pooling and their gradients, with tfjs's output size (pads() crops or pads
// bottom/right where tfjs rounds differently from ATen).
import { backend_util } from '@tensorflow/tfjs-core';

import { pads, type Attrs, type KernelFamily, type Pad, type Rounding, type Shape4 } from './common.js';

/** Window, strides and explicit pads of a 2-D pool, in the order the addon's pool entry points take them. */
function poolArgs(shape: number[], a: Attrs): [number, number, number, number, number, number, number, number] {
  const i = backend_util.computePool2DInfo(
    shape as Shape4,
    a.filterSize as number | [number, number],
    a.strides as number | [number, number],
    1,
    a.pad as Pad,
    a.dimRoundingMode as Rounding,
  );
  const [pt, pb, pl, pr] = pads(i);
  return [i.filterHeight, i.filterWidth, i.strideHeight, i.strideWidth, pt, pb, pl, pr];
}

export const poolingKernels: KernelFamily = {
  MaxPool:
    (addon) =>
    ({ x }, b, a) => {
      addon.maxPool(b.h(x), ...poolArgs(x.shape, a));
      return b.out1();
    },
  MaxPoolGrad:
    (addon) =>
    ({ dy, input }, b, a) => {
      addon.maxPoolGrad(b.h(dy), b.h(input), ...poolArgs(input.shape, a));
      return b.out1();
    },
  AvgPool:
    (addon) =>
    ({ x }, b, a) => {
      addon.avgPool(b.h(x), ...poolArgs(x.shape, a));
      return b.out1();
    },
  AvgPoolGrad:
    (addon) =>
    ({ dy, input }, b, a) => {
      addon.avgPoolGrad(b.h(dy), b.h(input), ...poolArgs(input.shape, a));
      return b.out1();
    },
};
