// Public entry of the native 'torch' backend (libtorch/ATen through an N-API addon).
import '@tensorflow/tfjs-backend-cpu'; // cpu kernels: the fallback source
import os from 'node:os';

import * as tf from '@tensorflow/tfjs-core';

import { registerJsKernels } from '../js-kernels/index.js';
import { loadAddon, readBuildInfo, type TorchAddon } from './addon.js';
import { TorchBackend } from './backend.js';
import { fallbackKernel } from './fallback.js';
import { installTorchGradients } from './gradients.js';
import { nativeKernels } from './kernels/index.js';
import { shareSavedTensors } from './saved-tensors.js';
import type { Device } from '../names.js';

export { fallbackKernelsUsed } from './fallback.js';
export { TorchBackend } from './backend.js';

/** Backend name for tf.setBackend(). */
export const TORCH_BACKEND = 'torch';
/** Above cpu (1) and wasm (2), like tfjs-node (3): once registered, tf.ready() prefers it. */
export const TORCH_PRIORITY = 3;

export interface TorchAvailability {
  available: boolean;
  reason: string;
  libtorch?: { path: string; version: string; source: string };
  cuda?: boolean;
  threads?: number;
}

export interface TorchOptions {
  threads?: number;
  device?: Device;
  /** Which GPU on CUDA (a data-parallel run's LOCAL_RANK); default 0. */
  cudaIndex?: number;
}

export interface TorchInfo {
  device: 'cpu' | 'cuda';
  threads: number;
  version: string;
}

/** Whether the native backend can be used here, and why not (for `pwlu doctor`); loads the addon once. */
export function torchAvailability(): TorchAvailability {
  const build = readBuildInfo();
  const libtorch = build ? { path: build.path, version: build.version, source: build.source } : undefined;
  let addon: TorchAddon;
  try {
    addon = loadAddon();
  } catch (e) {
    return { available: false, reason: (e as Error).message, libtorch };
  }
  const cuda = addon.cudaAvailable();
  const threads = addon.getThreads();
  const where = libtorch ? ` from ${libtorch.source}` : '';
  return {
    available: true,
    reason: `libtorch ${addon.version()}${where}${cuda ? ', CUDA available' : ', CPU only'}`,
    libtorch: libtorch ?? { path: 'unknown', version: addon.version(), source: 'unknown' },
    cuda,
    threads,
  };
}

let nativeNames: string[] = [];
let registered = false;
let current: TorchInfo | undefined;

/** Names of the kernels implemented natively (the rest fall back to the cpu backend). */
export function nativeKernelNames(): string[] {
  return [...nativeNames].sort();
}

/**
 * Loads the addon and registers the 'torch' backend with all its kernels (cpu fallbacks for the
 * rest); sets libtorch's intra-op threads. Safe to call again (updates threads; the device is fixed
 * once tensors exist). Throws an Error saying why when the addon is missing or unusable.
 */
export async function registerTorchBackend(opts: TorchOptions = {}): Promise<TorchInfo> {
  const addon = loadAddon();
  const wanted = opts.device ?? 'auto';
  const cudaOk = addon.cudaAvailable();
  if (wanted === 'cuda' && !cudaOk) {
    throw new Error(
      addon.builtWithCuda()
        ? 'torch backend: device "cuda" requested but no CUDA device is visible to libtorch'
        : 'torch backend: device "cuda" requested but this libtorch was built without CUDA',
    );
  }
  const device: 'cpu' | 'cuda' = wanted === 'cpu' || !cudaOk ? 'cpu' : 'cuda';
  if (registered && current && current.device !== device) {
    throw new Error(`torch backend: already registered on ${current.device}; cannot switch to ${device} in this process`);
  }
  addon.setDevice(device, opts.cudaIndex ?? 0);
  addon.setConv1x1Route(readBuildInfo()?.oneDnn1x1?.ok === false);
  const threads = addon.setThreads(Math.max(1, Math.floor(opts.threads ?? os.availableParallelism())));
  if (registered && !tf.findBackendFactory(TORCH_BACKEND)) {
    tf.registerBackend(TORCH_BACKEND, () => new TorchBackend(addon), TORCH_PRIORITY); // after tf.removeBackend
  }
  if (!registered) {
    registerJsKernels(); // the cpu kernels its fallback runs include pwlu's JS kernels
    const configs = nativeKernels(addon);
    nativeNames = configs.map((c) => c.kernelName);
    const have = new Set(nativeNames);
    for (const c of configs) tf.registerKernel(c);
    for (const k of tf.getKernelsForBackend('cpu')) {
      if (!have.has(k.kernelName)) tf.registerKernel(fallbackKernel(k.kernelName));
    }
    tf.registerBackend(TORCH_BACKEND, () => new TorchBackend(addon), TORCH_PRIORITY);
    await installTorchGradients();
    shareSavedTensors();
    registered = true;
  }
  current = { device, threads, version: addon.version() };
  return current;
}

/** Settings of the registered backend, if any. */
export function torchInfo(): TorchInfo | undefined {
  return current;
}
