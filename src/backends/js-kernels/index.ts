/**
 * The pwlu kernels written in JS for the `cpu` and `wasm` backends (tfjs-style: kernels live with
 * the backends, the ops only name them). Backend selection registers them for the backend it
 * activates; the torch backend registers them too, because its cpu fallback runs cpu kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { pwluKernelConfigs } from './pwlu.js';

/** Every JS kernel config (today PWLU's forward and backward, for cpu and wasm). */
export const jsKernelConfigs: readonly KernelConfig[] = [...pwluKernelConfigs];

/**
 * Registers the JS kernels for cpu and wasm, so the ops take their fused path there, unless a kernel
 * of that name is registered already; idempotent, and cheap enough to call on every backend switch.
 */
export function registerJsKernels(): void {
  for (const k of jsKernelConfigs) {
    if (tf.getKernel(k.kernelName, k.backendName) === undefined) tf.registerKernel(k);
  }
}
