/**
 * `pwlu data make fashion-mnist-detection`: a COCO-format detection set built from Fashion-MNIST items, because COCO
 * itself cannot be downloaded on the machines pwlu is measured on. Deterministic by seed: the same arguments and the
 * same Fashion-MNIST files give byte-identical output.
 *
 * Layout (COCO's, which the COCO loader reads): `<out>/annotations/instances_{train,val,test}.json` and the images in
 * `<out>/{train,val,test}/<image id, 12 digits>.jpg` (RGB, size x size, JPEG quality 95, 4:4:4, no metadata).
 *
 * What a canvas holds, and the rules the annotations follow:
 * - Background: a seeded texture (a two-colour gradient in a random direction, low-frequency value noise per
 *   channel, and on half of the canvases a sinusoidal stripe pattern), so that it is never flat.
 * - Items: train and val canvases take items from Fashion-MNIST's train file (val the first sixth of it, indices
 *   [0, n/6), train the rest), test canvases from its t10k file, so no item appears in two splits. Items are drawn
 *   with replacement within a split's range by each canvas's own generator, so every canvas is a pure function of
 *   (seed, split, index, size) and of the source files. Each item is cropped to the tight box of its visible
 *   pixels, scaled bilinearly (half-pixel centres, edges clamped) to a random width and height (its own aspect
 *   jittered by up to ±25 %), tinted with one random colour chosen to contrast with the background under it, and
 *   alpha-blended onto the canvas with alpha = intensity / (the item's largest intensity).
 * - A pixel belongs to an item where its scaled alpha exceeds ALPHA_THRESHOLD (0.1); it is visible where no item
 *   drawn later also covers it. The box is the tight box of the visible pixels (pixel (c, r) spans [c, c+1) x
 *   [r, r+1), so width = columns spanned) and `area` is the number of visible pixels: COCO's area is the area of the
 *   (visible) segment, and this is that segment's pixel count.
 * - Overlaps are allowed. An item more than MAX_COVERED (60 %) of whose pixels are covered by items drawn after it
 *   is not placed at all (decided from the top item down, so dropping one only uncovers those below it): every
 *   drawn item is annotated, and no annotated item is mostly hidden.
 * - Sizes: each canvas holds 1-6 objects. On half of the canvases (when size >= 118, as a large object needs 96^2
 *   visible pixels) one object is large: scaled until the part inside the canvas has the aimed area (past the
 *   canvas edges if need be; it is then truncated and its box clipped to what lies inside), and drawn at the
 *   bottom or, half the time, on top. The others are small (visible area < 32^2) or medium. The mix comes out at
 *   about 41 % small, 43 % medium and 16 % large annotations in every split. At 128 px a large object covers more
 *   than half of the canvas, so its box nearly always spans the canvas in one direction.
 * - Crowds: about 3 % of the canvases hold a tight cluster of 4-8 small items of one class, annotated as ONE
 *   annotation with iscrowd 1 whose box encloses the cluster's visible pixels and whose area is their count (the
 *   cluster is one object for the coverage rule).
 * - Image ids run 1.. over train, then val, then test (unique across the three files), as do annotation ids;
 *   category ids are 1..10 in Fashion-MNIST's label order.
 *
 * Writes are atomic per file (temp + rename, src/util/io.ts) and the three annotation files are written last, so a
 * killed run leaves no annotation file that names a missing image.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, UserError } from '../../util/errors.js';
import { TEMP_RE, writeFileAtomic } from '../../util/io.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { catalogEntry } from '../catalog.js';
import { loadIdxDataset } from '../idx.js';
import { loadSharp } from '../sharp.js';

/** Bumped whenever the same arguments would give different files, so an old set is never taken for a new one. */
export const GENERATOR_VERSION = 1;
/** A pixel belongs to an item where its scaled alpha exceeds this. */
export const ALPHA_THRESHOLD = 0.1;
/** An item more covered than this by later items is not placed. */
export const MAX_COVERED = 0.6;
/** JPEG quality of the written images. */
export const JPEG_QUALITY = 95;
/** COCO's area-range limits (small < 32^2 <= medium < 96^2 <= large). */
export const SMALL_AREA = 32 * 32;
export const LARGE_AREA = 96 * 96;
/** The smallest canvas that can hold a large object (96^2 visible pixels with room to spare). */
export const MIN_SIZE_FOR_LARGE = 118;
/** The splits written, in id order. */
export const DETECTION_SPLITS = ['train', 'val', 'test'] as const;
/** One of the splits written. */
export type DetectionSplit = (typeof DETECTION_SPLITS)[number];
/** Defaults of `pwlu data make fashion-mnist-detection`. */
export const DETECTION_DEFAULTS = { seed: 0, train: 6000, val: 500, test: 1000, size: 128 } as const;

const P_LARGE = 0.5;
const P_SMALL = 0.5;
const P_CROWD = 0.045; // some crowds are then dropped by the coverage rule: about 3 % of canvases keep one
const LARGE_ON_TOP = 0.5;
/** A large object's aimed visible area, in units of 96^2: from `top`/`bottom` up by `span`; more at the bottom, where others cover it. */
const LARGE_WANT = { top: 1.05, bottom: 1.25, span: 0.2 };
const SPLIT_CODE: Record<DetectionSplit, number> = { train: 1, val: 2, test: 3 };
const SUPERCATEGORY = ['clothing', 'clothing', 'clothing', 'clothing', 'clothing', 'footwear', 'clothing', 'footwear', 'accessory', 'footwear'];

/** The generator's arguments: what `info.args` records and what "the same dataset" means. */
export interface DetectionArgs {
  seed: number;
  train: number;
  val: number;
  test: number;
  size: number;
}

/** Fashion-MNIST items as the idx loader gives them (uint8, rows x cols each). */
export interface ItemSource {
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  rows: number;
  cols: number;
}

/** One Fashion-MNIST item as placed: which item, where, how large, in which colour. */
export interface PlacedItem {
  /** Index of the item in its Fashion-MNIST file (train for train/val, t10k for test). */
  item: number;
  /** 0-based class (the label). */
  label: number;
  /** Top-left corner of the scaled patch on the canvas (negative where a large item runs past the edge). */
  x: number;
  y: number;
  /** Size of the scaled patch. */
  w: number;
  h: number;
  /** Top-left corner and size of the item's crop in the 28 x 28 source (the tight box of its alpha > threshold). */
  crop: { x: number; y: number; w: number; h: number };
  tint: [number, number, number];
}

/** One annotated object: a single item, or a crowd of items of one class. */
export interface PlacedObject {
  label: number;
  crowd: boolean;
  members: PlacedItem[];
  /** Visible box x1, y1, x2, y2 (absolute pixels, x2 exclusive) and visible pixel count. */
  box: [number, number, number, number];
  area: number;
}

/** A rendered canvas: RGB bytes (HWC) and its objects, bottom to top. */
export interface Canvas {
  rgb: Uint8Array;
  objects: PlacedObject[];
  /** Planned objects left out by the coverage rule. */
  dropped: number;
}

/** A prepared source item: its tight crop's alpha at source resolution. */
interface Prepared {
  crop: { x: number; y: number; w: number; h: number };
  alpha: Float64Array;
  /** Fraction of the crop above the threshold. */
  fill: number;
}

/** Per-source cache of prepared items, so an item drawn twice is cropped once. */
type PrepCache = Map<number, Prepared | null>;

function prepare(src: ItemSource, index: number, cache: PrepCache): Prepared | null {
  const hit = cache.get(index);
  if (hit !== undefined) return hit;
  const { rows, cols } = src;
  const px = src.images.subarray(index * rows * cols, (index + 1) * rows * cols);
  let max = 0;
  for (const v of px) if (v > max) max = v;
  let out: Prepared | null = null;
  if (max > 0) {
    let x0 = cols;
    let y0 = rows;
    let x1 = -1;
    let y1 = -1;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        if (px[r * cols + c]! / max > ALPHA_THRESHOLD) {
          if (c < x0) x0 = c;
          if (c > x1) x1 = c;
          if (r < y0) y0 = r;
          if (r > y1) y1 = r;
        }
      }
    }
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const alpha = new Float64Array(w * h);
    let above = 0;
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const a = px[(y0 + r) * cols + x0 + c]! / max;
        alpha[r * w + c] = a;
        if (a > ALPHA_THRESHOLD) above++;
      }
    }
    out = { crop: { x: x0, y: y0, w, h }, alpha, fill: above / (w * h) };
  }
  cache.set(index, out);
  return out;
}

/**
 * Bilinear resize of a single-channel float image with half-pixel centres and clamped edges (OpenCV's INTER_LINEAR,
 * PIL's without antialiasing): exported so that the tests can check it on hand-computed cases.
 */
export function resizeBilinear(src: Float64Array, sw: number, sh: number, dw: number, dh: number): Float64Array {
  const out = new Float64Array(dw * dh);
  const x0s = new Int32Array(dw);
  const x1s = new Int32Array(dw);
  const fxs = new Float64Array(dw);
  for (let dx = 0; dx < dw; dx++) {
    const sx = Math.min(Math.max(((dx + 0.5) * sw) / dw - 0.5, 0), sw - 1);
    const x0 = Math.floor(sx);
    x0s[dx] = x0;
    x1s[dx] = Math.min(x0 + 1, sw - 1);
    fxs[dx] = sx - x0;
  }
  for (let dy = 0; dy < dh; dy++) {
    const sy = Math.min(Math.max(((dy + 0.5) * sh) / dh - 0.5, 0), sh - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const fy = sy - y0;
    for (let dx = 0; dx < dw; dx++) {
      const x0 = x0s[dx]!;
      const x1 = x1s[dx]!;
      const fx = fxs[dx]!;
      const top = (1 - fx) * src[y0 * sw + x0]! + fx * src[y0 * sw + x1]!;
      const bottom = (1 - fx) * src[y1 * sw + x0]! + fx * src[y1 * sw + x1]!;
      out[dy * dw + dx] = (1 - fy) * top + fy * bottom;
    }
  }
  return out;
}

function randomColour(rng: Rng): [number, number, number] {
  return [rng.int(256), rng.int(256), rng.int(256)];
}

/** The seeded background: gradient + low-frequency noise + (half the time) stripes, as float RGB (HWC). */
function texture(rng: Rng, size: number): Float32Array {
  const bg = new Float32Array(size * size * 3);
  const c0 = randomColour(rng);
  const c1 = randomColour(rng);
  const theta = rng.uniform() * 2 * Math.PI;
  const [ct, st] = [Math.cos(theta), Math.sin(theta)];
  const g = 2 + rng.int(5); // noise grid cells per side
  const amp = 20 + rng.uniform() * 30;
  const grid = new Float32Array((g + 1) * (g + 1) * 3);
  for (let i = 0; i < grid.length; i++) grid[i] = (rng.uniform() * 2 - 1) * amp;
  const stripes = rng.uniform() < 0.5;
  const sAmp = stripes ? 8 + rng.uniform() * 20 : 0;
  const period = 5 + rng.uniform() * 20;
  const phi = rng.uniform() * Math.PI;
  const phase = rng.uniform() * 2 * Math.PI;
  const sCol = [rng.uniform(), rng.uniform(), rng.uniform()];
  const [cp, sp] = [Math.cos(phi), Math.sin(phi)];
  const smooth = (t: number) => t * t * (3 - 2 * t);
  // Separable pieces, per column and per row: sin(a + b) = sin a cos b + cos a sin b for the stripes, the noise
  // grid cell and its smoothed fraction for the noise.
  const sinX = new Float64Array(size);
  const cosX = new Float64Array(size);
  const sinY = new Float64Array(size);
  const cosY = new Float64Array(size);
  const cellX = new Int32Array(size);
  const fracX = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const ax = (2 * Math.PI * i * cp) / period + phase;
    const by = (2 * Math.PI * i * sp) / period;
    [sinX[i], cosX[i], sinY[i], cosY[i]] = [Math.sin(ax), Math.cos(ax), Math.sin(by), Math.cos(by)];
    const gx = (i / size) * g;
    cellX[i] = Math.min(Math.floor(gx), g - 1);
    fracX[i] = smooth(gx - cellX[i]!);
  }
  const grad = [0, 1, 2].map((ch) => c1[ch]! - c0[ch]!);
  for (let y = 0; y < size; y++) {
    const iy = cellX[y]!;
    const ty = fracX[y]!;
    const row0 = iy * (g + 1) * 3;
    const row1 = (iy + 1) * (g + 1) * 3;
    for (let x = 0; x < size; x++) {
      const t = Math.min(Math.max(((x - size / 2) * ct + (y - size / 2) * st) / size + 0.5, 0), 1);
      const ix = cellX[x]!;
      const tx = fracX[x]!;
      const s = sAmp * (sinX[x]! * cosY[y]! + cosX[x]! * sinY[y]!);
      const q = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = (1 - tx) * grid[row0 + ix * 3 + ch]! + tx * grid[row0 + (ix + 1) * 3 + ch]!;
        const bottom = (1 - tx) * grid[row1 + ix * 3 + ch]! + tx * grid[row1 + (ix + 1) * 3 + ch]!;
        bg[q + ch] = c0[ch]! + grad[ch]! * t + (1 - ty) * top + ty * bottom + s * sCol[ch]!;
      }
    }
  }
  return bg;
}

/** A tint far from the background under the patch, so that every item stands out from what lies behind it. */
function contrastingTint(rng: Rng, bg: Float32Array, size: number, x: number, y: number, w: number, h: number): [number, number, number] {
  const xa = Math.max(0, x);
  const ya = Math.max(0, y);
  const xb = Math.min(size, x + w);
  const yb = Math.min(size, y + h);
  const mean = [0, 0, 0];
  let n = 0;
  for (let r = ya; r < yb; r += 2) {
    for (let c = xa; c < xb; c += 2) {
      for (let ch = 0; ch < 3; ch++) mean[ch]! += bg[(r * size + c) * 3 + ch]!;
      n++;
    }
  }
  for (let ch = 0; ch < 3; ch++) mean[ch] = mean[ch]! / Math.max(1, n);
  let best: [number, number, number] = randomColour(rng);
  let bestD = -1;
  for (let k = 0; k < 12; k++) {
    const c = k === 0 ? best : randomColour(rng);
    const d = Math.hypot(c[0] - mean[0]!, c[1] - mean[1]!, c[2] - mean[2]!);
    if (d > bestD) [best, bestD] = [c, d];
    if (bestD >= 150) break;
  }
  return best;
}

/** Log-uniform in [lo, hi). */
function logUniform(rng: Rng, lo: number, hi: number): number {
  return Math.exp(Math.log(lo) + rng.uniform() * (Math.log(hi) - Math.log(lo)));
}

/** Patch size giving about `area` pixels above the threshold for a prepared item, its aspect jittered. */
function patchSize(rng: Rng, p: Prepared, area: number): { w: number; h: number } {
  const aspect = (p.crop.w / p.crop.h) * Math.exp((rng.uniform() * 2 - 1) * Math.log(1.25));
  const wh = area / p.fill;
  return { w: Math.max(3, Math.round(Math.sqrt(wh * aspect))), h: Math.max(3, Math.round(Math.sqrt(wh / aspect))) };
}

/** Pixels of a scaled alpha patch at (x, y) that lie inside the canvas and above the threshold. */
function countInside(a: Float64Array, x: number, y: number, w: number, h: number, size: number): number {
  let n = 0;
  for (let r = Math.max(0, -y); r < h && y + r < size; r++) {
    for (let c = Math.max(0, -x); c < w && x + c < size; c++) if (a[r * w + c]! > ALPHA_THRESHOLD) n++;
  }
  return n;
}

/**
 * Grows a large item's patch (at most three times) until the part inside the canvas has `want` pixels above the
 * threshold; `fx`, `fy` in [0, 1) say where the patch sits (how far past the left/top edge, or inside).
 */
function fitLarge(p: Prepared, w0: number, h0: number, fx: number, fy: number, want: number, size: number) {
  let [w, h] = [w0, h0];
  for (let step = 0; ; step++) {
    const x = w > size ? -Math.round(fx * (w - size)) : Math.round(fx * (size - w));
    const y = h > size ? -Math.round(fy * (h - size)) : Math.round(fy * (size - h));
    const alpha = resizeBilinear(p.alpha, p.crop.w, p.crop.h, w, h);
    const inside = countInside(alpha, x, y, w, h, size);
    if (inside >= want || step === 3) return { x, y, w, h, alpha };
    const grow = Math.min(1.5, Math.sqrt(want / Math.max(1, inside)) * 1.02, (2 * size) / Math.max(w, h));
    w = Math.round(w * grow);
    h = Math.round(h * grow);
  }
}

interface Planned {
  label: number;
  crowd: boolean;
  /** The scaled alpha rides along where planning already computed it. */
  members: (PlacedItem & { prep: Prepared; alpha?: Float64Array })[];
}

/** The split's item range in its Fashion-MNIST file: val the first sixth of train, train the rest, test all of t10k. */
export function itemRange(split: DetectionSplit, n: number): { lo: number; hi: number } {
  const cut = Math.floor(n / 6);
  return split === 'val' ? { lo: 0, hi: cut } : split === 'train' ? { lo: cut, hi: n } : { lo: 0, hi: n };
}

/** Draws an item index of the range (of class `label` if given) whose crop is not empty. */
function drawItem(rng: Rng, src: ItemSource, lo: number, hi: number, cache: PrepCache, label: number | null): { item: number; prep: Prepared } {
  for (let tries = 0; tries < 10000; tries++) {
    const item = lo + rng.int(hi - lo);
    if (label !== null && src.labels[item] !== label) continue;
    const prep = prepare(src, item, cache);
    if (prep !== null) return { item, prep };
  }
  throw new DataError(`Fashion-MNIST items ${lo}..${hi - 1}: no non-blank item${label === null ? '' : ` of class ${label}`} found`);
}

function placed(rng: Rng, bg: Float32Array, size: number, d: { item: number; prep: Prepared }, label: number, x: number, y: number, w: number, h: number) {
  return { item: d.item, label, x, y, w, h, crop: d.prep.crop, prep: d.prep, tint: contrastingTint(rng, bg, size, x, y, w, h) };
}

/** The random decisions of one canvas: its objects bottom to top, before the coverage rule. */
function planCanvas(rng: Rng, bg: Float32Array, size: number, src: ItemSource, lo: number, hi: number, cache: PrepCache): Planned[] {
  const large = size >= MIN_SIZE_FOR_LARGE && rng.uniform() < P_LARGE;
  const onTop = large && rng.uniform() < LARGE_ON_TOP;
  const others = large ? rng.int(4) : 1 + rng.int(6);
  // A crowd takes one of the object slots, so that a canvas never holds more than six objects.
  const crowdAt = others > 0 && rng.uniform() < P_CROWD ? rng.int(others) : -1;
  const plan: Planned[] = [];
  if (large) {
    const d = drawItem(rng, src, lo, hi, cache, null);
    const label = src.labels[d.item]!;
    // The visible area aimed at, with room for what the objects on top will cover; the patch grows until the part
    // inside the canvas reaches it (a patch larger than the canvas runs past its edges by a random split).
    const want = LARGE_AREA * ((onTop ? LARGE_WANT.top : LARGE_WANT.bottom) + LARGE_WANT.span * rng.uniform());
    const { w: w0, h: h0 } = patchSize(rng, d.prep, want);
    const { x, y, w, h, alpha } = fitLarge(d.prep, w0, h0, rng.uniform(), rng.uniform(), want, size);
    plan.push({ label, crowd: false, members: [{ ...placed(rng, bg, size, d, label, x, y, w, h), alpha }] });
  }
  for (let k = 0; k < others; k++) {
    if (k === crowdAt) {
      const label = rng.int(10);
      const count = 4 + rng.int(5);
      const side = 8 + rng.int(6);
      const spread = Math.round(side * (1 + 0.35 * Math.sqrt(count)));
      const cx = rng.int(Math.max(1, size - spread - side + 1));
      const cy = rng.int(Math.max(1, size - spread - side + 1));
      const members: Planned['members'] = [];
      const tint = contrastingTint(rng, bg, size, cx, cy, spread + side, spread + side);
      for (let m = 0; m < count; m++) {
        const d = drawItem(rng, src, lo, hi, cache, label);
        const { w, h } = patchSize(rng, d.prep, side * side * 0.6);
        const x = Math.min(cx + rng.int(spread + 1), size - w);
        const y = Math.min(cy + rng.int(spread + 1), size - h);
        const jitter = (c: number) => Math.min(255, Math.max(0, c + rng.int(41) - 20));
        members.push({
          ...placed(rng, bg, size, d, label, Math.max(0, x), Math.max(0, y), Math.min(w, size), Math.min(h, size)),
          tint: [jitter(tint[0]), jitter(tint[1]), jitter(tint[2])],
        });
      }
      plan.push({ label, crowd: true, members });
      continue;
    }
    const d = drawItem(rng, src, lo, hi, cache, null);
    const label = src.labels[d.item]!;
    const area = rng.uniform() < P_SMALL ? logUniform(rng, 80, SMALL_AREA) : logUniform(rng, SMALL_AREA, Math.min(LARGE_AREA, 0.45 * size * size));
    let { w, h } = patchSize(rng, d.prep, area);
    const shrink = Math.min(1, size / w, size / h);
    w = Math.max(3, Math.floor(w * shrink));
    h = Math.max(3, Math.floor(h * shrink));
    const x = rng.int(size - w + 1);
    const y = rng.int(size - h + 1);
    plan.push({ label, crowd: false, members: [placed(rng, bg, size, d, label, x, y, w, h)] });
  }
  // The large object lies at the bottom or, half the time, on top (where it hides what it covers).
  if (onTop) plan.push(plan.shift()!);
  return plan;
}

/** The scaled alpha of a placed item (from its source crop), shared by the mask and the blending. */
function scaledAlpha(m: PlacedItem & { prep: Prepared; alpha?: Float64Array }): Float64Array {
  return m.alpha ?? resizeBilinear(m.prep.alpha, m.crop.w, m.crop.h, m.w, m.h);
}

/**
 * Renders canvas `index` of `split`: a pure function of (seed, split, index, size) and the source items, so the
 * writer and the tests see the same canvas. `src` is Fashion-MNIST's train file for train/val, t10k for test.
 */
export function renderCanvas(src: ItemSource, split: DetectionSplit, index: number, seed: number, size: number, cache: PrepCache = new Map()): Canvas {
  const rng = new Rng(deriveSeed(seed, SPLIT_CODE[split], index));
  const bg = texture(rng, size);
  const { lo, hi } = itemRange(split, src.n);
  if (hi <= lo) throw new DataError(`Fashion-MNIST ${split === 'test' ? 't10k' : 'train'} file has too few items (${src.n}) for the ${split} split`);
  const plan = planCanvas(rng, bg, size, src, lo, hi, cache);

  // Masks (alpha > threshold) per object, then the coverage rule from the top object down; every loop keeps to the
  // object's rectangle (the union of its members' patches, clipped to the canvas).
  const S2 = size * size;
  const alphas = plan.map((o) => o.members.map(scaledAlpha));
  const mask = new Uint8Array(S2);
  const covered = new Uint8Array(S2);
  const keep = new Array<{ box: [number, number, number, number]; area: number } | undefined>(plan.length);
  let dropped = 0;
  for (let i = plan.length - 1; i >= 0; i--) {
    const o = plan[i]!;
    const rx0 = Math.max(0, Math.min(...o.members.map((m) => m.x)));
    const ry0 = Math.max(0, Math.min(...o.members.map((m) => m.y)));
    const rx1 = Math.min(size, Math.max(...o.members.map((m) => m.x + m.w)));
    const ry1 = Math.min(size, Math.max(...o.members.map((m) => m.y + m.h)));
    o.members.forEach((m, j) => {
      const a = alphas[i]![j]!;
      for (let r = Math.max(0, -m.y); r < m.h && m.y + r < size; r++) {
        for (let c = Math.max(0, -m.x); c < m.w && m.x + c < size; c++) {
          if (a[r * m.w + c]! > ALPHA_THRESHOLD) mask[(m.y + r) * size + m.x + c] = 1;
        }
      }
    });
    let own = 0;
    let area = 0;
    let [x1, y1, x2, y2] = [size, size, -1, -1];
    for (let r = ry0; r < ry1; r++) {
      for (let c = rx0; c < rx1; c++) {
        const p = r * size + c;
        if (mask[p] === 0) continue;
        own++;
        if (covered[p] !== 0) continue;
        area++;
        if (c < x1) x1 = c;
        if (c > x2) x2 = c;
        if (r < y1) y1 = r;
        if (r > y2) y2 = r;
      }
    }
    const kept = own > 0 && area >= (1 - MAX_COVERED) * own;
    if (kept) keep[i] = { box: [x1, y1, x2 + 1, y2 + 1], area };
    else dropped++;
    for (let r = ry0; r < ry1; r++) {
      for (let p = r * size + rx0; p < r * size + rx1; p++) {
        if (kept) covered[p] = covered[p]! | mask[p]!;
        mask[p] = 0;
      }
    }
  }

  // Blend the kept objects bottom to top.
  const canvas = bg;
  const objects: PlacedObject[] = [];
  plan.forEach((o, i) => {
    const k = keep[i];
    if (k === undefined) return;
    o.members.forEach((m, j) => {
      const a = alphas[i]![j]!;
      for (let r = Math.max(0, -m.y); r < m.h && m.y + r < size; r++) {
        for (let c = Math.max(0, -m.x); c < m.w && m.x + c < size; c++) {
          const al = a[r * m.w + c]!;
          if (al <= 0) continue;
          const q = ((m.y + r) * size + m.x + c) * 3;
          for (let ch = 0; ch < 3; ch++) canvas[q + ch] = canvas[q + ch]! * (1 - al) + m.tint[ch]! * al;
        }
      }
    });
    objects.push({ label: o.label, crowd: o.crowd, members: o.members.map(({ prep: _prep, alpha: _alpha, ...m }) => m), box: k.box, area: k.area });
  });
  // Clamped conversion rounds half to even, natively and fast.
  const rgb = new Uint8Array(S2 * 3);
  new Uint8ClampedArray(rgb.buffer).set(canvas);
  return { rgb, objects, dropped };
}

/** COCO's category list for Fashion-MNIST (ids 1..10 in label order). */
export function detectionCategories(): { id: number; name: string; supercategory: string }[] {
  return catalogEntry('fashion-mnist').classNames!.map((name, k) => ({ id: k + 1, name, supercategory: SUPERCATEGORY[k]! }));
}

/** The annotation file of a split, relative to the dataset folder. */
export function annotationFile(out: string, split: DetectionSplit): string {
  return join(out, 'annotations', `instances_${split}.json`);
}

/** Whether `dir` holds a complete generated set (all three annotation files, which are written last). */
export function hasDetectionDataset(dir: string): boolean {
  return DETECTION_SPLITS.every((s) => existsSync(annotationFile(dir, s)));
}

/** The image file name of an id: COCO's 12-digit zero-padded form. */
export function imageFileName(id: number): string {
  return `${String(id).padStart(12, '0')}.jpg`;
}

const IMAGE_RE = /^\d{12}\.jpg$/;

function sameArgs(a: unknown, b: DetectionArgs): boolean {
  if (typeof a !== 'object' || a === null) return false;
  const r = a as Record<string, unknown>;
  return (['seed', 'train', 'val', 'test', 'size'] as const).every((k) => r[k] === b[k]);
}

/** What the existing set at `out` was made with (from info in its val annotation file); null if unreadable. */
function existingInfo(out: string): { version: unknown; args: unknown } | null {
  try {
    const j = JSON.parse(readFileSync(annotationFile(out, 'val'), 'utf8')) as { info?: { version?: unknown; args?: unknown } };
    return j.info ? { version: j.info.version, args: j.info.args } : null;
  } catch {
    return null;
  }
}

function describeArgs(a: unknown): string {
  if (typeof a !== 'object' || a === null) return 'unknown arguments';
  return Object.entries(a as Record<string, unknown>)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

/** Options of `makeFashionMnistDetection`. */
export interface MakeDetectionOptions extends DetectionArgs {
  /** Dataset folder to write. */
  out: string;
  /** Folder holding Fashion-MNIST's four idx files, or how to find it (asked only when something is to be written). */
  source: string | (() => Promise<string>);
  /** Replace an existing complete set made with other arguments (or the same ones). */
  force: boolean;
  /** Called after each image is written. */
  onProgress?: (done: number, total: number) => void;
}

/** Counts of what a split holds. */
export interface SplitSummary {
  images: number;
  annotations: number;
  small: number;
  medium: number;
  large: number;
  crowd: number;
}

/** What `makeFashionMnistDetection` did. */
export interface MakeDetectionResult {
  status: 'written' | 'present';
  out: string;
  args: DetectionArgs;
  /** Per split; null when the set was already present. */
  splits: Record<DetectionSplit, SplitSummary> | null;
  seconds: number;
}

function checkArgs(a: DetectionArgs): void {
  for (const k of ['seed', 'train', 'val', 'test', 'size'] as const) {
    if (!Number.isInteger(a[k]) || a[k] < 0) throw new UserError(`--${k} must be a non-negative integer (got ${a[k]})`);
  }
  if (a.size < 32 || a.size > 2048) throw new UserError(`--size must be between 32 and 2048 pixels (got ${a.size})`);
}

interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}
interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd: 0 | 1;
}

/** One JSON record a line: small enough to stream, readable with grep. */
function cocoJson(info: object, images: CocoImage[], annotations: CocoAnnotation[]): string {
  const list = (xs: object[]) => (xs.length === 0 ? '[]' : `[\n${xs.map((x) => JSON.stringify(x)).join(',\n')}\n]`);
  return (
    `{"info":${JSON.stringify(info)},\n"images":${list(images)},\n"annotations":${list(annotations)},\n` + `"categories":${list(detectionCategories())}}\n`
  );
}

/**
 * Writes the whole set (or finds it already made with the same arguments): the library side of
 * `pwlu data make fashion-mnist-detection`, so that the tests drive it without a process.
 */
export async function makeFashionMnistDetection(o: MakeDetectionOptions): Promise<MakeDetectionResult> {
  const t0 = performance.now();
  const args: DetectionArgs = { seed: o.seed, train: o.train, val: o.val, test: o.test, size: o.size };
  checkArgs(args);
  if (hasDetectionDataset(o.out)) {
    const info = existingInfo(o.out);
    const same = info !== null && info.version === GENERATOR_VERSION && sameArgs(info.args, args);
    if (same && !o.force) return { status: 'present', out: o.out, args, splits: null, seconds: (performance.now() - t0) / 1000 };
    if (!o.force) {
      const made = info === null ? 'with unknown arguments' : `with ${describeArgs(info.args)} (generator version ${String(info.version)})`;
      throw new UserError(
        `${o.out} already holds a detection dataset made ${made}; pass --force to replace it, or choose another --out (asked for ${describeArgs(args)})`,
      );
    }
  }
  const source = typeof o.source === 'string' ? o.source : await o.source();
  const fm = await loadIdxDataset(source, 10);
  const sources: Record<DetectionSplit, ItemSource> = {
    train: { ...fm.train, rows: fm.height, cols: fm.width },
    val: { ...fm.train, rows: fm.height, cols: fm.width },
    test: { ...fm.test, rows: fm.height, cols: fm.width },
  };
  for (const s of DETECTION_SPLITS) {
    const { lo, hi } = itemRange(s, sources[s].n);
    if (args[s] > 0 && hi <= lo) throw new DataError(`${source}: too few Fashion-MNIST items (${sources[s].n}) for the ${s} split`);
  }
  // A replaced set loses its annotation files first, so that a run killed while rewriting images never leaves
  // annotations that describe other images.
  for (const s of DETECTION_SPLITS) rmSync(annotationFile(o.out, s), { force: true });

  const sharp = await loadSharp();
  const total = args.train + args.val + args.test;
  const categories = detectionCategories().length;
  const caches: Record<'train' | 'test', PrepCache> = { train: new Map(), test: new Map() };
  const files: Record<DetectionSplit, { images: CocoImage[]; annotations: CocoAnnotation[] }> = {
    train: { images: [], annotations: [] },
    val: { images: [], annotations: [] },
    test: { images: [], annotations: [] },
  };
  const splits = {} as Record<DetectionSplit, SplitSummary>;
  let imageId = 0;
  let annId = 0;
  let done = 0;
  const BATCH = 16;
  for (const split of DETECTION_SPLITS) {
    const dir = join(o.out, split);
    mkdirSync(dir, { recursive: true });
    const summary: SplitSummary = { images: args[split], annotations: 0, small: 0, medium: 0, large: 0, crowd: 0 };
    const names = new Set<string>();
    for (let start = 0; start < args[split]; start += BATCH) {
      const jobs: Promise<void>[] = [];
      for (let i = start; i < Math.min(args[split], start + BATCH); i++) {
        const c = renderCanvas(sources[split], split, i, args.seed, args.size, caches[split === 'test' ? 'test' : 'train']);
        const id = ++imageId;
        const name = imageFileName(id);
        names.add(name);
        files[split].images.push({ id, file_name: name, width: args.size, height: args.size });
        for (const ob of c.objects) {
          const [x1, y1, x2, y2] = ob.box;
          if (ob.label < 0 || ob.label >= categories) throw new DataError(`${source}: label ${ob.label} out of range`);
          files[split].annotations.push({
            id: ++annId,
            image_id: id,
            category_id: ob.label + 1,
            bbox: [x1, y1, x2 - x1, y2 - y1],
            area: ob.area,
            iscrowd: ob.crowd ? 1 : 0,
          });
          summary.annotations++;
          if (ob.crowd) summary.crowd++;
          else if (ob.area < SMALL_AREA) summary.small++;
          else if (ob.area < LARGE_AREA) summary.medium++;
          else summary.large++;
        }
        const path = join(dir, name);
        jobs.push(
          sharp(c.rgb, { raw: { width: args.size, height: args.size, channels: 3 } })
            .jpeg({ quality: JPEG_QUALITY, chromaSubsampling: '4:4:4' })
            .toBuffer()
            .then((buf) => {
              writeFileAtomic(path, [buf]);
              o.onProgress?.(++done, total);
            }),
        );
      }
      // Every write of the batch settles before a failure propagates, so none lands after this call has returned.
      const failed = (await Promise.allSettled(jobs)).find((j) => j.status === 'rejected');
      if (failed) throw failed.reason;
    }
    // Images an earlier, larger or interrupted run left behind, and temp files of a killed one.
    for (const f of readdirSync(dir)) if ((IMAGE_RE.test(f) && !names.has(f)) || TEMP_RE.test(f)) rmSync(join(dir, f), { force: true });
    splits[split] = summary;
  }
  // Made only now: discovery takes a folder with annotations/ for a COCO-format set.
  mkdirSync(join(o.out, 'annotations'), { recursive: true });
  for (const split of DETECTION_SPLITS) {
    const info = {
      description: `Fashion-MNIST detection (${split}): Fashion-MNIST items on textured ${args.size}x${args.size} canvases, made by pwlu data make fashion-mnist-detection`,
      version: GENERATOR_VERSION,
      seed: args.seed,
      split,
      args,
    };
    writeFileAtomic(annotationFile(o.out, split), cocoJson(info, files[split].images, files[split].annotations));
  }
  return { status: 'written', out: o.out, args, splits, seconds: (performance.now() - t0) / 1000 };
}
