/**
 * The native 'libjpeg-turbo' Decoder (native/src/ops_jpeg.cc via src/data/stream/native-decoder.ts)
 * on JPEGs written by sharp from synthetic patterns: where a crop lands (coloured quadrants, flip
 * mirrors) for both geometry kinds, with and without DCT scaling, against sharp's decode → same
 * crop → resize; grayscale → RGB; corrupt, truncated and non-JPEG bytes fail their own job only;
 * bytes independent of the thread count and of concurrent calls; PNG not accepted. Skipped when the
 * addon is not built, or built without libjpeg-turbo.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import type { DecodeJob, Geometry } from '../../src/data/stream/contract.js';
import { isJpeg, nativeJpegDecoder } from '../../src/data/stream/native-decoder.js';
import { Rng } from '../../src/util/rng.js';
import { optionalPart } from '../helpers/optional-parts.js';

const native = nativeJpegDecoder({ threads: 2 });
optionalPart('jpeg', !!native.decoder, native.reason);

type Rgb = [number, number, number];
const TL: Rgb = [220, 40, 40];
const TR: Rgb = [40, 200, 60];
const BL: Rgb = [50, 60, 210];
const BR: Rgb = [230, 210, 50];

/** A w × h RGB image from a per-pixel function. */
function pattern(w: number, h: number, f: (x: number, y: number) => Rgb): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) px.set(f(x, y), (y * w + x) * 3);
  }
  return px;
}

/** Four flat colours split at (sx, sy). */
const quadrants = (w: number, h: number, sx: number, sy: number): Buffer => pattern(w, h, (x, y) => (y < sy ? (x < sx ? TL : TR) : x < sx ? BL : BR));

/** Smooth colour waves: resampling differences stay small. */
const waves = (w: number, h: number): Buffer =>
  pattern(w, h, (x, y) => [Math.round(128 + 100 * Math.sin(x / 17)), Math.round(128 + 100 * Math.cos(y / 13)), Math.round(128 + 80 * Math.sin((x + y) / 23))]);

async function jpeg(px: Buffer, w: number, h: number, channels: 1 | 3 = 3): Promise<Uint8Array> {
  const img = sharp(px, { raw: { width: w, height: h, channels } });
  return new Uint8Array(await (channels === 1 ? img.toColourspace('b-w') : img).jpeg({ quality: 95 }).toBuffer());
}

/** sharp's reference: full decode, then the same geometry with its linear (antialiased) resize. */
async function sharpReference(bytes: Uint8Array, g: Geometry, size: number): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: 3 as const } };
  let img;
  if (g.kind === 'crop-resize') {
    img = sharp(data, raw).extract({ left: g.left, top: g.top, width: g.width, height: g.height }).resize(size, size, { fit: 'fill', kernel: 'linear' });
  } else {
    const resized = await sharp(data, raw).resize(g.resizeWidth, g.resizeHeight, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    img = sharp(resized, { raw: { width: g.resizeWidth, height: g.resizeHeight, channels: 3 } }).extract({
      left: g.left,
      top: g.top,
      width: size,
      height: size,
    });
  }
  if (g.flip) img = img.flop();
  return new Uint8Array(await img.raw().toBuffer());
}

async function decodeOne(bytes: Uint8Array, geometry: Geometry, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size * size * 3);
  const r = await native.decoder!.decode([{ bytes, geometry, offset: 0 }], size, out);
  expect(r).toEqual([null]);
  return out;
}

function pixel(img: Uint8Array, size: number, y: number, x: number): Rgb {
  const o = (y * size + x) * 3;
  return [img[o]!, img[o + 1]!, img[o + 2]!];
}

function expectColour(img: Uint8Array, size: number, y: number, x: number, want: Rgb): void {
  const got = pixel(img, size, y, x);
  for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - want[c]!), `pixel (${y}, ${x}) = ${got}, want ${want}`).toBeLessThanOrEqual(4);
}

function diff(a: Uint8Array, b: Uint8Array): { mean: number; max: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

describe.skipIf(!native.decoder)(`native JPEG decoder${native.decoder ? '' : ` (skipped: ${native.reason})`}`, () => {
  it('is the libjpeg-turbo decoder and accepts JPEG only (not PNG, not short or random bytes)', async () => {
    const px = quadrants(32, 32, 16, 16);
    const jpg = await jpeg(px, 32, 32);
    const png = new Uint8Array(
      await sharp(px, { raw: { width: 32, height: 32, channels: 3 } })
        .png()
        .toBuffer(),
    );
    expect(native.decoder!.name).toBe('libjpeg-turbo');
    expect(native.reason).toMatch(/^libjpeg-turbo \d+\.\d+\.\d+ in the native addon, 2 threads$/);
    expect(native.decoder!.accepts(jpg)).toBe(true);
    expect(native.decoder!.accepts(png)).toBe(false);
    expect(isJpeg(new Uint8Array([0xff, 0xd8]))).toBe(false);
    expect(isJpeg(new Uint8Array([1, 2, 3, 4]))).toBe(false);
  });

  it('crop-resize: the quadrants land where the box puts them; flip mirrors them (no DCT scaling)', async () => {
    const jpg = await jpeg(quadrants(320, 240, 160, 120), 320, 240);
    // Box x 100..300 (split at 60/200 of the width), y 40..200 (split at 80/160): size 128 needs the full resolution.
    const g: Geometry = { kind: 'crop-resize', top: 40, left: 100, height: 160, width: 200, flip: false };
    const size = 128;
    const img = await decodeOne(jpg, g, size);
    const sx = Math.round((60 / 200) * size);
    expectColour(img, size, 10, sx - 12, TL);
    expectColour(img, size, 10, sx + 12, TR);
    expectColour(img, size, size - 10, sx - 12, BL);
    expectColour(img, size, size - 10, size - 5, BR);
    const flipped = await decodeOne(jpg, { ...g, flip: true }, size);
    expectColour(flipped, size, 10, size - 1 - (sx - 12), TL);
    expectColour(flipped, size, 10, size - 1 - (sx + 12), TR);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) expect(pixel(flipped, size, y, x)).toEqual(pixel(img, size, y, size - 1 - x));
    }
    const ref = await sharpReference(jpg, g, size);
    const d = diff(img, ref);
    expect(d.mean).toBeLessThanOrEqual(3);
    expect(d.max).toBeLessThanOrEqual(8); // measured: mean 0.01, max 1
  });

  it('crop-resize of a large image to a small size (DCT scaling 1/8) matches sharp; quadrant colours exact', async () => {
    const [w, h] = [1024, 768];
    const texture = await jpeg(waves(w, h), w, h);
    const g: Geometry = { kind: 'crop-resize', top: 100, left: 200, height: 600, width: 700, flip: true };
    const size = 64; // 700 / 8 and 600 / 8 are still >= 64: decoded at 1/8
    const d = diff(await decodeOne(texture, g, size), await sharpReference(texture, g, size));
    expect(d.mean).toBeLessThanOrEqual(3); // measured: mean 1.3, max 6
    expect(d.max).toBeLessThanOrEqual(16);

    const quads = await jpeg(quadrants(w, h, 600, 400), w, h);
    const img = await decodeOne(quads, { ...g, flip: false }, size);
    // Split at x = (600 - 200) / 700, y = (400 - 100) / 600 of the output.
    const sx = Math.round((400 / 700) * size);
    const sy = Math.round((300 / 600) * size);
    expectColour(img, size, sy - 6, sx - 6, TL);
    expectColour(img, size, sy - 6, sx + 6, TR);
    expectColour(img, size, sy + 6, sx - 6, BL);
    expectColour(img, size, sy + 6, sx + 6, BR);
    const qd = diff(img, await sharpReference(quads, { ...g, flip: false }, size));
    expect(qd.mean).toBeLessThanOrEqual(3); // measured: mean 0.3, max 15 (on the colour edges)
    expect(qd.max).toBeLessThanOrEqual(40);
  });

  it('resize-crop (eval): resize the whole image, then the box; with and without DCT scaling', async () => {
    const [w, h] = [640, 480];
    const texture = await jpeg(waves(w, h), w, h);
    // Shorter side 96 (decoded at 1/4), centre crop 80.
    const scaled: Geometry = { kind: 'resize-crop', resizeHeight: 96, resizeWidth: 128, top: 8, left: 24, flip: false };
    // Shorter side 300 (full resolution), crop 224 off-centre, mirrored.
    const full: Geometry = { kind: 'resize-crop', resizeHeight: 300, resizeWidth: 400, top: 70, left: 10, flip: true };
    for (const [g, size] of [
      [scaled, 80],
      [full, 224],
    ] as const) {
      const d = diff(await decodeOne(texture, g, size), await sharpReference(texture, g, size));
      expect(d.mean, JSON.stringify(g)).toBeLessThanOrEqual(3);
      expect(d.max, JSON.stringify(g)).toBeLessThanOrEqual(16); // measured: max 3 (1/4), 2 (full)
    }
    // Quadrants split at (400, 120): in the 128 × 96 resize at (80, 24); the crop starts at (24, 8).
    const quads = await jpeg(quadrants(w, h, 400, 120), w, h);
    const img = await decodeOne(quads, scaled, 80);
    expectColour(img, 80, 16 - 6, 56 - 8, TL);
    expectColour(img, 80, 16 - 6, 56 + 8, TR);
    expectColour(img, 80, 16 + 12, 56 - 8, BL);
    expectColour(img, 80, 79, 79, BR);
  });

  it('decodes a grayscale JPEG to RGB (R = G = B)', async () => {
    const [w, h] = [96, 64];
    const grey = Buffer.alloc(w * h);
    for (let i = 0; i < w * h; i++) grey[i] = i % w < w / 2 ? 40 : 200;
    const jpg = await jpeg(grey, w, h, 1);
    expect((await sharp(jpg).metadata()).channels).toBe(1);
    const img = await decodeOne(jpg, { kind: 'crop-resize', top: 0, left: 0, height: h, width: w, flip: false }, 32);
    for (let i = 0; i < 32 * 32; i++) {
      expect(img[3 * i + 1]).toBe(img[3 * i]);
      expect(img[3 * i + 2]).toBe(img[3 * i]);
    }
    expect(Math.abs(pixel(img, 32, 16, 4)[0] - 40)).toBeLessThanOrEqual(3);
    expect(Math.abs(pixel(img, 32, 16, 28)[0] - 200)).toBeLessThanOrEqual(3);
  });

  it('a truncated, a corrupt and a non-JPEG file fail their own job; the others in the call decode', async () => {
    const [w, h] = [256, 192];
    const good = await jpeg(waves(w, h), w, h);
    const whole: Geometry = { kind: 'crop-resize', top: 0, left: 0, height: h, width: w, flip: false };
    const size = 48;
    const rng = new Rng(7);
    const random = new Uint8Array(4000).map(() => rng.int(256));
    // The headers intact, the entropy-coded data overwritten: libjpeg reports corrupt data.
    const corrupt = good.slice();
    for (let i = Math.floor(good.length / 3); i < good.length - 2; i++) corrupt[i] = rng.int(256);
    const inputs = [good, good.subarray(0, Math.floor(good.length / 2)), good, random, corrupt, good, new Uint8Array(0)];
    const out = new Uint8Array(inputs.length * size * size * 3);
    const jobs: DecodeJob[] = inputs.map((bytes, k) => ({ bytes, geometry: whole, offset: k * size * size * 3 }));
    const r = await native.decoder!.decode(jobs, size, out);
    expect(r[0]).toBeNull();
    expect(r[1]).toMatch(/premature end|corrupt JPEG data/i);
    expect(r[2]).toBeNull();
    expect(r[3]).toMatch(/not a JPEG file/);
    expect(r[4]).toMatch(/corrupt JPEG data|premature end|huffman|marker/i);
    expect(r[5]).toBeNull();
    expect(r[6]).toMatch(/empty/i);
    const ref = await decodeOne(good, whole, size);
    for (const k of [0, 2, 5]) expect(out.subarray(k * size * size * 3, (k + 1) * size * size * 3)).toEqual(ref);
  });

  it('a box outside the image fails its job; a bad offset or geometry kind rejects the call', async () => {
    const jpg = await jpeg(waves(64, 48), 64, 48);
    const out = new Uint8Array(16 * 16 * 3);
    const r = await native.decoder!.decode(
      [{ bytes: jpg, geometry: { kind: 'crop-resize', top: 10, left: 0, height: 40, width: 64, flip: false }, offset: 0 }],
      16,
      out,
    );
    expect(r[0]).toMatch(/outside the 64x48 image/);
    const g: Geometry = { kind: 'crop-resize', top: 0, left: 0, height: 48, width: 64, flip: false };
    await expect(native.decoder!.decode([{ bytes: jpg, geometry: g, offset: 3 }], 16, out)).rejects.toThrow(/offset 3/);
    const odd = { kind: 'stretch' } as unknown as Geometry;
    await expect(native.decoder!.decode([{ bytes: jpg, geometry: odd, offset: 0 }], 16, out)).rejects.toThrow(/kind/);
  });

  it('gives the same bytes on 1 and 2 threads, and with calls running concurrently', async () => {
    const rng = new Rng(11);
    const images: { bytes: Uint8Array; w: number; h: number }[] = [];
    for (const [w, h] of [
      [300, 200],
      [517, 470],
      [640, 360],
    ] as const)
      images.push({ bytes: await jpeg(waves(w, h), w, h), w, h });
    const size = 56;
    const jobs: DecodeJob[] = [];
    for (let k = 0; k < 48; k++) {
      const im = images[k % images.length]!;
      const width = 20 + rng.int(im.w - 20);
      const height = 20 + rng.int(im.h - 20);
      const geometry: Geometry =
        k % 4 === 3
          ? { kind: 'resize-crop', resizeHeight: 64, resizeWidth: 64 + (k % 7), top: 4, left: k % 7, flip: k % 2 === 0 }
          : {
              kind: 'crop-resize',
              top: rng.int(im.h - height + 1),
              left: rng.int(im.w - width + 1),
              height,
              width,
              flip: rng.uniform() < 0.5,
            };
      jobs.push({ bytes: im.bytes, geometry, offset: k * size * size * 3 });
    }
    const one = nativeJpegDecoder({ threads: 1 }).decoder!;
    const a = new Uint8Array(jobs.length * size * size * 3);
    const b = new Uint8Array(a.length);
    const c = new Uint8Array(a.length);
    expect((await one.decode(jobs, size, a)).every((e) => e === null)).toBe(true);
    expect((await native.decoder!.decode(jobs, size, b)).every((e) => e === null)).toBe(true);
    const half = jobs.length / 2;
    const [r1, r2] = await Promise.all([native.decoder!.decode(jobs.slice(0, half), size, c), native.decoder!.decode(jobs.slice(half), size, c)]);
    expect([...r1, ...r2].every((e) => e === null)).toBe(true);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(c))).toBe(0);
  });
});
