import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { DecodeJob, Geometry } from '../../src/data/stream/contract.js';
import { SharpDecoder } from '../../src/data/stream/sharp-decoder.js';

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];

/** 40x40 RGB: red top-left, green top-right, blue bottom-left, white bottom-right. */
function quadrants(): Uint8Array {
  const px = new Uint8Array(40 * 40 * 3);
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 40; x++) {
      const c = y < 20 ? (x < 20 ? RED : GREEN) : x < 20 ? BLUE : WHITE;
      px.set(c, (y * 40 + x) * 3);
    }
  }
  return px;
}

const encode = (px: Uint8Array, w: number, h: number, channels: 1 | 3 | 4) => sharp(px, { raw: { width: w, height: h, channels } });

function pixel(out: Uint8Array, size: number, slot: number, y: number, x: number): number[] {
  const o = slot * size * size * 3 + (y * size + x) * 3;
  return Array.from(out.subarray(o, o + 3));
}

/** Decodes each geometry of one image into its own slot. */
async function decodeAll(bytes: Uint8Array, geometries: Geometry[], size: number) {
  const out = new Uint8Array(geometries.length * size * size * 3);
  const jobs: DecodeJob[] = geometries.map((geometry, i) => ({ bytes, geometry, offset: i * size * size * 3 }));
  const result = await new SharpDecoder({ concurrency: 2 }).decode(jobs, size, out);
  return { out, result };
}

const cr = (top: number, left: number, height: number, width: number, flip = false): Geometry => ({ kind: 'crop-resize', top, left, height, width, flip });
const rc = (resizeWidth: number, resizeHeight: number, top: number, left: number, flip = false): Geometry => ({
  kind: 'resize-crop',
  resizeHeight,
  resizeWidth,
  top,
  left,
  flip,
});

/** PIL's antialiased bilinear (triangle filter, support scaled when shrinking) in floating point, written from ImagingResample. */
function pilResize(src: Uint8Array, w: number, h: number, ow: number, oh: number): Float64Array {
  const weights = (inSize: number, outSize: number) => {
    const scale = inSize / outSize;
    const fs = Math.max(scale, 1);
    return Array.from({ length: outSize }, (_, x) => {
      const center = (x + 0.5) * scale;
      const lo = Math.max(Math.trunc(center - fs + 0.5), 0);
      const hi = Math.min(Math.trunc(center + fs + 0.5), inSize);
      const ws = Array.from({ length: hi - lo }, (_, k) => Math.max(0, 1 - Math.abs((lo + k - center + 0.5) / fs)));
      const total = ws.reduce((a, b) => a + b, 0);
      return { lo, ws: ws.map((v) => v / total) };
    });
  };
  const cx = weights(w, ow);
  const cy = weights(h, oh);
  const tmp = new Float64Array(h * ow * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      for (let c = 0; c < 3; c++) tmp[(y * ow + x) * 3 + c] = cx[x]!.ws.reduce((s, wt, k) => s + wt * src[(y * w + cx[x]!.lo + k) * 3 + c]!, 0);
    }
  }
  const res = new Float64Array(oh * ow * 3);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let c = 0; c < 3; c++) res[(y * ow + x) * 3 + c] = cy[y]!.ws.reduce((s, wt, k) => s + wt * tmp[((cy[y]!.lo + k) * ow + x) * 3 + c]!, 0);
    }
  }
  return res;
}

/** The box (top, left, height, width) of an RGB image, as torchvision crops before resizing. */
function cropRgb(src: Uint8Array, w: number, [top, left, height, width]: number[]): Uint8Array {
  const out = new Uint8Array(height! * width! * 3);
  for (let y = 0; y < height!; y++) out.set(src.subarray(((top! + y) * w + left!) * 3, ((top! + y) * w + left! + width!) * 3), y * width! * 3);
  return out;
}

describe('SharpDecoder', () => {
  it('crop-resize: the box lands where expected, flip mirrors it (shrinking and enlarging)', async () => {
    const png = await encode(quadrants(), 40, 40, 3).png().toBuffer();
    const S = 8;
    const { out, result } = await decodeAll(png, [cr(0, 0, 20, 20), cr(0, 0, 40, 40), cr(0, 0, 40, 40, true), cr(15, 15, 10, 10), cr(15, 15, 10, 10, true)], S);
    expect(result).toEqual([null, null, null, null, null]);
    for (const [y, x] of [
      [0, 0],
      [7, 7],
      [3, 4],
    ])
      expect(pixel(out, S, 0, y!, x!)).toEqual(RED);
    const corners = (slot: number) => [pixel(out, S, slot, 0, 0), pixel(out, S, slot, 0, 7), pixel(out, S, slot, 7, 0), pixel(out, S, slot, 7, 7)];
    expect(corners(1)).toEqual([RED, GREEN, BLUE, WHITE]);
    expect(corners(2)).toEqual([GREEN, RED, WHITE, BLUE]);
    // A 10x10 box around the centre, shrunk to 8x8, then flipped.
    expect(corners(3)).toEqual([RED, GREEN, BLUE, WHITE]);
    expect(corners(4)).toEqual([GREEN, RED, WHITE, BLUE]);
    const big = await decodeAll(png, [cr(14, 14, 12, 12), cr(14, 14, 12, 12, true)], 32);
    expect(big.result).toEqual([null, null]);
    expect([pixel(big.out, 32, 0, 0, 0), pixel(big.out, 32, 0, 0, 31), pixel(big.out, 32, 0, 31, 0), pixel(big.out, 32, 0, 31, 31)]).toEqual([
      RED,
      GREEN,
      BLUE,
      WHITE,
    ]);
    expect([pixel(big.out, 32, 1, 0, 0), pixel(big.out, 32, 1, 0, 31), pixel(big.out, 32, 1, 31, 0), pixel(big.out, 32, 1, 31, 31)]).toEqual([
      GREEN,
      RED,
      WHITE,
      BLUE,
    ]);
  });

  it('resize-crop: resizes the whole image, then takes the box (mirrored if flip)', async () => {
    const png = await encode(quadrants(), 40, 40, 3).png().toBuffer();
    const S = 8;
    // 40 -> 16: columns 4..11 span red (< 8) and green; rows 8..15 are the bottom half. Then 40 -> 80 (enlarging).
    const { out, result } = await decodeAll(png, [rc(16, 16, 0, 4), rc(16, 16, 0, 4, true), rc(16, 16, 8, 4), rc(80, 80, 36, 36), rc(40, 40, 16, 16, true)], S);
    expect(result).toEqual([null, null, null, null, null]);
    expect([pixel(out, S, 0, 2, 1), pixel(out, S, 0, 2, 6)]).toEqual([RED, GREEN]);
    expect([pixel(out, S, 1, 2, 1), pixel(out, S, 1, 2, 6)]).toEqual([GREEN, RED]);
    expect([pixel(out, S, 2, 5, 1), pixel(out, S, 2, 5, 6)]).toEqual([BLUE, WHITE]);
    expect([pixel(out, S, 3, 0, 0), pixel(out, S, 3, 0, 7), pixel(out, S, 3, 7, 0), pixel(out, S, 3, 7, 7)]).toEqual([RED, GREEN, BLUE, WHITE]);
    expect([pixel(out, S, 4, 0, 0), pixel(out, S, 4, 0, 7), pixel(out, S, 4, 7, 0), pixel(out, S, 4, 7, 7)]).toEqual([GREEN, RED, WHITE, BLUE]);
  });

  it('matches PIL antialiased bilinear to within rounding when shrinking, enlarging or both', async () => {
    const W = 61;
    const H = 47;
    const src = new Uint8Array(W * H * 3);
    let s = 5;
    for (let i = 0; i < src.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const x = Math.floor(i / 3) % W;
      const y = Math.floor(i / 3 / W);
      src[i] = Math.max(0, Math.min(255, Math.round(128 + 80 * Math.sin(x / (3 + (i % 3)) + y / 5) + ((s >>> 16) % 40) - 20)));
    }
    const png = await encode(src, W, H, 3).png().toBuffer();
    const S = 16;
    // Shrinking runs in libvips (measured: mean |diff| 0.4-0.65, max 3-6 levels); enlarging in JS (PIL's 8-bit rounding only).
    const cases: [Geometry, number[], number, number, number, number, number][] = [
      // geometry, box cropped before resizing (top, left, height, width), resized width and height, crop offset (top, left), max |diff|
      [cr(3, 5, 40, 50, true), [3, 5, 40, 50], S, S, 0, 0, 8], // shrink x3 (flip: compared mirrored)
      [cr(10, 10, 7, 9), [10, 10, 7, 9], S, S, 0, 0, 1], // enlarge x2
      [cr(2, 20, 40, 6), [2, 20, 40, 6], S, S, 0, 0, 8], // enlarge width, shrink height
      [rc(20, 16, 0, 2), [0, 0, H, W], 20, 16, 0, 2, 8], // shrink whole image
      [rc(80, 62, 30, 40, true), [0, 0, H, W], 80, 62, 30, 40, 1], // enlarge whole image (flip)
    ];
    const { out, result } = await decodeAll(
      png,
      cases.map((c) => c[0]),
      S,
    );
    expect(result.every((r) => r === null)).toBe(true);
    for (const [slot, [g, bx, ow, oh, top, left, bound]] of cases.entries()) {
      const ref = pilResize(cropRgb(src, W, bx), bx[3]!, bx[2]!, ow, oh);
      let sum = 0;
      let max = 0;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          for (let c = 0; c < 3; c++) {
            const xo = g.flip ? S - 1 - x : x;
            const d = Math.abs(out[slot * S * S * 3 + (y * S + xo) * 3 + c]! - ref[((top + y) * ow + left + x) * 3 + c]!);
            sum += d;
            max = Math.max(max, d);
          }
        }
      }
      expect(sum / (S * S * 3), `case ${slot}`).toBeLessThan(0.8);
      expect(max, `case ${slot}`).toBeLessThanOrEqual(bound);
    }
  });

  it('a corrupt image fails only its own job', async () => {
    const jpeg = await encode(quadrants(), 40, 40, 3).jpeg({ quality: 95 }).toBuffer();
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length / 2));
    const S = 8;
    const out = new Uint8Array(4 * S * S * 3);
    const g = cr(0, 0, 20, 20);
    const jobs = [jpeg, truncated, new Uint8Array([1, 2, 3, 4]), jpeg].map((bytes, i) => ({ bytes, geometry: g, offset: i * S * S * 3 }));
    const result = await new SharpDecoder({ concurrency: 3 }).decode(jobs, S, out);
    expect(result[0]).toBeNull();
    expect(typeof result[1]).toBe('string');
    expect(result[2]).toMatch(/not a JPEG, PNG or WebP/);
    expect(result[3]).toBeNull();
    for (const slot of [0, 3]) {
      const [r, gr, b] = pixel(out, S, slot, 4, 4);
      expect(r!).toBeGreaterThan(240);
      expect(gr!).toBeLessThan(15);
      expect(b!).toBeLessThan(15);
    }
  });

  it('greyscale and RGBA inputs (PNG, WebP) come out RGB; alpha is dropped before resizing', async () => {
    const grey = new Uint8Array(20 * 20).fill(77);
    const rgba = new Uint8Array(20 * 20 * 4);
    for (let i = 0; i < 400; i++) rgba.set([200, 50, 10, i % 2 === 0 ? 0 : 255], i * 4);
    const inputs = [
      await encode(grey, 20, 20, 1).png().toBuffer(),
      await encode(rgba, 20, 20, 4).png().toBuffer(),
      await encode(rgba, 20, 20, 4).webp({ lossless: true, exact: true }).toBuffer(),
    ];
    for (const bytes of inputs) {
      const { out, result } = await decodeAll(bytes, [cr(0, 0, 20, 20), cr(2, 2, 5, 5, true), rc(10, 10, 1, 1)], 8);
      expect(result).toEqual([null, null, null]);
      const want = bytes === inputs[0] ? [77, 77, 77] : [200, 50, 10];
      for (let slot = 0; slot < 3; slot++) expect(pixel(out, 8, slot, 3, 5)).toEqual(want);
    }
  });

  it('accepts JPEG, PNG and WebP only, and refuses jobs outside the buffer', async () => {
    const img = encode(quadrants(), 40, 40, 3);
    const dec = new SharpDecoder();
    expect(dec.name).toBe('sharp');
    expect(dec.accepts(await img.clone().jpeg().toBuffer())).toBe(true);
    expect(dec.accepts(await img.clone().png().toBuffer())).toBe(true);
    expect(dec.accepts(await img.clone().webp().toBuffer())).toBe(true);
    expect(dec.accepts(await img.clone().gif().toBuffer())).toBe(false);
    const png = await img.clone().png().toBuffer();
    await expect(dec.decode([{ bytes: png, geometry: cr(0, 0, 8, 8), offset: 10 }], 8, new Uint8Array(8 * 8 * 3))).rejects.toThrow(RangeError);
    expect(() => new SharpDecoder({ concurrency: 0 })).toThrow(RangeError);
  });
});
