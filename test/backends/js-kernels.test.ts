/**
 * pwlu's JS kernels live in src/backends/js-kernels/ and are registered by backend selection (the
 * ops register nothing): selecting `cpu` or initialising `wasm` registers them, idempotently.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, describe, expect, it } from 'vitest';
import { jsKernelConfigs, registerJsKernels } from '../../src/backends/js-kernels/index.js';
import { selectBackend } from '../../src/backends/select.js';
import { initWasmBackend } from '../../src/backends/wasm/index.js';
import { PWLU_BACKWARD_KERNEL, PWLU_FORWARD_KERNEL } from '../../src/ops/kernel-names.js';

function unregisterAll(): void {
  for (const k of jsKernelConfigs) if (tf.getKernel(k.kernelName, k.backendName)) tf.unregisterKernel(k.kernelName, k.backendName);
}

function registered(backend: string): boolean {
  return [PWLU_FORWARD_KERNEL, PWLU_BACKWARD_KERNEL].every((name) => {
    const k = tf.getKernel(name, backend);
    return k !== undefined && jsKernelConfigs.some((c) => c.backendName === backend && c.kernelFunc === k.kernelFunc);
  });
}

describe('JS kernel registration', () => {
  afterAll(async () => {
    registerJsKernels();
    await tf.setBackend('cpu');
  });

  it('covers the forward and backward PWLU kernels for cpu and wasm', () => {
    expect(jsKernelConfigs.map((k) => `${k.backendName}:${k.kernelName}`).sort()).toEqual([
      'cpu:PwluBackward',
      'cpu:PwluForward',
      'wasm:PwluBackward',
      'wasm:PwluForward',
    ]);
  });

  it("selecting 'cpu' registers them", async () => {
    unregisterAll();
    expect(registered('cpu')).toBe(false);
    await selectBackend('cpu', { threads: 0, device: 'cpu' });
    expect(registered('cpu')).toBe(true);
  });

  it("initialising 'wasm' registers them", async () => {
    unregisterAll();
    await initWasmBackend();
    expect(registered('wasm')).toBe(true);
    await tf.setBackend('cpu');
  });

  it('registering again changes nothing', () => {
    registerJsKernels();
    const before = jsKernelConfigs.map((k) => tf.getKernel(k.kernelName, k.backendName)?.kernelFunc);
    registerJsKernels();
    expect(jsKernelConfigs.map((k) => tf.getKernel(k.kernelName, k.backendName)?.kernelFunc)).toEqual(before);
  });
});
