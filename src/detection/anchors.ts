/**
 * RetinaNet's anchors exactly as torchvision builds them (`retinanet._default_anchorgen` and
 * `AnchorGenerator`), so that a model's [N, A, ...] outputs, the matcher's targets and torchvision
 * weights all agree on what anchor a means:
 *
 *  - per level P3..P7 (strides 8..128), sizes `int(s * 2^(k/3))` for k = 0, 1, 2 and s = 32..512
 *    (torchvision truncates to an integer: 32, 40, 50; 64, 80, 101; ...), aspect ratios (0.5, 1, 2);
 *  - base anchors `round([-w, -h, w, h] / 2)` computed in float32, with `h = sqrt(r) * size`,
 *    `w = size / sqrt(r)`, ratio-major then size-minor (9 per location); `round` is torch.round,
 *    half to even (a half-size of 50.5 rounds to 50);
 *  - shifted by `(x * stride, y * stride)` (no half-stride offset), stride = floor(image / feature);
 *  - order: level, then location row-major (y, then x), then the 9 anchors.
 */

/** What shapes the anchor set; every field defaults to torchvision's RetinaNet. */
export interface AnchorOptions {
  /** Base size per level (the k = 0 size), one per level. */
  sizes?: number[];
  /** Aspect ratios h / w. */
  ratios?: number[];
  /** Sizes per level: `int(s * 2^(k / scalesPerOctave))` for k < scalesPerOctave. */
  scalesPerOctave?: number;
  /** Nominal stride per level, used for the default feature sizes `ceil(image / stride)`. */
  strides?: number[];
  /** Feature-map sizes [height, width] per level, as the network produces them; overrides the ones the strides imply. */
  featureSizes?: Array<[number, number]>;
}

const DEFAULT_SIZES = [32, 64, 128, 256, 512];
const DEFAULT_RATIOS = [0.5, 1, 2];
const DEFAULT_SCALES_PER_OCTAVE = 3;
const DEFAULT_STRIDES = [8, 16, 32, 64, 128];

/** torch.round: half to even, as torch rounds the base anchors (`Math.round` would round 50.5 up). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Anchors per feature-map location (9 by default), which sizes the heads' output channels. */
export function anchorsPerLocation(opts: Pick<AnchorOptions, 'ratios' | 'scalesPerOctave'> = {}): number {
  return (opts.ratios ?? DEFAULT_RATIOS).length * (opts.scalesPerOctave ?? DEFAULT_SCALES_PER_OCTAVE);
}

/** The anchor sizes of each level (torchvision's `anchor_sizes` tuple), integer-truncated as torchvision's `int()` does. */
export function levelSizes(opts: Pick<AnchorOptions, 'sizes' | 'scalesPerOctave'> = {}): number[][] {
  const spo = opts.scalesPerOctave ?? DEFAULT_SCALES_PER_OCTAVE;
  return (opts.sizes ?? DEFAULT_SIZES).map((s) => Array.from({ length: spo }, (_, k) => (k === 0 ? s : Math.trunc(s * 2 ** (k / spo)))));
}

/**
 * One level's base anchors, centred on 0, flat 4 * (ratios * sizes), in float32 arithmetic as torch
 * computes them (the float32 product decides which way a half rounds).
 */
export function baseAnchors(sizes: number[], ratios: number[]): Float32Array {
  const out = new Float32Array(4 * sizes.length * ratios.length);
  let o = 0;
  for (const r of ratios) {
    const hRatio = Math.fround(Math.sqrt(Math.fround(r)));
    const wRatio = Math.fround(1 / hRatio);
    for (const s of sizes) {
      const ws = Math.fround(wRatio * Math.fround(s));
      const hs = Math.fround(hRatio * Math.fround(s));
      // [-ws, -hs, ws, hs] / 2: halving is exact in float32; negation commutes with half-even rounding.
      out[o++] = roundHalfEven(-ws / 2);
      out[o++] = roundHalfEven(-hs / 2);
      out[o++] = roundHalfEven(ws / 2);
      out[o++] = roundHalfEven(hs / 2);
    }
  }
  return out;
}

const cache = new Map<string, Float32Array>();
const CACHE_LIMIT = 32;

/**
 * All anchors of an image of size H x W (the padded batch size), flat 4A in the order the model's
 * outputs use. Cached by shape and options, because every batch of one padded shape reuses them:
 * the returned array is shared, so callers must not modify it.
 */
export function retinaNetAnchors(imageHeight: number, imageWidth: number, opts: AnchorOptions = {}): Float32Array {
  const key = JSON.stringify([imageHeight, imageWidth, opts.sizes, opts.ratios, opts.scalesPerOctave, opts.strides, opts.featureSizes]);
  const hit = cache.get(key);
  if (hit) return hit;
  const anchors = buildAnchors(imageHeight, imageWidth, opts);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, anchors);
  return anchors;
}

/** The feature-map sizes the anchors assume: given ones, or `ceil(image / stride)` (a stride-2, padding-1 conv chain's sizes). */
export function featureSizes(imageHeight: number, imageWidth: number, opts: Pick<AnchorOptions, 'strides' | 'featureSizes'> = {}): Array<[number, number]> {
  if (opts.featureSizes) return opts.featureSizes;
  return (opts.strides ?? DEFAULT_STRIDES).map((s) => [Math.ceil(imageHeight / s), Math.ceil(imageWidth / s)]);
}

function buildAnchors(imageHeight: number, imageWidth: number, opts: AnchorOptions): Float32Array {
  if (!(imageHeight > 0 && imageWidth > 0)) throw new RangeError(`retinaNetAnchors: image size must be positive, got ${imageHeight}x${imageWidth}`);
  const sizes = levelSizes(opts);
  const ratios = opts.ratios ?? DEFAULT_RATIOS;
  const feats = featureSizes(imageHeight, imageWidth, opts);
  if (feats.length !== sizes.length) {
    throw new RangeError(`retinaNetAnchors: ${sizes.length} levels of sizes but ${feats.length} feature sizes (or strides)`);
  }
  const perLoc = sizes[0]!.length * ratios.length;
  let total = 0;
  for (const [fh, fw] of feats) total += fh * fw * perLoc;
  const out = new Float32Array(4 * total);
  let o = 0;
  for (let l = 0; l < feats.length; l++) {
    const [fh, fw] = feats[l]!;
    const base = baseAnchors(sizes[l]!, ratios);
    // torchvision: stride = image_size // grid_size (integer division), per axis.
    const sy = Math.floor(imageHeight / fh);
    const sx = Math.floor(imageWidth / fw);
    for (let y = 0; y < fh; y++) {
      const shiftY = y * sy;
      for (let x = 0; x < fw; x++) {
        const shiftX = x * sx;
        for (let k = 0; k < base.length; k += 4) {
          out[o++] = shiftX + base[k]!;
          out[o++] = shiftY + base[k + 1]!;
          out[o++] = shiftX + base[k + 2]!;
          out[o++] = shiftY + base[k + 3]!;
        }
      }
    }
  }
  return out;
}
