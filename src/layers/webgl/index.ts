/**
 * The webgl kernels `pwlu/layers` registers, so that a learned activation costs one shader pass in the browser as
 * ReLU does: PWLU's inference kernel and the forward kernels of PAU, APL and Swish, under the kernel names of
 * src/ops/kernel-names.ts, which the ops' `infer`/`forward` entry points run where the active backend registers
 * them (src/ops/fused-op.ts). PReLU needs none: its composite is tfjs's `prelu`, one packed pass on webgl already.
 */
import { registerAplWebgl } from './apl.js';
import { registerPauWebgl } from './pau.js';
import { registerPwluWebgl } from './pwlu.js';
import { registerSwishWebgl } from './swish.js';

/** Registers every webgl kernel of pwlu/layers (idempotent; harmless where tfjs-backend-webgl is never loaded). */
export function registerWebglKernels(): void {
  registerPwluWebgl();
  registerPauWebgl();
  registerAplWebgl();
  registerSwishWebgl();
}
