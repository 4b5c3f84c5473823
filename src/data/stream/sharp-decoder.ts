import { availableParallelism } from 'node:os';
import type { Sharp } from 'sharp';
import { loadSharp } from '../sharp.js';
import type { DecodeJob, DecodeResult, Decoder, ResizeJob } from './contract.js';
import { resizeWindowInto } from './bilinear.js';
import { type ImageFormat, imageFormat, imageSize } from './transforms.js';

/**
 * The portable decoder of the streaming pipeline: sharp (libvips) decodes JPEG, PNG and WebP and
 * applies a job's geometry, the pixels land in the batch buffer as RGB.
 *
 * Matching torchvision's PIL path: embedded ICC profiles are ignored (PIL does not convert), EXIF
 * orientation is ignored (neither auto-rotates), alpha is dropped BEFORE resizing (PIL's
 * convert('RGB'); sharp would otherwise resize premultiplied and drop it afterwards), and the resize
 * kernel is `linear`, libvips's bilinear widened by the shrink factor: antialiased bilinear like PIL's.
 */

/** sharp's kernel closest to PIL/torchvision antialiased bilinear (measured in test/data/sharp-decoder.test.ts). */
export const RESIZE_KERNEL = 'linear';

/** Options of `SharpDecoder`. */
export interface SharpDecoderOptions {
  /** Images in flight at once (each runs on sharp's libuv threads). Default: min(4, cores). */
  concurrency?: number;
}

/** Drops alpha on the full-size image (torchvision converts to RGB before any resize); JPEG has no alpha, so it skips this pass. */
async function withoutAlpha(bytes: Uint8Array, format: ImageFormat): Promise<Sharp> {
  const opts = { ignoreIcc: true, failOn: 'warning' } as const;
  const sharp = await loadSharp();
  if (format === 'jpeg') return sharp(bytes, opts);
  const { data, info } = await sharp(bytes, opts).removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } });
}

/** Copies `px` decoded pixels into `out` as RGB: grey replicated, a leftover alpha band dropped. */
function copyRgb(data: Uint8Array, channels: number, px: number, out: Uint8Array, offset: number): void {
  if (channels === 3) {
    out.set(data.subarray(0, px * 3), offset);
    return;
  }
  const g = channels < 3 ? 0 : 1;
  const b = channels < 3 ? 0 : 2;
  for (let i = 0; i < px; i++) {
    out[offset + 3 * i] = data[channels * i]!;
    out[offset + 3 * i + 1] = data[channels * i + g]!;
    out[offset + 3 * i + 2] = data[channels * i + b]!;
  }
}

/**
 * Decodes one job into `out`; returns why it failed, or null. Shrinking runs in sharp (its `linear`
 * kernel is PIL's antialiased bilinear to within rounding); enlarging, where libvips departs from
 * PIL, runs in `resizeWindowInto` on the shrunk pixels.
 */
async function decodeOne(job: DecodeJob, size: number, out: Uint8Array): Promise<string | null> {
  try {
    const format = imageFormat(job.bytes);
    if (format === null) return 'not a JPEG, PNG or WebP file';
    const g = job.geometry;
    const crop = g.kind === 'crop-resize';
    // The region that is resized, and the size it is resized to.
    const region = crop ? { width: g.width, height: g.height } : imageSize(job.bytes);
    const targetWidth = crop ? size : g.resizeWidth;
    const targetHeight = crop ? size : g.resizeHeight;
    const shrunkWidth = Math.min(targetWidth, region.width);
    const shrunkHeight = Math.min(targetHeight, region.height);
    const shrinks = shrunkWidth !== region.width || shrunkHeight !== region.height;

    let img = await withoutAlpha(job.bytes, format);
    if (crop) img = img.extract({ left: g.left, top: g.top, width: g.width, height: g.height });
    if (shrinks) img = img.resize(shrunkWidth, shrunkHeight, { fit: 'fill', kernel: RESIZE_KERNEL, fastShrinkOnLoad: false });

    if (shrunkWidth < targetWidth || shrunkHeight < targetHeight) {
      const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      if (info.width !== shrunkWidth || info.height !== shrunkHeight) {
        return `decoded to ${info.width}x${info.height}, expected ${shrunkWidth}x${shrunkHeight}`;
      }
      const win = { targetWidth, targetHeight, top: crop ? 0 : g.top, left: crop ? 0 : g.left, size, flip: g.flip };
      resizeWindowInto({ data, width: info.width, height: info.height, channels: info.channels }, win, out, job.offset);
      return null;
    }
    if (!crop) {
      // After a resize, sharp's extract runs after its flop: mirror the box so the crop is taken first.
      const left = g.flip && shrinks ? targetWidth - g.left - size : g.left;
      img = img.extract({ left, top: g.top, width: size, height: size });
    }
    if (g.flip) img = img.flop();
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size) return `decoded to ${info.width}x${info.height}, expected ${size}x${size}`;
    copyRgb(data, info.channels, size * size, out, job.offset);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Decodes one whole-image resize (detection) into `out`, shrinking in sharp and enlarging in JS as `decodeOne` does. */
async function decodeResizedOne(job: ResizeJob, out: Uint8Array): Promise<string | null> {
  try {
    const format = imageFormat(job.bytes);
    if (format === null) return 'not a JPEG, PNG or WebP file';
    const src = imageSize(job.bytes);
    const shrunkWidth = Math.min(job.width, src.width);
    const shrunkHeight = Math.min(job.height, src.height);
    let img = await withoutAlpha(job.bytes, format);
    if (shrunkWidth !== src.width || shrunkHeight !== src.height) {
      img = img.resize(shrunkWidth, shrunkHeight, { fit: 'fill', kernel: RESIZE_KERNEL, fastShrinkOnLoad: false });
    }
    const enlarges = shrunkWidth < job.width || shrunkHeight < job.height;
    if (job.flip && !enlarges) img = img.flop();
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.width !== shrunkWidth || info.height !== shrunkHeight) return `decoded to ${info.width}x${info.height}, expected ${shrunkWidth}x${shrunkHeight}`;
    if (enlarges) {
      const win = { targetWidth: job.width, targetHeight: job.height, top: 0, left: 0, size: 0, height: job.height, width: job.width, flip: job.flip };
      resizeWindowInto({ data, width: info.width, height: info.height, channels: info.channels }, win, out, job.offset);
    } else copyRgb(data, info.channels, job.width * job.height, out, job.offset);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The sharp `Decoder`: any JPEG, PNG or WebP, a bounded number of images in flight. */
export class SharpDecoder implements Decoder {
  readonly name = 'sharp';
  private readonly concurrency: number;

  constructor(opts: SharpDecoderOptions = {}) {
    const c = opts.concurrency ?? Math.min(4, availableParallelism());
    if (!Number.isInteger(c) || c < 1) throw new RangeError(`concurrency must be a positive integer, got ${c}`);
    this.concurrency = c;
  }

  /** Whether the bytes are JPEG, PNG or WebP (by magic bytes). */
  accepts(bytes: Uint8Array): boolean {
    return imageFormat(bytes) !== null;
  }

  /** Decodes every job into its slot of `out`; a bad image fails only its own job. */
  async decode(jobs: readonly DecodeJob[], size: number, out: Uint8Array): Promise<DecodeResult> {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
    const per = size * size * 3;
    for (const j of jobs) {
      if (!Number.isInteger(j.offset) || j.offset < 0 || j.offset + per > out.length) {
        throw new RangeError(`job offset ${j.offset} + ${per} bytes lies outside the ${out.length}-byte output`);
      }
    }
    await loadSharp(); // a missing sharp is the whole decoder's failure, not each image's
    const result: DecodeResult = new Array<string | null>(jobs.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < jobs.length; i = next++) result[i] = await decodeOne(jobs[i]!, size, out);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, jobs.length) }, worker));
    return result;
  }

  /** Decodes whole-image resizes (detection) into their slots of `out`; a bad image fails only its own job. */
  async decodeResized(jobs: readonly ResizeJob[], out: Uint8Array): Promise<DecodeResult> {
    for (const j of jobs) checkResizeJob(j, out.length);
    await loadSharp();
    const result: DecodeResult = new Array<string | null>(jobs.length).fill(null);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < jobs.length; i = next++) result[i] = await decodeResizedOne(jobs[i]!, out);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, jobs.length) }, worker));
    return result;
  }
}

/** Throws for a resize job whose size is not positive integers or whose pixels fall outside the output (a caller bug). */
export function checkResizeJob(j: ResizeJob, outLength: number): void {
  if (!Number.isInteger(j.height) || !Number.isInteger(j.width) || j.height < 1 || j.width < 1) {
    throw new RangeError(`resize job size must be positive integers, got ${j.width}x${j.height}`);
  }
  const bytes = j.height * j.width * 3;
  if (!Number.isInteger(j.offset) || j.offset < 0 || j.offset + bytes > outLength) {
    throw new RangeError(`job offset ${j.offset} + ${bytes} bytes lies outside the ${outLength}-byte output`);
  }
}
