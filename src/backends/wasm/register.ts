/**
 * Training kernels for the tfjs `wasm` backend, one per file beside this one (tfjs-backend-cpu's
 * `register_all_kernels.ts` convention).
 *
 * The stock wasm backend (4.22) has no Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter,
 * DepthwiseConv2dNativeBackpropInput or UnsortedSegmentSum, and its Conv2DBackpropInput is a scalar
 * loop. Every gradient here is rewritten as a FORWARD convolution (or a scatter), so it runs on the
 * backend's own XNNPACK kernels. Kernels are composed by calling the wasm backend's registered
 * kernels directly and disposing every intermediate (scope.ts).
 */
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { WASM } from './common.js';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { depthwiseBackpropFilterConfig } from './depthwise-backprop-filter.js';
import { depthwiseBackpropInputConfig } from './depthwise-backprop-input.js';
import { unsortedSegmentSumConfig } from './unsorted-segment-sum.js';

/** The kernels this module provides for the wasm backend, replacing any stock kernel of the same name. */
export const wasmTrainingKernelConfigs: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  unsortedSegmentSumConfig,
];

/** Registers the training kernels for 'wasm' (unregistering stock ones first); safe to call repeatedly. */
export function registerWasmTrainingKernelConfigs(): void {
  for (const config of wasmTrainingKernelConfigs) {
    const existing = getKernel(config.kernelName, WASM);
    if (existing?.kernelFunc === config.kernelFunc) continue;
    if (existing !== undefined) unregisterKernel(config.kernelName, WASM);
    registerKernel(config);
  }
}
