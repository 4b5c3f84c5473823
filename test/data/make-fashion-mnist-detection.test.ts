import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DetectionSplit,
  type ItemSource,
  makeFashionMnistDetection,
  type MakeDetectionOptions,
  type PlacedObject,
  renderCanvas,
  resizeBilinear,
} from '../../src/data/coco/make-fashion-mnist-detection.js';
import { UserError } from '../../src/util/errors.js';
import { idxBuffer } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

// A Fashion-MNIST-shaped fixture: 28 x 28 items that look like items (a soft blob on a zero background, some with a
// hole, of varied size and aspect), labels cycling 0..9: 120 train items (val draws from 0..19, train from 20..119)
// and 40 test items.
const R = 28;
function fixtureItems(n: number, salt: number): ItemSource {
  const images = new Uint8Array(n * R * R);
  const labels = Int32Array.from({ length: n }, (_, i) => (i + salt) % 10);
  for (let i = 0; i < n; i++) {
    const rx = 3 + ((i * 7 + salt) % 10);
    const ry = 4 + ((i * 5 + salt) % 9);
    const cx = 13.5 + ((i % 3) - 1);
    const cy = 13.5 + ((i % 5) - 2) * 0.5;
    for (let y = 0; y < R; y++) {
      for (let x = 0; x < R; x++) {
        const d = Math.hypot((x - cx) / rx, (y - cy) / ry);
        let v = Math.max(0, Math.min(1, (1.15 - d) * 3)) * (0.55 + 0.45 * (((x + y + i) % 7) / 6));
        if (i % 4 === 0 && d < 0.35) v = 0; // a hole: the box is the outer edge, the area leaves the hole out
        images[(i * R + y) * R + x] = Math.round(255 * v);
      }
    }
  }
  return { images, labels, n, rows: R, cols: R };
}
const TRAIN = fixtureItems(120, 0);
const TEST = fixtureItems(40, 3);
const sourceOf = (split: DetectionSplit): ItemSource => (split === 'test' ? TEST : TRAIN);
const THRESHOLD = 0.1;

let tmp: string;
let fm: string;
beforeAll(() => {
  tmp = makeTmpDir('pwlu-fmd-');
  fm = join(tmp, 'fashion-mnist');
  mkdirSync(fm);
  writeFileSync(join(fm, 'train-images-idx3-ubyte'), idxBuffer(2051, [TRAIN.n, R, R], TRAIN.images));
  writeFileSync(join(fm, 'train-labels-idx1-ubyte'), idxBuffer(2049, [TRAIN.n], Uint8Array.from(TRAIN.labels)));
  writeFileSync(join(fm, 't10k-images-idx3-ubyte'), idxBuffer(2051, [TEST.n, R, R], TEST.images));
  writeFileSync(join(fm, 't10k-labels-idx1-ubyte'), idxBuffer(2049, [TEST.n], Uint8Array.from(TEST.labels)));
});
afterAll(() => removeDir(tmp));

/** Reference bilinear sample (half-pixel centres, clamped), written per output pixel from the definition. */
function refSample(src: number[][], sw: number, sh: number, dw: number, dh: number, dx: number, dy: number): number {
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const sx = clamp(((dx + 0.5) * sw) / dw - 0.5, sw - 1);
  const sy = clamp(((dy + 0.5) * sh) / dh - 0.5, sh - 1);
  const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
  const [x1, y1] = [Math.min(x0 + 1, sw - 1), Math.min(y0 + 1, sh - 1)];
  const [fx, fy] = [sx - x0, sy - y0];
  const at = (x: number, y: number) => src[y]![x]!;
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0)) + fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1));
}

/** The canvas pixels (y * size + x) where a placed object's item has alpha above the threshold, from the raw items. */
function refMask(o: PlacedObject, src: ItemSource, size: number): Set<number> {
  const out = new Set<number>();
  for (const m of o.members) {
    const px = src.images.subarray(m.item * R * R, (m.item + 1) * R * R);
    const max = Math.max(...px);
    // The crop is the tight box of the source pixels above the threshold.
    const rows = [...Array(R).keys()].filter((y) => [...Array(R).keys()].some((x) => px[y * R + x]! / max > THRESHOLD));
    const cols = [...Array(R).keys()].filter((x) => [...Array(R).keys()].some((y) => px[y * R + x]! / max > THRESHOLD));
    const crop = { x: cols[0]!, y: rows[0]!, w: cols.at(-1)! - cols[0]! + 1, h: rows.at(-1)! - rows[0]! + 1 };
    expect(m.crop).toEqual(crop);
    const a = Array.from({ length: crop.h }, (_, r) => Array.from({ length: crop.w }, (_, c) => px[(crop.y + r) * R + crop.x + c]! / max));
    for (let r = 0; r < m.h; r++) {
      for (let c = 0; c < m.w; c++) {
        const [x, y] = [m.x + c, m.y + r];
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        if (refSample(a, crop.w, crop.h, m.w, m.h, c, r) > THRESHOLD) out.add(y * size + x);
      }
    }
  }
  return out;
}

/** Checks a canvas's annotations against the rules, recomputed from the raw items: returns its object count. */
function checkCanvas(split: DetectionSplit, index: number, seed: number, size: number): { objects: PlacedObject[] } {
  const src = sourceOf(split);
  const c = renderCanvas(src, split, index, seed, size);
  const masks = c.objects.map((o) => refMask(o, src, size));
  c.objects.forEach((o, i) => {
    // Visible = in this object's mask and in no mask drawn after it.
    const visible = [...masks[i]!].filter((p) => !masks.slice(i + 1).some((m) => m.has(p)));
    const xs = visible.map((p) => p % size);
    const ys = visible.map((p) => Math.floor(p / size));
    expect(o.box).toEqual([Math.min(...xs), Math.min(...ys), Math.max(...xs) + 1, Math.max(...ys) + 1]);
    expect(o.area).toBe(visible.length);
    expect(visible.length).toBeGreaterThanOrEqual(0.4 * masks[i]!.size); // at most 60 % covered
    expect(o.label).toBeGreaterThanOrEqual(0);
    expect(o.label).toBeLessThan(10);
    for (const m of o.members) expect(src.labels[m.item]).toBe(o.label);
  });
  return { objects: c.objects };
}

describe('resizeBilinear', () => {
  it('matches hand-computed values: 2 -> 4 upscale, 2x2 -> 1x1 downscale, identity', () => {
    // Source pixel centres at 0.5, 1.5; output centres map to -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    expect(Array.from(resizeBilinear(Float64Array.of(0, 1), 2, 1, 4, 1))).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(resizeBilinear(Float64Array.of(0, 1, 2, 3), 2, 2, 1, 1))).toEqual([1.5]);
    expect(Array.from(resizeBilinear(Float64Array.of(0, 4, 8, 2, 6, 1), 3, 2, 3, 2))).toEqual([0, 4, 8, 2, 6, 1]);
    // 3 -> 2: centres map to 0.25 and 1.75 of [10, 20, 40]: 12.5 and 35.
    expect(Array.from(resizeBilinear(Float64Array.of(10, 20, 40), 3, 1, 2, 1))).toEqual([12.5, 35]);
  });
});

describe('renderCanvas', () => {
  it('gives tight boxes and visible-pixel areas, recomputed from the raw items, and drops no rule', () => {
    let n = 0;
    for (const split of ['train', 'val', 'test'] as const) {
      for (let i = 0; i < 6; i++) n += checkCanvas(split, i, 7, i % 2 === 0 ? 64 : 128).objects.length;
    }
    expect(n).toBeGreaterThan(30);
  });

  it('takes val items from the first sixth of the train file and train items from the rest', () => {
    const used = (split: DetectionSplit) =>
      new Set(Array.from({ length: 30 }, (_, i) => renderCanvas(TRAIN, split, i, 1, 64).objects.flatMap((o) => o.members.map((m) => m.item))).flat());
    const val = used('val');
    const train = used('train');
    expect(Math.max(...val)).toBeLessThan(20);
    expect(Math.min(...train)).toBeGreaterThanOrEqual(20);
    expect(val.size).toBeGreaterThan(10);
  });

  it('has small, medium and large objects in every split in about the aimed proportions', () => {
    for (const split of ['train', 'val', 'test'] as const) {
      const h = { small: 0, medium: 0, large: 0 };
      for (let i = 0; i < 50; i++) {
        for (const o of renderCanvas(sourceOf(split), split, i, 0, 128).objects) {
          if (!o.crowd) h[o.area < 32 * 32 ? 'small' : o.area < 96 * 96 ? 'medium' : 'large']++;
        }
      }
      const n = h.small + h.medium + h.large;
      expect(h.small / n, `${split} small`).toBeGreaterThan(0.25);
      expect(h.medium / n, `${split} medium`).toBeGreaterThan(0.25);
      expect(h.large / n, `${split} large`).toBeGreaterThan(0.05);
    }
  });

  it('places crowds: 4-8 items of one class as one object, flagged, in a tight cluster', () => {
    let crowds = 0;
    for (let i = 0; i < 200 && crowds < 3; i++) {
      const c = renderCanvas(TRAIN, 'train', i, 0, 128);
      for (const o of c.objects.filter((x) => x.crowd)) {
        crowds++;
        expect(o.members.length).toBeGreaterThanOrEqual(4);
        expect(o.members.length).toBeLessThanOrEqual(8);
        expect(new Set(o.members.map((m) => TRAIN.labels[m.item]))).toEqual(new Set([o.label]));
        expect(o.box[2] - o.box[0]).toBeLessThan(64);
        expect(o.box[3] - o.box[1]).toBeLessThan(64);
        expect(o.area).toBeLessThan(32 * 32 * 2);
        checkCanvas('train', i, 0, 128);
      }
    }
    expect(crowds).toBeGreaterThan(0);
  });
});

// ---- the writer ----

const SMALL = { seed: 3, train: 20, val: 5, test: 5, size: 64 };
function make(out: string, extra: Partial<MakeDetectionOptions> = {}) {
  return makeFashionMnistDetection({ ...SMALL, out, source: fm, force: false, ...extra });
}

/** Every file under `dir`: relative path -> sha256 (cheap to compare and to print). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);
    }
  };
  walk(dir);
  return out;
}

interface CocoFile {
  info: { seed: number; version: number; args: Record<string, number> };
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: number }[];
  categories: { id: number; name: string; supercategory: string }[];
}
const readCoco = (dir: string, split: string) => JSON.parse(readFileSync(join(dir, 'annotations', `instances_${split}.json`), 'utf8')) as CocoFile;

describe('makeFashionMnistDetection', () => {
  it('writes a COCO-format set whose files match the rendered canvases', async () => {
    const out = join(tmp, 'a');
    const r = await make(out);
    expect(r.status).toBe('written');
    const ids = new Set<number>();
    const annIds = new Set<number>();
    for (const split of ['train', 'val', 'test'] as const) {
      const j = readCoco(out, split);
      expect(j.info.args).toEqual(SMALL);
      expect(j.categories.map((c) => c.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(j.categories[0]!.name).toBe('T-shirt/top');
      expect(j.categories[9]!.name).toBe('Ankle boot');
      expect(j.images).toHaveLength(SMALL[split]);
      expect(readdirSync(join(out, split)).sort()).toEqual(j.images.map((im) => im.file_name).sort());
      for (const im of j.images) {
        expect(ids.has(im.id)).toBe(false);
        ids.add(im.id);
        expect(im.file_name).toBe(`${String(im.id).padStart(12, '0')}.jpg`);
        expect([im.width, im.height]).toEqual([64, 64]);
      }
      for (const a of j.annotations) {
        expect(annIds.has(a.id)).toBe(false);
        annIds.add(a.id);
        expect(j.images.some((im) => im.id === a.image_id)).toBe(true);
        expect(a.category_id).toBeGreaterThanOrEqual(1);
        expect(a.category_id).toBeLessThanOrEqual(10);
        const [x, y, w, h] = a.bbox as [number, number, number, number];
        expect(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 64 && y + h <= 64).toBe(true);
        expect(a.area).toBeLessThanOrEqual(w * h);
        expect([0, 1]).toContain(a.iscrowd);
      }
      // Image k of the split is canvas k, and its annotations are that canvas's objects, in order.
      const k = 2;
      const c = renderCanvas(sourceOf(split), split, k, SMALL.seed, SMALL.size);
      const im = j.images[k]!;
      const anns = j.annotations.filter((a) => a.image_id === im.id);
      expect(anns.map((a) => [a.category_id, a.bbox, a.area, a.iscrowd])).toEqual(
        c.objects.map((o) => [o.label + 1, [o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]], o.area, o.crowd ? 1 : 0]),
      );
      const { data, info } = await sharp(join(out, split, im.file_name))
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([64, 64, 3]);
      let err = 0;
      for (let p = 0; p < data.length; p++) err += Math.abs(data[p]! - c.rgb[p]!);
      expect(err / data.length).toBeLessThan(3); // JPEG at quality 95 of exactly this canvas
      // The texture is not flat: the background varies by more than JPEG noise.
      expect(Math.max(...c.rgb) - Math.min(...c.rgb)).toBeGreaterThan(60);
    }
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    const [a, b, c] = ['d1', 'd2', 'd3'].map((d) => join(tmp, d));
    await make(a!);
    await make(b!);
    await make(c!, { seed: SMALL.seed + 1 });
    const [sa, sb, sc] = [snapshot(a!), snapshot(b!), snapshot(c!)];
    expect(Object.keys(sa)).toHaveLength(3 + 30);
    expect(sb).toEqual(sa);
    expect(Object.keys(sc).sort()).toEqual(Object.keys(sa).sort());
    expect(Object.keys(sa).filter((k) => sa[k] === sc[k])).toEqual([]);
  });

  it('refuses an existing set made with other arguments, reports one with the same, and replaces it under force', async () => {
    const out = join(tmp, 'f');
    await make(out, { train: 8 });
    const before = snapshot(out);
    const mtime = statSync(join(out, 'annotations', 'instances_train.json')).mtimeMs;
    const err = await make(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(1);
    expect((err as UserError).message).toContain(out);
    expect((err as UserError).message).toMatch(/train 8.*--force/);
    expect(snapshot(out)).toEqual(before);
    const same = await make(out, { train: 8 });
    expect(same.status).toBe('present');
    expect(statSync(join(out, 'annotations', 'instances_train.json')).mtimeMs).toBe(mtime);
    // Forced with more then fewer images: the result is what a fresh run writes, stale images removed.
    await make(out, { force: true });
    await make(out, { force: true, train: 4, seed: 9 });
    const fresh = join(tmp, 'f-fresh');
    await make(fresh, { train: 4, seed: 9 });
    expect(snapshot(out)).toEqual(snapshot(fresh));
  });

  it('leaves no annotation file when killed part-way, even when replacing a complete set', async () => {
    const out = join(tmp, 'k');
    const kill = (at: number) => (done: number) => {
      if (done === at) throw new Error('killed');
    };
    await expect(make(out, { onProgress: kill(7) })).rejects.toThrow('killed');
    expect(readdirSync(out)).not.toContain('annotations');
    await make(out);
    await expect(make(out, { seed: 4, force: true, onProgress: kill(25) })).rejects.toThrow('killed');
    expect(readdirSync(join(out, 'annotations'))).toEqual([]);
    // A later run finishes the job, whatever the killed ones left.
    await make(out);
    expect(snapshot(out)).toEqual(snapshot(join(tmp, 'a')));
  });
});
