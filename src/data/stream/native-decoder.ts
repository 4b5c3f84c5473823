/**
 * The native JPEG decoder of the streaming input pipeline: libjpeg-turbo inside the torch addon
 * (native/src/ops_jpeg.cc). It decodes only the region a geometry needs, DCT-scaled when the image is
 * much larger than the output, resamples with PIL's antialiased bilinear filter, and runs on the
 * addon's own threads, so the event loop stays free. Other formats (and machines without the addon
 * or libjpeg-turbo) go to sharp.
 */
import { availableParallelism } from 'node:os';

import { loadAddon, readBuildInfo, type TorchAddon } from '../../backends/torch/addon.js';
import type { Decoder, DecodeJob, DecodeResult } from './contract.js';

/** The native decoder and what it is, or null and why it cannot be used here. */
export type NativeDecoderResult = { decoder: Decoder; reason: string } | { decoder: null; reason: string };

/** Whether the bytes start like a JPEG file (SOI marker, then the next marker's 0xFF). */
export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * The 'libjpeg-turbo' Decoder on `threads` addon threads (default: every core), or null with the reason
 * (addon not built, or built without libjpeg-turbo), so the pipeline can fall back to sharp and say why.
 * The addon's pool is shared by every call (as many threads as the largest `threads` asked for), so
 * batches decoded concurrently (prefetch) queue rather than oversubscribe the cores.
 */
export function nativeJpegDecoder(opts: { threads?: number } = {}): NativeDecoderResult {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`decoder threads must be a positive integer, got ${threads}`);
  let addon: TorchAddon;
  try {
    addon = loadAddon();
  } catch (e) {
    return { decoder: null, reason: (e as Error).message };
  }
  const info = addon.jpegInfo?.();
  if (!info || !addon.jpegDecode) {
    const why = info && !info.available ? info.reason : (readBuildInfo()?.jpeg?.reason ?? 'the addon predates the JPEG decoder');
    return { decoder: null, reason: `native addon built without the JPEG decoder: ${why}; rebuild with \`npm run build:native\`` };
  }
  const version = info.available ? info.version : 'unknown';
  const decoder: Decoder = {
    name: 'libjpeg-turbo',
    accepts: isJpeg,
    decode(jobs: readonly DecodeJob[], size: number, out: Uint8Array): Promise<DecodeResult> {
      try {
        // The jobs go to the addon as its own NativeJpegJob type: a Geometry the addon cannot take fails to compile here.
        return addon.jpegDecode!(jobs, size, out, threads);
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
  return { decoder, reason: `libjpeg-turbo ${version} in the native addon, ${threads} thread${threads === 1 ? '' : 's'}` };
}
