/**
 * Peak memory of a piece of work, for `pwlu speed` and run summaries: the tensor bytes at their peak (the torch
 * addon's CPU allocator where it counts them, else tfjs's own bookkeeping of tensor bytes) and the process's peak
 * resident set (Linux VmHWM, reset through /proc/self/clear_refs so that each measurement starts afresh).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

/** Where a tensor-bytes figure comes from. */
export type TensorBytesSource = 'torch-allocator' | 'tfjs';

/** One measurement's peaks, in bytes. */
export interface PeakMemory {
  /** Tensor memory at its peak (weights, optimizer state, activations, gradients and workspace then alive). */
  tensor_bytes: number;
  source: TensorBytesSource;
  /** The process's peak resident set during the work; null where the OS does not say (not Linux). */
  rss_bytes: number | null;
}

interface TensorPeakBackend {
  tensorBytes(): { inUse: number; peak: number } | null;
  resetTensorPeak(): void;
}

function tensorPeakBackend(): TensorPeakBackend | null {
  const b = tf.backend() as unknown as Partial<TensorPeakBackend>;
  return typeof b.tensorBytes === 'function' && typeof b.resetTensorPeak === 'function' ? (b as TensorPeakBackend) : null;
}

/** The process's peak resident set since start or the last resetRssPeak(), in bytes (null off Linux). */
export function rssPeakBytes(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Resets the peak resident set to the current one (Linux 4.0+); false where that is not possible. */
export function resetRssPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` once and returns its peak memory. `device` is the backend's device: tensors on a GPU are not in the
 * CPU allocator, so there tfjs's bookkeeping is used.
 */
export async function measurePeakMemory(fn: () => void, device: string = 'cpu'): Promise<PeakMemory> {
  const native = device === 'cpu' ? tensorPeakBackend() : null;
  native?.resetTensorPeak();
  const rssReset = resetRssPeak();
  const info = await tf.profile(fn);
  const nativeBytes = native?.tensorBytes() ?? null;
  const rss = rssReset ? rssPeakBytes() : null;
  return nativeBytes
    ? { tensor_bytes: nativeBytes.peak, source: 'torch-allocator', rss_bytes: rss }
    : { tensor_bytes: info.peakBytes, source: 'tfjs', rss_bytes: rss };
}

/** The tensor-memory peak of the whole process so far where the torch allocator counts it (a run's summary), else null. */
export function processTensorPeakBytes(device: string = 'cpu'): number | null {
  return device === 'cpu' ? (tensorPeakBackend()?.tensorBytes()?.peak ?? null) : null;
}
