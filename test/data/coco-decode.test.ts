/**
 * The decoders' whole-image resize for detection (`decodeResized`, src/data/stream/contract.ts): the native decoder's
 * tiling of square `resize-crop` windows checked exactly with a stand-in square decoder that paints each pixel from
 * its coordinate in the resized image; the native and sharp results against a PIL-style reference (sharp's full
 * decode, then the JS antialiased bilinear of bilinear.ts over the whole image); flips as exact mirrors; a corrupt
 * image failing only its own job. The native parts are skipped where the addon lacks libjpeg-turbo.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { resizeWindowInto } from '../../src/data/stream/bilinear.js';
import type { DecodeJob, ResizeJob } from '../../src/data/stream/contract.js';
import { decodeResizedByTiles, nativeJpegDecoder, tilePlan } from '../../src/data/stream/native-decoder.js';
import { SharpDecoder } from '../../src/data/stream/sharp-decoder.js';
import { optionalPart } from '../helpers/optional-parts.js';

const native = nativeJpegDecoder({ threads: 2 });
const hasNative = optionalPart('jpeg', !!native.decoder, native.reason);

/** The colour a stand-in decoder paints at (Y, X) of the whole resized image. */
const paint = (Y: number, X: number): [number, number, number] => [(7 * Y + 3 * X) % 256, Y % 256, X % 256];

/** A square decoder that paints each window pixel from its absolute resized coordinate (top + y, left + x). */
async function paintingDecode(jobs: DecodeJob[], size: number, out: Uint8Array) {
  for (const j of jobs) {
    const g = j.geometry;
    if (g.kind !== 'resize-crop' || g.flip) throw new Error('tiles are unflipped resize-crop windows');
    expect(g.top + size).toBeLessThanOrEqual(g.resizeHeight);
    expect(g.left + size).toBeLessThanOrEqual(g.resizeWidth);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) out.set(paint(g.top + y, g.left + x), j.offset + (y * size + x) * 3);
  }
  await Promise.resolve();
  return jobs.map(() => null);
}

describe('tiling a whole-image resize into square windows', () => {
  it('plans tiles that cover the axis, each output pixel taken from the middle of an overlap', () => {
    // 127 = 2 * 63 + 1: a third tile; tiles 2 and 3 overlap on [64, 126), whose middle is 95.
    expect(tilePlan(127, 63)).toEqual({ at: [0, 63, 64], from: [0, 63, 95] });
    expect(tilePlan(100, 60)).toEqual({ at: [0, 40], from: [0, 50] });
    expect(tilePlan(64, 64)).toEqual({ at: [0], from: [0] });
    expect(tilePlan(200, 50)).toEqual({ at: [0, 50, 100, 150], from: [0, 50, 100, 150] });
  });

  it('stitches every pixel from its own coordinate, flipped or not, wide or tall, several jobs in one call', async () => {
    const sizes: [number, number][] = [
      [63, 127],
      [127, 63],
      [50, 200],
      [64, 64],
      [60, 100],
      [1, 3],
    ];
    for (const flip of [false, true]) {
      let offset = 0;
      const jobs: ResizeJob[] = sizes.map(([height, width]) => {
        const j = { bytes: new Uint8Array(1), height, width, flip, offset };
        offset += height * width * 3;
        return j;
      });
      const out = new Uint8Array(offset);
      expect(await decodeResizedByTiles(jobs, out, paintingDecode)).toEqual(jobs.map(() => null));
      const expected = new Uint8Array(offset);
      for (const j of jobs) {
        for (let Y = 0; Y < j.height; Y++) {
          for (let X = 0; X < j.width; X++) expected.set(paint(Y, X), j.offset + (Y * j.width + (flip ? j.width - 1 - X : X)) * 3);
        }
      }
      expect(Buffer.from(out).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it("fails a job when one of its tiles fails, leaving the others' pixels", async () => {
    const jobs: ResizeJob[] = [
      { bytes: new Uint8Array(1), height: 10, width: 25, flip: false, offset: 0 },
      { bytes: Uint8Array.of(13), height: 10, width: 25, flip: false, offset: 750 },
    ];
    const out = new Uint8Array(1500);
    const failing = async (tiles: DecodeJob[], size: number, o: Uint8Array) => {
      const r = await paintingDecode(tiles, size, o);
      return tiles.map((t, k) => (t.bytes[0] === 13 && t.geometry.kind === 'resize-crop' && t.geometry.left === 15 ? 'corrupt JPEG data' : r[k]!));
    };
    expect(await decodeResizedByTiles(jobs, out, failing)).toEqual([null, 'corrupt JPEG data']);
    expect(Array.from(out.subarray(0, 3))).toEqual(paint(0, 0));
  });
});

/** Smooth colour waves (resampling differences stay small) as a JPEG of w × h. */
async function wavesJpeg(w: number, h: number): Promise<Uint8Array> {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++)
      px.set(
        [Math.round(128 + 100 * Math.sin(x / 9)), Math.round(128 + 100 * Math.cos(y / 7)), Math.round(128 + 80 * Math.sin((x + y) / 11))],
        (y * w + x) * 3,
      );
  }
  return new Uint8Array(
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer(),
  );
}

/** PIL-style reference: sharp's full-size decode, then the JS antialiased bilinear over the whole image. */
async function reference(bytes: Uint8Array, height: number, width: number): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const out = new Uint8Array(height * width * 3);
  resizeWindowInto(
    { data, width: info.width, height: info.height, channels: info.channels },
    { targetWidth: width, targetHeight: height, top: 0, left: 0, size: 0, height, width, flip: false },
    out,
    0,
  );
  return out;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function mirrored(px: Uint8Array, height: number, width: number): Uint8Array {
  const out = new Uint8Array(px.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) out.set(px.subarray((y * width + x) * 3, (y * width + x) * 3 + 3), (y * width + width - 1 - x) * 3);
  return out;
}

/** Source size, then resized size: an enlargement (wide and tall), a shrink, and no resize. */
const CASES: [number, number, number, number][] = [
  [50, 100, 63, 127],
  [90, 40, 144, 64],
  [120, 150, 64, 80],
  [48, 64, 48, 64],
];

describe.each([
  ['sharp', () => new SharpDecoder({ concurrency: 2 })],
  ['libjpeg-turbo', () => native.decoder!],
] as const)('%s decodeResized', (name, make) => {
  const run = name === 'sharp' || hasNative;
  it.runIf(run)('matches the PIL-style reference and mirrors exactly when flipped', async () => {
    const decoder = make();
    for (const [h0, w0, h, w] of CASES) {
      const bytes = await wavesJpeg(w0, h0);
      const out = new Uint8Array(2 * h * w * 3);
      const jobs: ResizeJob[] = [
        { bytes, height: h, width: w, flip: false, offset: 0 },
        { bytes, height: h, width: w, flip: true, offset: h * w * 3 },
      ];
      expect(await decoder.decodeResized!(jobs, out)).toEqual([null, null]);
      const plain = out.subarray(0, h * w * 3);
      const flipped = out.subarray(h * w * 3);
      expect(maxDiff(plain, await reference(bytes, h, w)), `${w0}x${h0} -> ${w}x${h}`).toBeLessThanOrEqual(name === 'sharp' ? 3 : 4);
      expect(maxDiff(flipped, mirrored(plain, h, w)), `${w0}x${h0} flipped`).toBeLessThanOrEqual(name === 'sharp' ? 1 : 0);
    }
  });

  it.runIf(run)('fails only the corrupt job', async () => {
    const decoder = make();
    const good = await wavesJpeg(40, 30);
    const corrupt = good.subarray(0, Math.floor(good.length * 0.6));
    const out = new Uint8Array(2 * 30 * 40 * 3);
    const r = await decoder.decodeResized!(
      [
        { bytes: corrupt, height: 30, width: 40, flip: false, offset: 0 },
        { bytes: good, height: 30, width: 40, flip: false, offset: 30 * 40 * 3 },
      ],
      out,
    );
    expect(typeof r[0]).toBe('string');
    expect(r[1]).toBeNull();
  });
});
