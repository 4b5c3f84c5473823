import { deriveSeed, Rng } from '../../util/rng.js';
import type { Geometry, ImageSize } from './contract.js';

/**
 * The geometric transforms of the streaming pipeline, torchvision-equivalent: RandomResizedCrop +
 * RandomHorizontalFlip for training, Resize(size / crop_pct) + CenterCrop(size) for evaluation.
 * Pure functions of the image's size and (seed, epoch, sample index), so every decoder and every
 * worker layout produces the same crops.
 */

/** The random draws RandomResizedCrop needs; `Rng` is one, a test can script another. */
export interface RandomSource {
  /** Uniform float in [0, 1). */
  uniform(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/** An integer box of a source image: rows [top, top + height), columns [left, left + width). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** RandomResizedCrop's settings (the `data.augment` keys): area fraction and aspect ratio (width / height) ranges. */
export interface CropRange {
  scale: readonly [number, number];
  ratio: readonly [number, number];
}

/** Where a training sample sits: its transform depends on these and nothing else. */
export interface SampleKey {
  seed: number;
  epoch: number;
  index: number;
}

/** deriveSeed stream of the training geometry (distinct from the batch permutation and in-memory augmentation streams). */
const GEOMETRY_STREAM = 0x5c7;

/** Python's round() (round half to even), so crop sizes match torchvision's `int(round(x))` bit for bit. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

function checkSize(img: ImageSize): void {
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 1 || img.height < 1) {
    throw new RangeError(`image size must be positive integers, got ${img.width}x${img.height}`);
  }
}

/**
 * torchvision's `RandomResizedCrop.get_params` (0.14+), so a crop's distribution matches the reference
 * training recipes. Draw order: per attempt (at most 10) `uniform()` for the area then `uniform()` for
 * the log aspect ratio; on the accepted attempt `int(H - h + 1)` for the top then `int(W - w + 1)` for
 * the left. The central-crop fallback draws nothing more.
 */
export function randomResizedCrop(img: ImageSize, rng: RandomSource, scale: readonly [number, number], ratio: readonly [number, number]): CropBox {
  checkSize(img);
  const [s0, s1] = scale;
  const [r0, r1] = ratio;
  if (!(s0 > 0 && s0 <= s1)) throw new RangeError(`scale must be [min, max] with 0 < min <= max, got [${s0}, ${s1}]`);
  if (!(r0 > 0 && r0 <= r1)) throw new RangeError(`ratio must be [min, max] with 0 < min <= max, got [${r0}, ${r1}]`);
  const { width: W, height: H } = img;
  const area = H * W;
  const logR0 = Math.log(r0);
  const logR1 = Math.log(r1);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (s0 + (s1 - s0) * rng.uniform());
    const aspect = Math.exp(logR0 + (logR1 - logR0) * rng.uniform());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      const top = rng.int(H - h + 1);
      const left = rng.int(W - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = W / H;
  let w: number;
  let h: number;
  if (inRatio < r0) {
    w = W;
    h = roundHalfEven(w / r0);
  } else if (inRatio > r1) {
    h = H;
    w = roundHalfEven(h * r1);
  } else {
    w = W;
    h = H;
  }
  return { top: Math.floor((H - h) / 2), left: Math.floor((W - w) / 2), height: h, width: w };
}

/**
 * A training sample's crop and flip (p = 0.5, drawn after the crop, only when flipping is enabled),
 * from a generator seeded by (seed, epoch, index) alone: independent of worker count, batch
 * composition and timing.
 */
export function trainGeometry(img: ImageSize, key: SampleKey, augment: CropRange, flipEnabled: boolean): Geometry {
  const rng = new Rng(deriveSeed(key.seed, key.epoch, key.index, GEOMETRY_STREAM));
  const box = randomResizedCrop(img, rng, augment.scale, augment.ratio);
  const flip = flipEnabled ? rng.uniform() < 0.5 : false;
  return { kind: 'crop-resize', ...box, flip };
}

/**
 * Evaluation geometry as torchvision's `Resize(int(size / crop_pct))` + `CenterCrop(size)`: the shorter
 * side becomes int(size / crop_pct), the longer int(that * long / short), and the crop is centred
 * with torchvision's int(round((side - size) / 2)) offsets.
 */
export function evalGeometry(img: ImageSize, size: number, cropPct: number): Geometry {
  checkSize(img);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  if (!(cropPct > 0 && cropPct <= 1)) throw new RangeError(`crop_pct must be in (0, 1], got ${cropPct}`);
  const { width: W, height: H } = img;
  const short = Math.floor(size / cropPct);
  const long = Math.floor((short * Math.max(W, H)) / Math.min(W, H));
  const [resizeWidth, resizeHeight] = W <= H ? [short, long] : [long, short];
  return {
    kind: 'resize-crop',
    resizeHeight,
    resizeWidth,
    top: roundHalfEven((resizeHeight - size) / 2),
    left: roundHalfEven((resizeWidth - size) / 2),
    flip: false,
  };
}

/** The container formats the pipeline decodes. */
export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** The format from the file's magic bytes (not its name), or null for anything else. */
export function imageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  return null;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

function u16be(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

function u24le(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
}

function need(b: Uint8Array, n: number, what: string): void {
  if (b.length < n) throw new Error(`truncated ${what} header (${b.length} bytes)`);
}

function checked(width: number, height: number, what: string): ImageSize {
  if (width < 1 || height < 1) throw new Error(`${what} header gives an empty image (${width}x${height})`);
  return { width, height };
}

/** JPEG start-of-frame markers (SOF0-3, 5-7, 9-11, 13-15); C4 (DHT), C8 (JPG) and CC (DAC) are not frames. */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegSize(b: Uint8Array): ImageSize {
  let at = 2;
  for (;;) {
    need(b, at + 2, 'JPEG');
    if (b[at] !== 0xff) throw new Error(`corrupt JPEG header: expected a marker at byte ${at}`);
    const marker = b[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte before a marker
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      at += 2; // markers without a length
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) throw new Error('JPEG has no frame header before its scan data');
    need(b, at + 4, 'JPEG');
    const len = u16be(b, at + 2);
    if (len < 2) throw new Error(`corrupt JPEG header: segment length ${len} at byte ${at}`);
    if (isSof(marker)) {
      need(b, at + 9, 'JPEG');
      return checked(u16be(b, at + 7), u16be(b, at + 5), 'JPEG');
    }
    at += 2 + len;
  }
}

function pngSize(b: Uint8Array): ImageSize {
  need(b, 24, 'PNG');
  if (ascii(b, 12, 4) !== 'IHDR') throw new Error('corrupt PNG header: the first chunk is not IHDR');
  return checked(u32be(b, 16), u32be(b, 20), 'PNG');
}

function webpSize(b: Uint8Array): ImageSize {
  need(b, 16, 'WebP');
  const chunk = ascii(b, 12, 4);
  if (chunk === 'VP8X') {
    need(b, 30, 'WebP');
    return checked(u24le(b, 24) + 1, u24le(b, 27) + 1, 'WebP');
  }
  if (chunk === 'VP8L') {
    need(b, 25, 'WebP');
    if (b[20] !== 0x2f) throw new Error('corrupt WebP header: bad VP8L signature');
    const bits = (b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24)) >>> 0;
    return checked((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1, 'WebP');
  }
  if (chunk === 'VP8 ') {
    need(b, 30, 'WebP');
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) throw new Error('corrupt WebP header: bad VP8 start code');
    return checked((b[26]! | (b[27]! << 8)) & 0x3fff, (b[28]! | (b[29]! << 8)) & 0x3fff, 'WebP');
  }
  throw new Error(`corrupt WebP header: unknown first chunk "${chunk}"`);
}

/**
 * Width and height from the file's header alone (JPEG SOFn, PNG IHDR, WebP VP8/VP8L/VP8X), so the
 * geometry is chosen before decoding. Stored orientation: EXIF rotation is ignored, as PIL and
 * torchvision do by default. Throws for another format or a truncated or corrupt header.
 */
export function imageSize(bytes: Uint8Array): ImageSize {
  switch (imageFormat(bytes)) {
    case 'jpeg':
      return jpegSize(bytes);
    case 'png':
      return pngSize(bytes);
    case 'webp':
      return webpSize(bytes);
    case null:
      throw new Error('not a JPEG, PNG or WebP file');
  }
}
