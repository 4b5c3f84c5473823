// The optimizer kernel of src/ops/sgd-momentum.ts: SGD with momentum for every parameter in one call.
import { SGD_MOMENTUM_KERNEL, type SgdMomentumAttrs, type SgdMomentumInputs } from '../../../ops/kernel-names.js';
import { kernel, type KernelFamily } from './common.js';

export const optimizerKernels: KernelFamily = {
  [SGD_MOMENTUM_KERNEL]: kernel<SgdMomentumInputs, SgdMomentumAttrs>((addon) => (inputs, b, a) => {
    const wds = a.weightDecays;
    const ids: number[] = [];
    for (let i = 0; i < wds.length; i++) ids.push(b.h(inputs[`w${i}`]!), b.h(inputs[`g${i}`]!), b.h(inputs[`b${i}`]!));
    addon.sgdMomentum(ids, Number(a.lr), Number(a.momentum), Boolean(a.nesterov), wds);
    return b.outs();
  }),
};
