import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BackendError } from '../util/errors.js';
import { registerJsKernels } from './js-kernels/index.js';

import { BACKEND_ORDER, type ConcreteBackend, type Device } from './names.js';

/** The automatic selection order and the backend names (src/backends/names.ts owns them; re-exported for selection's callers). */
export { BACKEND_ORDER, type ConcreteBackend };

export interface BackendOptions {
  /** Compute threads for native backends; 0 = all cores. */
  threads: number;
  device: Device;
  /** Which GPU on CUDA (a data-parallel run's LOCAL_RANK); default 0. */
  cudaIndex?: number;
}

/** What selection decided, and why; recorded in summary.json. */
export interface BackendChoice {
  name: ConcreteBackend;
  reason: string;
  /** Every backend considered before the chosen one, with why it was passed over. */
  skipped: { name: ConcreteBackend; reason: string }[];
  /** Backend-specific facts (libtorch version, device, threads). */
  detail: Record<string, string | number | boolean>;
}

type Activator = (o: BackendOptions) => Promise<Record<string, string | number | boolean>>;

/** Loads a package only if installed; the name is a variable so optional packages need no types. */
async function importOptional(name: string): Promise<unknown> {
  return import(name);
}

function hasCuda11Runtime(): boolean {
  try {
    return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libcudart.so.11.0');
  } catch {
    return false;
  }
}

/** Why the tensorflow backend is absent when no tfjs-node package is installed: what installing one would give. */
export const TENSORFLOW_NOT_INSTALLED =
  'not installed (optional; @tensorflow/tfjs-node adds libtensorflow on the CPU, @tensorflow/tfjs-node-gpu on CUDA 11.2 + cuDNN 8.1, first in the automatic order; their install downloads libtensorflow)';

/**
 * Whether a failed import says `pkg` itself is absent, or present without the native binding its install downloads
 * (what an optional install that could not reach the download host leaves); not a package it needs, not other errors.
 */
function isNotInstalled(e: unknown, pkg: string): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && e.message.includes(`'${pkg}'`)) return true;
  return /tfjs_binding\.node\) can not be found/.test(e.message) && e.message.includes(`${pkg}/`);
}

/**
 * Loads tfjs-node, GPU build first, for selection and `pwlu doctor` alike: the package that loaded, or why none did.
 * Both absent is the normal case and reads as TENSORFLOW_NOT_INSTALLED rather than a resolver error with a path;
 * a package that is there but fails to load keeps its error verbatim.
 */
export async function loadTensorflowPackage(): Promise<{ ok: true; pkg: string } | { ok: false; reason: string }> {
  const errors: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await withoutReregistrationWarnings(() => importOptional(pkg));
      return { ok: true, pkg };
    } catch (e) {
      if (!isNotInstalled(e, pkg)) errors.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  return { ok: false, reason: errors.length === 0 ? TENSORFLOW_NOT_INSTALLED : errors.join('; ') };
}

/**
 * Runs `load` with tfjs's "The kernel 'X' for backend 'tensorflow' is already registered" warnings dropped: a package
 * that fails after registering its kernels (tfjs-node without its binding) makes the next one repeat ~150 of them.
 */
async function withoutReregistrationWarnings<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!(typeof args[0] === 'string' && /^The kernel '[^']+' for backend '[^']+' is already registered$/.test(args[0]))) warn(...args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}

const ACTIVATORS: Record<ConcreteBackend, Activator> = {
  async tensorflow() {
    const loaded = await loadTensorflowPackage();
    if (!loaded.ok) throw new Error(loaded.reason);
    const pkg = loaded.pkg;
    if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
    const gpu = pkg.endsWith('-gpu');
    // tfjs-node-gpu silently falls back to the CPU when CUDA 11.2 is missing: say so.
    const onGpu = gpu && hasCuda11Runtime();
    return { package: pkg, gpu: onGpu, ...(gpu && !onGpu ? { warning: 'CUDA 11 runtime (libcudart.so.11.0) not found: tfjs-node-gpu runs on the CPU' } : {}) };
  },
  async torch(o) {
    const torch = await import('./torch/index.js');
    const info = await torch.registerTorchBackend({ threads: o.threads || undefined, device: o.device, cudaIndex: o.cudaIndex });
    if (!(await tf.setBackend('torch'))) throw new Error(`the 'torch' backend did not initialise`);
    return { device: info.device, threads: info.threads, libtorch: info.version };
  },
  async wasm() {
    const wasm = await import('./wasm/index.js');
    await wasm.initWasmBackend();
    return { threads: 1 };
  },
  async cpu() {
    registerJsKernels();
    if (!(await tf.setBackend('cpu'))) throw new Error(`the 'cpu' backend did not initialise`);
    silenceCpuBanner();
    return {};
  },
};

/** The cpu backend prints a "use tfjs-node" banner on first use; pwlu chose its backend already. */
export function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (cpu) cpu.firstUse = false;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 300);
}

/**
 * One warning line when automatic selection passed over the native torch backend (its addon missing or broken) for a
 * slower one, so a user does not train 10x slower without knowing; null when torch or a faster backend was chosen, or
 * when the user named the backend.
 */
export function fallbackWarning(choice: BackendChoice): string | null {
  const torch = choice.skipped.find((s) => s.name === 'torch');
  if (!torch || (choice.name !== 'wasm' && choice.name !== 'cpu')) return null;
  return `the native torch backend is unavailable (${torch.reason}); running on '${choice.name}', about 10x slower. \`pwlu doctor\` says why; npm rebuild (or node scripts/build-native.mjs) builds it once libtorch is installed`;
}

/**
 * Activates the requested backend, or the fastest that works when 'auto'. A forced backend that
 * fails is a BackendError (exit 3); in 'auto' mode each failure is recorded and the next is tried.
 */
export async function selectBackend(requested: 'auto' | ConcreteBackend, opts: BackendOptions): Promise<BackendChoice> {
  tf.enableProdMode();
  const skipped: BackendChoice['skipped'] = [];
  const candidates = requested === 'auto' ? BACKEND_ORDER : [requested];
  for (const name of candidates) {
    try {
      const detail = await ACTIVATORS[name](opts);
      await tf.ready();
      const reason =
        requested === 'auto'
          ? skipped.length
            ? `fastest available (${skipped.map((s) => s.name).join(', ')} unavailable)`
            : 'fastest available'
          : 'requested';
      return { name, reason, skipped, detail };
    } catch (e) {
      if (requested !== 'auto') throw new BackendError(`backend '${name}' is not usable: ${firstLine(e)}`);
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new BackendError(`no backend could be initialised: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
