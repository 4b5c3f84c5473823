// The optimizer kernel of src/ops/sgd-momentum.ts: SGD with momentum for every parameter in one call.
import { SGD_MOMENTUM_KERNEL } from '../../../ops/kernel-names.js';
import type { KernelFamily } from './common.js';

export const optimizerKernels: KernelFamily = {
  [SGD_MOMENTUM_KERNEL]: (addon) => (inputs, b, a) => {
    const wds = a.weightDecays as number[];
    const ids: number[] = [];
    for (let i = 0; i < wds.length; i++) ids.push(b.h(inputs[`w${i}`]!), b.h(inputs[`g${i}`]!), b.h(inputs[`b${i}`]!));
    addon.sgdMomentum(ids, Number(a.lr), Number(a.momentum), Boolean(a.nesterov), wds);
    return b.outs();
  },
};
