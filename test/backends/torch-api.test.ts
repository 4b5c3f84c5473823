/**
 * Public API of the native torch backend: availability report (also when the addon is missing),
 * registration result, thread setting, device errors, kernel lists.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { nativeKernelNames, registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { optionalPart } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

describe('torch backend availability without the addon', () => {
  const saved = process.env.PWLU_TORCH_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.PWLU_TORCH_ADDON;
    else process.env.PWLU_TORCH_ADDON = saved;
  });

  it('reports unavailable with the reason and registerTorchBackend throws it', async () => {
    vi.resetModules();
    process.env.PWLU_TORCH_ADDON = '/nonexistent/pwlu_torch.node';
    const fresh = await import('../../src/backends/torch/index.js');
    const a = fresh.torchAvailability();
    expect(a.available).toBe(false);
    expect(a.reason).toMatch(/not built.*build:native/);
    await expect(fresh.registerTorchBackend({})).rejects.toThrow(/not built/);
  });
});

describe.skipIf(!avail.available)(`torch backend API${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  it('reports libtorch, CUDA and threads', () => {
    expect(avail.available).toBe(true);
    expect(avail.libtorch?.version).toMatch(/^\d+\.\d+/);
    expect(typeof avail.cuda).toBe('boolean');
    expect(avail.threads).toBeGreaterThan(0);
  });

  it('registers, sets threads, and becomes the preferred backend', async () => {
    const info = await registerTorchBackend({ threads: 1, device: 'cpu' });
    expect(info).toMatchObject({ device: 'cpu', threads: 1 });
    expect(info.version).toMatch(/^\d+\.\d+/);
    const again = await registerTorchBackend({ threads: 2 });
    expect(again.threads).toBe(2);
    expect(tf.findBackendFactory('torch')).toBeDefined();
    expect(await tf.setBackend('torch')).toBe(true);
    expect(tf.getBackend()).toBe('torch');
    expect(nativeKernelNames().length).toBeGreaterThan(100);
    // every cpu kernel is reachable on torch: natively or through the cpu fallback
    for (const k of tf.getKernelsForBackend('cpu')) expect(tf.getKernel(k.kernelName, 'torch'), k.kernelName).toBeDefined();
    const t = tf.tidy(() => tf.sum(tf.mul(tf.tensor([1, 2, 3]), 2)));
    expect(t.dataSync()[0]).toBe(12);
    t.dispose();
  });

  it.skipIf(avail.cuda)('device "cuda" without CUDA is a clear error', async () => {
    await expect(registerTorchBackend({ device: 'cuda' })).rejects.toThrow(/cuda/i);
  });
});
