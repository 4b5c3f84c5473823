// Batched matrix products, plain and with tfjs's fused bias + activation epilogue.
import { ACT, type KernelFamily } from './common.js';

export const matmulKernels: KernelFamily = {
  BatchMatMul:
    (addon) =>
    ({ a: x, b: y }, b, a) => {
      addon.batchMatMul(b.h(x), b.h(y), Boolean(a.transposeA), Boolean(a.transposeB), -1, 0, 0, -1);
      return b.out1();
    },
  _FusedMatMul:
    (addon) =>
    ({ a: x, b: y, bias, preluActivationWeights }, b, a) => {
      const act = ACT[(a.activation as string | undefined) ?? 'linear'];
      addon.batchMatMul(
        b.h(x),
        b.h(y),
        Boolean(a.transposeA),
        Boolean(a.transposeB),
        b.hOpt(bias),
        act ?? 0,
        Number(a.leakyreluAlpha ?? 0.2),
        b.hOpt(preluActivationWeights),
      );
      return b.out1();
    },
};
