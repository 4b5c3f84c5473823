// Activation kernels: the fused PWLU, PAU, APL, Swish, PReLU and hard-swish kernels of src/ops/
// (contracts at the top of each op file) and tfjs's Softmax.
import type { TensorInfo } from '@tensorflow/tfjs-core';

import {
  APL_BACKWARD_KERNEL,
  APL_FORWARD_KERNEL,
  HARDSWISH_BACKWARD_KERNEL,
  HARDSWISH_FORWARD_KERNEL,
  PAU_BACKWARD_KERNEL,
  PAU_FORWARD_KERNEL,
  PRELU_BACKWARD_KERNEL,
  PRELU_FORWARD_KERNEL,
  PWLU_BACKWARD_KERNEL,
  PWLU_FORWARD_KERNEL,
  PWLU_INFER_KERNEL,
  PWLU_WIDEN_BOUNDS_KERNEL,
  SWISH_BACKWARD_KERNEL,
  SWISH_FORWARD_KERNEL,
  type AplBackwardInputs,
  type AplForwardInputs,
  type HardSwishBackwardInputs,
  type HardSwishForwardInputs,
  type NoAttrs,
  type PauBackwardInputs,
  type PauForwardInputs,
  type PreluBackwardInputs,
  type PreluForwardInputs,
  type PwluBackwardInputs,
  type PwluForwardInputs,
  type PwluInferInputs,
  type PwluWidenBoundsAttrs,
  type PwluWidenBoundsInputs,
  type SwishBackwardAttrs,
  type SwishBackwardInputs,
  type SwishForwardAttrs,
  type SwishForwardInputs,
} from '../../../ops/kernel-names.js';
import { runOnCpu } from '../fallback.js';
import { kernel, type KernelFamily } from './common.js';

/** PWLU runs natively on float32 only (and every input present); anything else takes the cpu kernel. */
const pwluNative = (ts: Array<TensorInfo | undefined>): boolean => ts.every((t) => t !== undefined && t.dtype === 'float32');

/** PAU, APL and the PWLU bounds guard have no cpu kernel to fall back to: other dtypes are an error. */
function float32Only(name: string, ts: TensorInfo[]): void {
  if (!ts.every((t) => t.dtype === 'float32')) throw new Error(`torch backend: ${name} takes float32 tensors only`);
}

export const activationKernels: KernelFamily = {
  [PWLU_FORWARD_KERNEL]: kernel<PwluForwardInputs, NoAttrs>((addon) => ({ x, y, kl, kr, bl, br }, b, _a, args, name) => {
    if (!pwluNative([x, y, kl, kr, bl, br])) return runOnCpu(name, args);
    addon.pwluForward(b.h(x), b.h(y), b.h(kl), b.h(kr), b.h(bl), b.h(br));
    return b.out1();
  }),
  [PWLU_INFER_KERNEL]: kernel<PwluInferInputs, NoAttrs>((addon) => ({ x, y, kl, kr, bl, br }, b, _a, args) => {
    if (!pwluNative([x, y, kl, kr, bl, br])) return runOnCpu(PWLU_FORWARD_KERNEL, args); // same values; cpu has no infer kernel
    addon.pwluInfer(b.h(x), b.h(y), b.h(kl), b.h(kr), b.h(bl), b.h(br));
    return b.out1();
  }),
  [PWLU_BACKWARD_KERNEL]: kernel<PwluBackwardInputs, NoAttrs>((addon) => ({ dy, x, y, kl, kr, bl, br }, b, _a, args, name) => {
    if (!pwluNative([dy, x, y, kl, kr, bl, br])) return runOnCpu(name, args);
    addon.pwluBackward(b.h(dy), b.h(x), b.h(y), b.h(kl), b.h(kr), b.h(bl), b.h(br));
    return b.outs();
  }),
  [PWLU_WIDEN_BOUNDS_KERNEL]: kernel<PwluWidenBoundsInputs, PwluWidenBoundsAttrs>((addon) => ({ bl, br }, b, a, _args, name) => {
    float32Only(name, [bl, br]);
    addon.pwluWidenBounds(b.h(bl), b.h(br), a.minWidth);
    return b.outs();
  }),
  [PAU_FORWARD_KERNEL]: kernel<PauForwardInputs, NoAttrs>((addon) => ({ x, a, b: c }, b, _a, _args, name) => {
    float32Only(name, [x, a, c]);
    addon.pauForward(b.h(x), b.h(a), b.h(c));
    return b.out1();
  }),
  [PAU_BACKWARD_KERNEL]: kernel<PauBackwardInputs, NoAttrs>((addon) => ({ dy, x, a, b: c }, b, _a, _args, name) => {
    float32Only(name, [dy, x, a, c]);
    addon.pauBackward(b.h(dy), b.h(x), b.h(a), b.h(c));
    return b.outs();
  }),
  [APL_FORWARD_KERNEL]: kernel<AplForwardInputs, NoAttrs>((addon) => ({ x, a, b: c }, b, _a, _args, name) => {
    float32Only(name, [x, a, c]);
    addon.aplForward(b.h(x), b.h(a), b.h(c));
    return b.out1();
  }),
  [APL_BACKWARD_KERNEL]: kernel<AplBackwardInputs, NoAttrs>((addon) => ({ dy, x, a, b: c }, b, _a, _args, name) => {
    float32Only(name, [dy, x, a, c]);
    addon.aplBackward(b.h(dy), b.h(x), b.h(a), b.h(c));
    return b.outs();
  }),
  [SWISH_FORWARD_KERNEL]: kernel<SwishForwardInputs, SwishForwardAttrs>((addon) => ({ x, beta }, b, a) => {
    addon.swishForward(b.h(x), b.hOpt(beta), Number(a.beta ?? 1));
    return b.out1();
  }),
  [SWISH_BACKWARD_KERNEL]: kernel<SwishBackwardInputs, SwishBackwardAttrs>((addon) => ({ dy, x, beta }, b, a) => {
    addon.swishBackward(b.h(dy), b.h(x), b.hOpt(beta), Number(a.beta ?? 1));
    return b.outs();
  }),
  [PRELU_FORWARD_KERNEL]: kernel<PreluForwardInputs, NoAttrs>((addon) => ({ x, alpha }, b) => {
    addon.preluForward(b.h(x), b.h(alpha));
    return b.out1();
  }),
  [PRELU_BACKWARD_KERNEL]: kernel<PreluBackwardInputs, NoAttrs>((addon) => ({ dy, x, alpha }, b) => {
    addon.preluBackward(b.h(dy), b.h(x), b.h(alpha));
    return b.outs();
  }),
  [HARDSWISH_FORWARD_KERNEL]: kernel<HardSwishForwardInputs, NoAttrs>((addon) => ({ x }, b) => {
    addon.hardswishForward(b.h(x));
    return b.out1();
  }),
  [HARDSWISH_BACKWARD_KERNEL]: kernel<HardSwishBackwardInputs, NoAttrs>((addon) => ({ dy, x }, b) => {
    addon.hardswishBackward(b.h(dy), b.h(x));
    return b.out1();
  }),
  Softmax:
    (addon) =>
    ({ logits }, b, a) => {
      const dim = a.dim as number;
      addon.softmax(b.h(logits), dim < 0 ? logits.shape.length + dim : dim);
      return b.out1();
    },
};
