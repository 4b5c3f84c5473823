import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Geometry } from '../../src/data/stream/contract.js';
import {
  type CropBox,
  evalGeometry,
  imageFormat,
  imageSize,
  type RandomSource,
  randomResizedCrop,
  roundHalfEven,
  trainGeometry,
} from '../../src/data/stream/transforms.js';
import { Rng } from '../../src/util/rng.js';

/** A scripted random source: every draw (uniform or integer) consumes the next number of the script. */
class Script implements RandomSource {
  used = 0;
  constructor(private readonly values: readonly number[]) {}
  private next(): number {
    if (this.used >= this.values.length) throw new Error('script exhausted');
    return this.values[this.used++]!;
  }
  uniform(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** torch.empty(1).uniform_(a, b) */
  uniform_(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  /** torch.randint(low, high): an integer in [low, high) */
  randint(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low));
  }
}

/** Python's round() for non-negative floats: halves go to the even neighbour. */
function pyRound(x: number): number {
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x);
}

/** torchvision 0.14+ RandomResizedCrop.get_params, transcribed line by line; returns (i, j, h, w). */
function torchvisionGetParams(height: number, width: number, scale: [number, number], ratio: [number, number], r: Script): [number, number, number, number] {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let n = 0; n < 10; n++) {
    const targetArea = area * r.uniform_(scale[0], scale[1]);
    const aspectRatio = Math.exp(r.uniform_(logRatio[0], logRatio[1]));
    const w = pyRound(Math.sqrt(targetArea * aspectRatio));
    const h = pyRound(Math.sqrt(targetArea / aspectRatio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const i = r.randint(0, height - h + 1);
      const j = r.randint(0, width - w + 1);
      return [i, j, h, w];
    }
  }
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = pyRound(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = pyRound(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

const box = (b: CropBox) => [b.top, b.left, b.height, b.width];

describe('roundHalfEven', () => {
  it('rounds like Python', () => {
    expect([0.5, 1.5, 2.5, 3.5, 58.5, 2.4999, 2.5001, 7, 0].map(roundHalfEven)).toEqual([0, 2, 2, 4, 58, 2, 3, 7, 0]);
  });
});

describe('randomResizedCrop', () => {
  it('matches a transcription of torchvision get_params on the same scripted draws', () => {
    const sizes = [
      [1, 1],
      [2, 3],
      [10, 10],
      [17, 5],
      [5, 17],
      [224, 224],
      [500, 375],
      [375, 500],
      [1000, 37],
      [640, 480],
    ] as const;
    const scales: [number, number][] = [
      [0.08, 1],
      [0.25, 1],
      [0.99, 1],
      [0.5, 0.5],
      [1, 1],
      [0.01, 0.02],
    ];
    const ratios: [number, number][] = [
      [3 / 4, 4 / 3],
      [3, 4],
      [0.25, 0.5],
      [1, 1],
      [0.1, 10],
    ];
    const gen = new Rng(11);
    let cases = 0;
    let fallbacks = 0;
    for (const [W, H] of sizes) {
      for (const scale of scales) {
        for (const ratio of ratios) {
          for (let rep = 0; rep < 8; rep++) {
            const values = Array.from({ length: 24 }, () => gen.uniform());
            const mine = new Script(values);
            const theirs = new Script(values);
            const got = box(randomResizedCrop({ width: W, height: H }, mine, scale, ratio));
            expect(got, `${W}x${H} scale ${scale} ratio ${ratio}`).toEqual(torchvisionGetParams(H, W, scale, ratio, theirs));
            expect(mine.used).toBe(theirs.used); // same draws, same order
            if (mine.used === 20) fallbacks++;
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(2400);
    expect(fallbacks).toBeGreaterThan(100);
  });

  it('hand-computed boxes', () => {
    // 100x50, area 2500 at aspect 2: w = round(70.71) = 71, h = round(35.36) = 35; i = floor(0.5 * 16), j = floor(0.25 * 30).
    expect(box(randomResizedCrop({ width: 100, height: 50 }, new Script([0.3, 0.6, 0.5, 0.25]), [0.5, 0.5], [2, 2]))).toEqual([8, 7, 35, 71]);
    // Square crops with sides 2.5 and 3.5 (areas 25/1024 and 49/1024 of 16x16): round half to even gives 2 and 4.
    expect(box(randomResizedCrop({ width: 16, height: 16 }, new Script([0.5, 0.5, 0, 0.99]), [25 / 1024, 25 / 1024], [1, 1]))).toEqual([0, 14, 2, 2]);
    expect(box(randomResizedCrop({ width: 16, height: 16 }, new Script([0.5, 0.5, 0.99, 0]), [49 / 1024, 49 / 1024], [1, 1]))).toEqual([12, 0, 4, 4]);
    // Fallbacks: square image, ratio 3..4 never fits -> w = 10, h = round(10/3) = 3, centred; wide image, ratio <= 1 -> h = 10, w = 10.
    const never = new Script(new Array<number>(20).fill(0.5));
    expect(box(randomResizedCrop({ width: 10, height: 10 }, never, [0.99, 1], [3, 4]))).toEqual([3, 0, 3, 10]);
    expect(never.used).toBe(20);
    expect(box(randomResizedCrop({ width: 40, height: 10 }, new Script(new Array<number>(20).fill(0.5)), [0.99, 1], [0.5, 1]))).toEqual([0, 15, 10, 10]);
    // Image narrower than the ratio range: full width, h = round(12 / 5 = 2.4) = 2, centred.
    expect(box(randomResizedCrop({ width: 12, height: 10 }, new Script(new Array<number>(20).fill(0.9)), [1, 1], [5, 6]))).toEqual([4, 0, 2, 12]);
    // Image aspect (1.2) inside the range but every draw too wide (w = round(sqrt(120 * 1.494)) = 13 > 12): the whole image.
    expect(box(randomResizedCrop({ width: 12, height: 10 }, new Script(new Array<number>(20).fill(0.99)), [1, 1], [1, 1.5]))).toEqual([0, 0, 10, 12]);
  });

  it('rejects bad arguments', () => {
    expect(() => randomResizedCrop({ width: 0, height: 5 }, new Rng(1), [0.08, 1], [0.75, 1.33])).toThrow(RangeError);
    expect(() => randomResizedCrop({ width: 5, height: 5 }, new Rng(1), [0.5, 0.1], [0.75, 1.33])).toThrow(RangeError);
    expect(() => randomResizedCrop({ width: 5, height: 5 }, new Rng(1), [0.08, 1], [0, 1])).toThrow(RangeError);
  });
});

describe('trainGeometry', () => {
  const augment = { scale: [0.08, 1] as const, ratio: [3 / 4, 4 / 3] as const };

  it('is a pure function of (seed, epoch, index)', () => {
    const img = { width: 500, height: 375 };
    const a = trainGeometry(img, { seed: 7, epoch: 3, index: 42 }, augment, true);
    expect(trainGeometry(img, { seed: 7, epoch: 3, index: 42 }, augment, true)).toEqual(a);
    let differ = 0;
    for (let index = 0; index < 50; index++) {
      const e0 = trainGeometry(img, { seed: 7, epoch: 0, index }, augment, true);
      const e1 = trainGeometry(img, { seed: 7, epoch: 1, index }, augment, true);
      if (JSON.stringify(e0) !== JSON.stringify(e1)) differ++;
    }
    expect(differ).toBe(50);
    expect(trainGeometry(img, { seed: 8, epoch: 3, index: 42 }, augment, true)).not.toEqual(a);
  });

  it('keeps crops within scale and ratio and flips about half the time', () => {
    const img = { width: 2000, height: 1500 };
    let flips = 0;
    const n = 2000;
    for (let index = 0; index < n; index++) {
      const g = trainGeometry(img, { seed: 1, epoch: 0, index }, augment, true);
      if (g.kind !== 'crop-resize') throw new Error('expected crop-resize');
      const frac = (g.width * g.height) / (img.width * img.height);
      expect(frac).toBeGreaterThanOrEqual(0.08 * 0.99);
      expect(frac).toBeLessThanOrEqual(1);
      expect(g.width / g.height).toBeGreaterThanOrEqual((3 / 4) * 0.99);
      expect(g.width / g.height).toBeLessThanOrEqual((4 / 3) * 1.01);
      expect(g.top + g.height).toBeLessThanOrEqual(img.height);
      expect(g.left + g.width).toBeLessThanOrEqual(img.width);
      if (g.flip) flips++;
    }
    expect(flips / n).toBeGreaterThan(0.45);
    expect(flips / n).toBeLessThan(0.55);
    for (let index = 0; index < 100; index++) expect(trainGeometry(img, { seed: 1, epoch: 0, index }, augment, false).flip).toBe(false);
  });
});

describe('evalGeometry', () => {
  const rc = (resizeWidth: number, resizeHeight: number, top: number, left: number): Geometry => ({
    kind: 'resize-crop',
    resizeHeight,
    resizeWidth,
    top,
    left,
    flip: false,
  });

  it('Resize(int(size / crop_pct)) then CenterCrop(size), as torchvision computes them', () => {
    // 224 / 0.875 = 256; long side int(256 * 500 / 375) = int(341.33) = 341; left = round(117 / 2 = 58.5) = 58 (half to even).
    expect(evalGeometry({ width: 500, height: 375 }, 224, 0.875)).toEqual(rc(341, 256, 16, 58));
    expect(evalGeometry({ width: 375, height: 500 }, 224, 0.875)).toEqual(rc(256, 341, 58, 16));
    expect(evalGeometry({ width: 640, height: 480 }, 224, 0.875)).toEqual(rc(341, 256, 16, 58));
    expect(evalGeometry({ width: 256, height: 256 }, 224, 1)).toEqual(rc(224, 224, 0, 0));
    // 32 / 0.875 = 36.57 -> 36; int(36 * 1000 / 333) = int(108.1) = 108.
    expect(evalGeometry({ width: 1000, height: 333 }, 32, 0.875)).toEqual(rc(108, 36, 2, 38));
    // 8 / 0.5 = 16; offsets (21 - 8) / 2 = 6.5 -> 6 and (23 - 8) / 2 = 7.5 -> 8.
    expect(evalGeometry({ width: 21, height: 16 }, 8, 0.5)).toEqual(rc(21, 16, 4, 6));
    expect(evalGeometry({ width: 23, height: 16 }, 8, 0.5)).toEqual(rc(23, 16, 4, 8));
    // Enlarging a small image: 10x5 -> shorter side 16, longer 32.
    expect(evalGeometry({ width: 10, height: 5 }, 8, 0.5)).toEqual(rc(32, 16, 4, 12));
  });

  it('rejects bad arguments', () => {
    expect(() => evalGeometry({ width: 10, height: 10 }, 0, 0.875)).toThrow(RangeError);
    expect(() => evalGeometry({ width: 10, height: 10 }, 8, 1.5)).toThrow(RangeError);
  });
});

describe('imageSize', () => {
  const raw = (w: number, h: number, channels: 3 | 4) => sharp(Buffer.alloc(w * h * channels, 90), { raw: { width: w, height: h, channels } });

  it('reads JPEG (baseline, progressive), PNG and WebP (VP8, VP8L, VP8X) headers', async () => {
    const files: [string, Buffer][] = [
      ['jpeg', await raw(37, 23, 3).jpeg().toBuffer()],
      ['jpeg', await raw(37, 23, 3).jpeg({ progressive: true }).toBuffer()],
      [
        'jpeg',
        await raw(37, 23, 3)
          .withExif({ IFD0: { Copyright: 'x' } })
          .withMetadata({ orientation: 6 })
          .jpeg()
          .toBuffer(),
      ],
      ['png', await raw(37, 23, 4).png().toBuffer()],
      ['webp', await raw(37, 23, 3).webp().toBuffer()],
      ['webp', await raw(37, 23, 3).webp({ lossless: true }).toBuffer()],
      ['webp', await raw(37, 23, 4).webp({ alphaQuality: 50 }).toBuffer()],
    ];
    const chunks = new Set<string>();
    for (const [format, bytes] of files) {
      expect(imageFormat(bytes)).toBe(format);
      // Stored size: an EXIF orientation of 6 (rotate 90) is ignored, as PIL does.
      expect(imageSize(bytes)).toEqual({ width: 37, height: 23 });
      if (format === 'webp') chunks.add(bytes.subarray(12, 16).toString('latin1'));
    }
    expect([...chunks].sort()).toEqual(['VP8 ', 'VP8L', 'VP8X']);
  });

  it('fails clearly on truncated headers and other formats', async () => {
    const jpeg = await raw(9, 9, 3).jpeg().toBuffer();
    const png = await raw(9, 9, 3).png().toBuffer();
    const webp = await raw(9, 9, 3).webp().toBuffer();
    expect(() => imageSize(jpeg.subarray(0, 20))).toThrow(/truncated JPEG header/);
    expect(() => imageSize(png.subarray(0, 20))).toThrow(/truncated PNG header/);
    expect(() => imageSize(webp.subarray(0, 20))).toThrow(/truncated WebP header/);
    const gif = await raw(9, 9, 3).gif().toBuffer();
    expect(() => imageSize(gif)).toThrow(/not a JPEG, PNG or WebP/);
    expect(() => imageSize(new Uint8Array(0))).toThrow(/not a JPEG, PNG or WebP/);
  });
});
