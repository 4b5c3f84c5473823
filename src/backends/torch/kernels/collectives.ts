// The collectives of src/ops/collectives.ts over the process group the addon holds (native/src/dist.cc).
import {
  ALLREDUCE_KERNEL,
  BROADCAST_KERNEL,
  type AllReduceAttrs,
  type AllReduceInputs,
  type BroadcastAttrs,
  type BroadcastInputs,
} from '../../../ops/kernel-names.js';
import type { TorchAddon } from '../addon.js';
import { kernel, type KernelFamily } from './common.js';

/** The addon's collective, or an error saying why this build has none. */
function need<K extends 'distAllreduce' | 'distBroadcast'>(addon: TorchAddon, name: K): NonNullable<TorchAddon[K]> {
  const f = addon[name];
  if (!f)
    throw new Error(
      `torch backend: this native addon has no torch.distributed (${addon.distInfo?.().reason || 'built before it'}); rebuild with \`npm run build:native\``,
    );
  return f.bind(addon) as NonNullable<TorchAddon[K]>;
}

export const collectiveKernels: KernelFamily = {
  [ALLREDUCE_KERNEL]: kernel<AllReduceInputs, AllReduceAttrs>((addon) => (inputs, b, a) => {
    const ids = Object.keys(inputs).map((_, i) => b.h(inputs[`t${i}`]!));
    need(addon, 'distAllreduce')(ids, Boolean(a.average), Number(a.bucketBytes));
    return b.outs();
  }),
  [BROADCAST_KERNEL]: kernel<BroadcastInputs, BroadcastAttrs>((addon) => (inputs, b, a) => {
    const ids = Object.keys(inputs).map((_, i) => b.h(inputs[`t${i}`]!));
    need(addon, 'distBroadcast')(ids, Number(a.root));
    return b.outs();
  }),
};
