/**
 * The tfjs `wasm` backend, made able to train: points it at its .wasm binaries in node_modules,
 * registers the gradient kernels it lacks (one per file in this folder, see register.ts) and pwlu's
 * JS kernels (src/backends/js-kernels/).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerJsKernels } from '../js-kernels/index.js';
import { registerWasmTrainingKernelConfigs } from './register.js';

const WASM_BINARY = 'tfjs-backend-wasm.wasm';
/** The directory given to setWasmPaths, once set (it must be set before the backend first initialises). */
let wasmDir: string | undefined;

/** Registers the wasm training kernels (conv/depthwise backprops, UnsortedSegmentSum); idempotent. */
export function registerWasmTrainingKernels(): void {
  registerWasmTrainingKernelConfigs();
}

/** Directory holding the backend's .wasm binaries, with a trailing separator as setWasmPaths wants. */
function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(main);
  if (!existsSync(path.join(dir, WASM_BINARY))) {
    throw new Error(`${WASM_BINARY} not found next to ${main}`);
  }
  return dir + path.sep;
}

/** Initialises the wasm backend with training kernels and makes it the active backend. */
export async function initWasmBackend(): Promise<void> {
  registerWasmTrainingKernels();
  registerJsKernels();
  if (tf.getBackend() === 'wasm') return;
  try {
    if (wasmDir === undefined) {
      const dir = wasmBinaryDir();
      setWasmPaths(dir);
      wasmDir = dir;
    }
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error(`tf.setBackend('wasm') returned false (binaries from ${wasmDir}; tfjs logged the cause above)`);
    await tf.ready();
  } catch (e) {
    const msg = e instanceof Error ? e.message : typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e);
    throw new Error(`could not initialise the tfjs wasm backend: ${msg}`, { cause: e });
  }
  if (tf.getBackend() !== 'wasm') throw new Error(`could not initialise the tfjs wasm backend: active backend is '${tf.getBackend()}'`);
}
