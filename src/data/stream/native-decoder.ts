/**
 * The native JPEG decoder of the streaming input pipeline: libjpeg-turbo inside the torch addon
 * (native/src/ops_jpeg.cc). It decodes only the region a geometry needs, DCT-scaled when the image is
 * much larger than the output, resamples with PIL's antialiased bilinear filter, and runs on the
 * addon's own threads, so the event loop stays free. Other formats (and machines without the addon
 * or libjpeg-turbo) go to sharp.
 */
import { availableParallelism } from 'node:os';

import { loadAddon, readBuildInfo, type TorchAddon } from '../../backends/torch/addon.js';
import type { Decoder, DecodeJob, DecodeResult, ResizeJob } from './contract.js';
import { checkResizeJob } from './sharp-decoder.js';

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
    decodeResized(jobs: readonly ResizeJob[], out: Uint8Array): Promise<DecodeResult> {
      try {
        for (const j of jobs) checkResizeJob(j, out.length);
        return decodeResizedByTiles(jobs, out, (tiles, size, scratch) => addon.jpegDecode!(tiles, size, scratch, threads));
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
  return { decoder, reason: `libjpeg-turbo ${version} in the native addon, ${threads} thread${threads === 1 ? '' : 's'}` };
}

/** A square decode call: jobs of size × size pixels into `out` (the addon's jpegDecode, or a test's stand-in). */
export type SquareDecode = (jobs: DecodeJob[], size: number, out: Uint8Array) => Promise<DecodeResult>;

/**
 * Tile positions along an axis of `length` pixels covered by windows of `size` (size <= length): k·size, the last one
 * moved back to end at `length`; and where each tile's part of the output starts (the middle of its overlap with the
 * previous tile, so no pixel is taken near a tile's edge when another tile has it further inside).
 */
export function tilePlan(length: number, size: number): { at: number[]; from: number[] } {
  const n = Math.ceil(length / size);
  const at = Array.from({ length: n }, (_, k) => Math.min(k * size, length - size));
  const from = at.map((p, k) => (k === 0 ? 0 : Math.ceil((p + at[k - 1]! + size) / 2)));
  return { at, from };
}

/**
 * Whole-image resizes through the addon's square `resize-crop` geometry: the resized image is covered by square
 * tiles of its shorter side along its longer side (two for COCO's 4:3 images), each decoded as the window of the same
 * full resize (the addon's taps are those of the whole resized image, so tiles agree where they overlap), then
 * stitched, mirrored when asked, into `out`. Jobs whose tiles share a size go to the addon in one call.
 */
export async function decodeResizedByTiles(jobs: readonly ResizeJob[], out: Uint8Array, decode: SquareDecode): Promise<DecodeResult> {
  interface Tile {
    job: number;
    top: number;
    left: number;
  }
  const bySize = new Map<number, Tile[]>();
  const plans = jobs.map((j, job) => {
    const size = Math.min(j.height, j.width);
    const horizontal = j.width >= j.height;
    const plan = tilePlan(horizontal ? j.width : j.height, size);
    const tiles = bySize.get(size) ?? [];
    for (const p of plan.at) tiles.push({ job, top: horizontal ? 0 : p, left: horizontal ? p : 0 });
    bySize.set(size, tiles);
    return { size, horizontal, plan };
  });
  const result: DecodeResult = jobs.map(() => null);
  await Promise.all(
    [...bySize].map(async ([size, tiles]) => {
      const tileBytes = size * size * 3;
      const scratch = new Uint8Array(tiles.length * tileBytes);
      const square: DecodeJob[] = tiles.map((t, k) => ({
        bytes: jobs[t.job]!.bytes,
        geometry: { kind: 'resize-crop', resizeHeight: jobs[t.job]!.height, resizeWidth: jobs[t.job]!.width, top: t.top, left: t.left, flip: false },
        offset: k * tileBytes,
      }));
      const errors = await decode(square, size, scratch);
      tiles.forEach((t, k) => {
        const err = errors[k] ?? null;
        if (err !== null) {
          result[t.job] ??= err;
          return;
        }
        const j = jobs[t.job]!;
        const { horizontal, plan } = plans[t.job]!;
        const index = plan.at.indexOf(horizontal ? t.left : t.top);
        const start = plan.from[index]!;
        const end = index + 1 < plan.from.length ? plan.from[index + 1]! : horizontal ? j.width : j.height;
        const src = scratch.subarray(k * tileBytes, (k + 1) * tileBytes);
        const W = j.width;
        // Output rows / columns [start, end) along the tiled axis come from this tile.
        const [y0, y1, x0, x1] = horizontal ? [0, j.height, start, end] : [start, end, 0, W];
        for (let y = y0; y < y1; y++) {
          const ty = y - t.top;
          if (!j.flip) {
            out.set(src.subarray((ty * size + (x0 - t.left)) * 3, (ty * size + (x1 - t.left)) * 3), j.offset + (y * W + x0) * 3);
            continue;
          }
          for (let x = x0; x < x1; x++) {
            const s = (ty * size + (x - t.left)) * 3;
            const d = j.offset + (y * W + (W - 1 - x)) * 3;
            out[d] = src[s]!;
            out[d + 1] = src[s + 1]!;
            out[d + 2] = src[s + 2]!;
          }
        }
      });
    }),
  );
  return result;
}
