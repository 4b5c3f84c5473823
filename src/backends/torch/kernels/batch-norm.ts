// Batch norm: the training kernels of src/ops/batch-norm.ts (statistics + running update, and the
// backward) and tfjs's inference FusedBatchNorm, one native pass each.
import { BN_GRAD_KERNEL, BN_TRAIN_KERNEL, type BnGradAttrs, type BnGradInputs, type BnTrainAttrs, type BnTrainInputs } from '../../../ops/kernel-names.js';
import { kernel, type KernelFamily } from './common.js';

export const batchNormKernels: KernelFamily = {
  [BN_TRAIN_KERNEL]: kernel<BnTrainInputs, BnTrainAttrs>((addon) => ({ x, scale, offset, runningMean, runningVar }, b, a) => {
    addon.bnTrain(b.h(x), b.hOpt(scale), b.hOpt(offset), Number(a.epsilon ?? 1e-3), b.hOpt(runningMean), b.hOpt(runningVar), Number(a.momentum ?? 0));
    return b.outs();
  }),
  [BN_GRAD_KERNEL]: kernel<BnGradInputs, BnGradAttrs>((addon) => ({ dy, x, scale, mean, invstd }, b, a) => {
    addon.bnGrad(b.h(dy), b.h(x), b.hOpt(scale), b.h(mean), b.h(invstd), Number(a.epsilon ?? 1e-3));
    return b.outs();
  }),
  FusedBatchNorm:
    (addon) =>
    ({ x, mean, variance, offset, scale }, b, a) => {
      addon.fusedBatchNorm(b.h(x), b.h(mean), b.h(variance), b.hOpt(offset), b.hOpt(scale), Number(a.varianceEpsilon ?? 1e-3));
      return b.out1();
    },
};
