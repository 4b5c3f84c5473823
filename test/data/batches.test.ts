import { describe, expect, it } from 'vitest';
import { epochBatches, epochPermutation, normalisationTable, numBatches, type EpochBatchOptions } from '../../src/data/batches.js';
import type { Split } from '../../src/data/types.js';
import { fixtureLabels, fixturePixels } from '../helpers/fixtures.js';

const H = 5;
const W = 4;
const C = 3;
const N = 23;
const split: Split = { images: fixturePixels(N, H * W * C), labels: Int32Array.from(fixtureLabels(N, 10)), n: N };
const ds = { height: H, width: W, channels: C, mean: [0.5, 0.4, 0.3], std: [0.25, 0.2, 0.1], flipOk: true };
const opts = (o: Partial<EpochBatchOptions> = {}): EpochBatchOptions => ({
  batchSize: 5,
  seed: 11,
  epoch: 0,
  shuffle: true,
  augment: null,
  dropLast: false,
  ...o,
});

/** Copies every batch (the generator reuses its buffers). */
function collect(o: EpochBatchOptions, s: Split = split, d = ds) {
  return Array.from(epochBatches(s, d, o), (b) => ({ x: Float32Array.from(b.x), y: Int32Array.from(b.y), size: b.size, index: b.index }));
}

/** The image index of a normalised fixture image: invert channel 0 of pixels 0 and 1 (unaugmented only). */
function idOf(x: Float32Array, k: number): number {
  const base = k * H * W * C;
  const v0 = Math.round((x[base]! * ds.std[0]! + ds.mean[0]!) * 255);
  const v1 = Math.round((x[base + 1]! * ds.std[1]! + ds.mean[1]!) * 255);
  return v0 | (v1 << 8);
}

describe('numBatches', () => {
  it('counts full and partial batches', () => {
    expect(numBatches(23, 5, false)).toBe(5);
    expect(numBatches(23, 5, true)).toBe(4);
    expect(numBatches(20, 5, true)).toBe(4);
    expect(numBatches(0, 5, false)).toBe(0);
    expect(() => numBatches(10, 0, false)).toThrow(RangeError);
  });
});

describe('epochBatches', () => {
  it('visits every image exactly once per epoch, with matching labels and a short last batch', () => {
    const bs = collect(opts());
    expect(bs.map((b) => b.size)).toEqual([5, 5, 5, 5, 3]);
    expect(bs.map((b) => b.index)).toEqual([0, 1, 2, 3, 4]);
    expect(bs[4]!.x.length).toBe(3 * H * W * C);
    const ids: number[] = [];
    for (const b of bs)
      for (let k = 0; k < b.size; k++) {
        const id = idOf(b.x, k);
        ids.push(id);
        expect(b.y[k]).toBe(split.labels[id]);
      }
    expect([...ids].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(ids).not.toEqual(Array.from({ length: N }, (_, i) => i));
    expect(collect(opts({ dropLast: true })).map((b) => b.size)).toEqual([5, 5, 5, 5]);
  });

  it('keeps order without shuffling', () => {
    const ids = collect(opts({ shuffle: false })).flatMap((b) => Array.from({ length: b.size }, (_, k) => idOf(b.x, k)));
    expect(ids).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('normalises (pixel/255 - mean)/std per channel', () => {
    const [b] = collect(opts({ shuffle: false, batchSize: 1 }));
    for (let p = 0; p < H * W * C; p++) {
      const c = p % C;
      expect(b!.x[p]).toBeCloseTo((split.images[p]! / 255 - ds.mean[c]!) / ds.std[c]!, 5);
    }
    const lut = normalisationTable([0.286], [0.353], 1);
    expect(lut[0]).toBeCloseTo(-0.286 / 0.353, 6);
    expect(lut[255]).toBeCloseTo((1 - 0.286) / 0.353, 6);
    expect(() => normalisationTable([0.5], [0.2], 3)).toThrow(RangeError);
  });

  it('depends only on (seed, epoch) for order and is reproducible', () => {
    expect(collect(opts())).toEqual(collect(opts()));
    expect(Array.from(epochPermutation(N, 11, 1, true))).not.toEqual(Array.from(epochPermutation(N, 11, 0, true)));
    expect(Array.from(epochPermutation(N, 12, 0, true))).not.toEqual(Array.from(epochPermutation(N, 11, 0, true)));
  });

  it('resuming at batch k reproduces batches k.. exactly, with augmentation', () => {
    const aug = { augment: { crop_padding: 2, flip: true }, epoch: 3 };
    const full = collect(opts(aug));
    for (const k of [0, 1, 3, 4]) expect(collect(opts({ ...aug, startBatch: k }))).toEqual(full.slice(k));
    expect(collect(opts({ ...aug, startBatch: 5 }))).toEqual([]);
    expect(collect(opts({ ...aug, startBatch: 99 }))).toEqual([]);
  });

  it('reuses its buffers between batches (callers must copy)', () => {
    const it1 = epochBatches(split, ds, opts({ dropLast: true }));
    const next = () => {
      const r = it1.next();
      if (r.done) throw new Error('the epoch ended before its second batch');
      return r.value;
    };
    const a = next();
    const b = next();
    expect(a.x.buffer).toBe(b.x.buffer);
    expect(a.y.buffer).toBe(b.y.buffer);
  });

  it('augmentation keeps shapes, is seeded, pads with normalised zero, and flips mirror rows', () => {
    const plain = collect(opts({ shuffle: false }));
    const cropped = collect(opts({ shuffle: false, augment: { crop_padding: 3, flip: false } }));
    expect(cropped.map((b) => b.x.length)).toEqual(plain.map((b) => b.x.length));
    expect(cropped).toEqual(collect(opts({ shuffle: false, augment: { crop_padding: 3, flip: false } })));
    expect(cropped).not.toEqual(collect(opts({ shuffle: false, seed: 12, augment: { crop_padding: 3, flip: false } })));
    expect(cropped.map((b) => Array.from(b.y))).toEqual(plain.map((b) => Array.from(b.y)));
    // Some output values are the padding value: a zero pixel, normalised.
    const pads = ds.mean.map((m, c) => (0 - m) / ds.std[c]!);
    let padded = 0;
    for (const b of cropped) {
      for (let p = 0; p < b.x.length; p++) if (Math.abs(b.x[p]! - pads[p % C]!) < 1e-6) padded++;
    }
    expect(padded).toBeGreaterThan(0);

    // flip only (no padding): each image equals the plain one or its horizontal mirror, and both occur.
    const flipped = collect(opts({ shuffle: false, batchSize: N, augment: { crop_padding: 0, flip: true } }))[0]!;
    const ref = plain.flatMap((b) => Array.from(b.x));
    let mirrors = 0;
    for (let k = 0; k < N; k++) {
      const img = (i: number, j: number, c: number) => flipped.x[((k * H + i) * W + j) * C + c];
      const src = (i: number, j: number, c: number) => ref[((k * H + i) * W + j) * C + c];
      let same = true;
      let mirror = true;
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++)
          for (let c = 0; c < C; c++) {
            if (img(i, j, c) !== src(i, j, c)) same = false;
            if (img(i, j, c) !== src(i, W - 1 - j, c)) mirror = false;
          }
      expect(same || mirror).toBe(true);
      if (mirror && !same) mirrors++;
    }
    expect(mirrors).toBeGreaterThan(3);
    expect(mirrors).toBeLessThan(N - 3);
  });

  it("flip 'auto' follows flipOk; augment null or zero does nothing", () => {
    const plain = collect(opts());
    expect(collect(opts({ augment: { crop_padding: 0, flip: 'auto' } }), split, { ...ds, flipOk: false })).toEqual(plain);
    expect(collect(opts({ augment: { crop_padding: 0, flip: 'auto' } }))).not.toEqual(plain);
    expect(collect(opts({ augment: { crop_padding: 0, flip: false } }))).toEqual(plain);
  });

  it('crop offsets shift the image by at most crop_padding', () => {
    // A single-channel image whose pixel value is its column: after a crop with offset dx, column j holds j+dx (or padding).
    const w = 8;
    const one: Split = { images: Uint8Array.from({ length: w * w }, (_, p) => 10 + (p % w)), labels: Int32Array.of(0), n: 1 };
    const d1 = { height: w, width: w, channels: 1, mean: [0], std: [1 / 255], flipOk: true };
    for (let e = 0; e < 20; e++) {
      const [b] = Array.from(
        epochBatches(one, d1, { batchSize: 1, seed: 0, epoch: e, shuffle: false, augment: { crop_padding: 2, flip: false }, dropLast: false }),
      );
      const row = Array.from(b!.x.subarray(3 * w, 4 * w)).map(Math.round);
      const inside = row.map((v, j) => (v === 0 ? null : v - 10 - j)).filter((v) => v !== null);
      expect(new Set(inside).size).toBe(1);
      expect(Math.abs(inside[0]!)).toBeLessThanOrEqual(2);
    }
  });
});
