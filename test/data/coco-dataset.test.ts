/**
 * Detection batches (src/data/coco/dataset.ts) on a tiny COCO-layout folder written here: JPEGs encoded with sharp at
 * several sizes and aspect ratios (one with a bright marker inside its box), a crowd region, an image without
 * annotations, a truncated JPEG, and a split with a malformed annotation. Expected sizes and boxes are hand-computed
 * (see test/data/coco-transforms.test.ts for the float32 arithmetic); pixels are checked where the marker lands.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DetectionBatch,
  type DetectionBatchOptions,
  type DetectionDataset,
  type DetectionSplit,
  IMAGENET_MEAN,
  openDetectionDataset,
  type OpenDetectionOptions,
} from '../../src/data/coco/dataset.js';
import { SharpDecoder } from '../../src/data/stream/sharp-decoder.js';
import { DataError, ExitCode } from '../../src/util/errors.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

interface Img {
  id: number;
  file: string;
  width: number;
  height: number;
  /** [x, y, w, h, category, crowd] */
  anns: [number, number, number, number, number, 0 | 1][];
}

const BG = 30;
/** The marker of wide.jpg: a white 8x8 block at x 12..19, y 20..27, inside its box [10, 18, 12, 12]. */
const MARKER = { x: 12, y: 20, size: 8 };

const TRAIN: Img[] = [
  {
    id: 11,
    file: 'wide.jpg',
    width: 100,
    height: 50,
    anns: [
      [10, 18, 12, 12, 1, 0],
      [60, 10, 30, 30, 2, 1],
    ],
  },
  {
    id: 12,
    file: 'tall.jpg',
    width: 40,
    height: 90,
    anns: [
      [5, 5, 10, 20, 2, 0],
      [20, 50, 15, 30, 1, 0],
    ],
  },
  { id: 13, file: 'square.jpg', width: 80, height: 80, anns: [[10, 10, 40, 40, 1, 0]] },
  { id: 14, file: 'small.jpg', width: 30, height: 20, anns: [[1, 1, 10, 10, 2, 0]] },
  {
    id: 15,
    file: 'big.jpg',
    width: 150,
    height: 120,
    anns: [
      [0, 0, 50, 50, 1, 0],
      [60, 60, 80, 50, 2, 0],
      [100, 5, 20, 20, 1, 0],
    ],
  },
  { id: 16, file: 'empty.jpg', width: 64, height: 48, anns: [] },
  { id: 17, file: 'corrupt.jpg', width: 50, height: 40, anns: [[1, 1, 10, 10, 1, 0]] },
  { id: 18, file: 'other.jpg', width: 70, height: 60, anns: [[30, 20, 20, 20, 2, 0]] },
];
const TEST: Img[] = [TRAIN[0]!, TRAIN[2]!, TRAIN[4]!];
const CATEGORIES = [
  { id: 2, name: 'two' },
  { id: 1, name: 'one' },
];

async function jpegOf(img: Img): Promise<Buffer> {
  const { width: w, height: h } = img;
  const px = Buffer.alloc(w * h * 3, BG);
  // A gradient so images differ and resampling has something to do.
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[(y * w + x) * 3 + 1] = (BG + x + 2 * y + img.id) % 120;
  if (img.file === 'wide.jpg') {
    for (let y = MARKER.y; y < MARKER.y + MARKER.size; y++)
      for (let x = MARKER.x; x < MARKER.x + MARKER.size; x++) px.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
  }
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

function annotationJson(images: Img[], extra: Record<string, unknown> = {}): string {
  let annId = 100;
  return JSON.stringify({
    ...extra,
    images: images.map((im) => ({ id: im.id, file_name: im.file, width: im.width, height: im.height })),
    annotations: images.flatMap((im) =>
      im.anns.map(([x, y, w, h, c, crowd]) => ({
        id: annId++,
        image_id: im.id,
        category_id: c,
        bbox: [x, y, w, h],
        area: w * h,
        iscrowd: crowd,
        segmentation: [[x, y, x + w, y, x + w, y + h]],
      })),
    ),
    categories: CATEGORIES,
  });
}

let dir: string;
beforeAll(async () => {
  dir = makeTmpDir('pwlu-coco-ds-');
  mkdirSync(join(dir, 'annotations'));
  for (const split of ['train', 'test', 'badann', 'mismatch']) mkdirSync(join(dir, split));
  for (const img of TRAIN) {
    const bytes = await jpegOf(img);
    // The corrupt one: a JPEG cut in the middle of its scan (its header, and so its size, still reads).
    writeFileSync(join(dir, 'train', img.file), img.file === 'corrupt.jpg' ? bytes.subarray(0, Math.floor(bytes.length * 0.6)) : bytes);
    if (TEST.includes(img)) writeFileSync(join(dir, 'test', img.file), bytes);
  }
  writeFileSync(join(dir, 'annotations', 'instances_train.json'), annotationJson(TRAIN));
  writeFileSync(join(dir, 'annotations', 'instances_test.json'), annotationJson(TEST, { info: { mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5] } }));
  // A split whose second annotation names a category the file does not have.
  writeFileSync(join(dir, 'badann', 'wide.jpg'), readFileSync(join(dir, 'train', 'wide.jpg')));
  const bad = JSON.parse(annotationJson([TRAIN[0]!])) as { annotations: { category_id: number; id: number }[] };
  bad.annotations[1]!.category_id = 77;
  writeFileSync(join(dir, 'annotations', 'instances_badann.json'), JSON.stringify(bad));
  // A split whose file says wide.jpg is 50x100 (it is 100x50): its boxes would land elsewhere, so the image is bad.
  writeFileSync(join(dir, 'mismatch', 'wide.jpg'), readFileSync(join(dir, 'train', 'wide.jpg')));
  writeFileSync(join(dir, 'mismatch', 'square.jpg'), readFileSync(join(dir, 'train', 'square.jpg')));
  const swapped = { ...TRAIN[0]!, width: 50, height: 100, anns: [] };
  writeFileSync(join(dir, 'annotations', 'instances_mismatch.json'), annotationJson([swapped, TRAIN[2]!]));
});
afterAll(() => removeDir(dir));

function options(over: Partial<OpenDetectionOptions> = {}): OpenDetectionOptions {
  return {
    dir,
    splits: { train: 'train', val: null, test: 'test' },
    valSplit: 0,
    seed: 3,
    minSize: 64,
    maxSize: 100,
    padTo: 128,
    flip: 0.5,
    onBadImage: 'skip',
    workers: 1,
    prefetch: 2,
    threads: 1,
    name: 'tiny-coco',
    cache: false,
    ...over,
  };
}

const ORDERED: DetectionBatchOptions = { batchSize: 8, seed: 3, epoch: 0, shuffle: false, train: false, dropLast: false };

async function collect(split: DetectionSplit, o: DetectionBatchOptions): Promise<DetectionBatch[]> {
  const out: DetectionBatch[] = [];
  for await (const b of split.batches(o)) out.push(b);
  return out;
}

/** The batch image with this file name: its slot and info. */
function find(batches: DetectionBatch[], file: string) {
  for (const b of batches) {
    const k = b.images.findIndex((im) => im.file.endsWith(`/${file}`));
    if (k >= 0) return { batch: b, k, info: b.images[k]!, target: b.targets[k]! };
  }
  throw new Error(`${file} not in the batches`);
}

/** Red channel (normalised) of pixel (y, x) of slot k. */
function red(b: DetectionBatch, k: number, y: number, x: number): number {
  return b.x[((k * b.height + y) * b.width + x) * 3]!;
}

/** Position of the brightest red pixel of slot k within its resized image (the marker's centre area). */
function brightest(b: DetectionBatch, k: number): { x: number; y: number } {
  const { height, width } = b.images[k]!;
  let best = { x: -1, y: -1, v: -Infinity };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (red(b, k, y, x) > best.v) best = { x, y, v: red(b, k, y, x) };
  return best;
}

describe('COCO detection dataset', () => {
  let ds: DetectionDataset;
  beforeAll(async () => {
    ds = await openDetectionDataset(options());
  });

  it('reads the splits, labels categories by sorted id, and normalises with ImageNet unless the file says otherwise', async () => {
    expect(ds.train.n).toBe(8);
    expect(ds.test.n).toBe(3);
    expect(ds.val).toBeNull();
    expect(ds.numClasses).toBe(2);
    expect(ds.categoryIds).toEqual([1, 2]);
    expect(ds.classNames).toEqual(['one', 'two']);
    expect(ds.mean).toEqual([...IMAGENET_MEAN]);
    const own = await openDetectionDataset(options({ splits: { train: 'test', val: null, test: 'test' } }));
    expect(own.mean).toEqual([0.1, 0.2, 0.3]);
    expect(own.std).toEqual([0.5, 0.5, 0.5]);
  });

  it('boxes move with the image through the resize: 100x50 at min 64 / max 100 is unchanged, at max 200 is 127x63', async () => {
    const same = find(await collect(ds.train, ORDERED), 'wide.jpg');
    expect(same.info).toMatchObject({ id: 11, height: 50, width: 100, origHeight: 50, origWidth: 100, scale: [1, 1], flipped: false });
    // Crowd region excluded: one box, [10, 18, 10 + 12, 18 + 12], label of category 1 = 0.
    expect(Array.from(same.target.boxes)).toEqual([10, 18, 22, 30]);
    expect(Array.from(same.target.labels)).toEqual([0]);
    const m0 = brightest(same.batch, same.k);
    expect(m0.x).toBeGreaterThanOrEqual(MARKER.x);
    expect(m0.x).toBeLessThan(MARKER.x + MARKER.size);

    const larger = await openDetectionDataset(options({ maxSize: 200 }));
    const big = find(await collect(larger.train, ORDERED), 'wide.jpg');
    expect(big.info).toMatchObject({ height: 63, width: 127 });
    // Ratios 63/50 = 1.26 (y) and 127/100 = 1.27 (x): [12.7, 22.68, 27.94, 37.8].
    const want = [12.7, 22.68, 27.94, 37.8];
    Array.from(big.target.boxes).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 4));
    const m1 = brightest(big.batch, big.k);
    // The marker (x 12..19 -> 15.2..25.4, y 20..27 -> 25.2..35.3) lies inside the resized box.
    expect(m1.x).toBeGreaterThanOrEqual(want[0]!);
    expect(m1.x).toBeLessThan(want[2]!);
    expect(m1.y).toBeGreaterThanOrEqual(want[1]!);
    expect(m1.y).toBeLessThan(want[3]!);
  });

  it('flip: the left box ends on the right with its width, and the marker pixels move into it', async () => {
    const flipping = await openDetectionDataset(options({ flip: 1 }));
    const plain = find(await collect(ds.train, ORDERED), 'wide.jpg');
    const flipped = find(await collect(flipping.train, { ...ORDERED, train: true }), 'wide.jpg');
    expect(flipped.info.flipped).toBe(true);
    // x1' = 100 - 22, x2' = 100 - 10.
    expect(Array.from(flipped.target.boxes)).toEqual([78, 18, 90, 30]);
    const m = brightest(flipped.batch, flipped.k);
    expect(m.x).toBeGreaterThanOrEqual(78);
    expect(m.x).toBeLessThan(90);
    // At scale 1 the pixels are exactly mirrored.
    for (const y of [0, 19, 24, 49]) {
      for (const x of [0, 13, 50, 99]) expect(red(flipped.batch, flipped.k, y, 99 - x)).toBe(red(plain.batch, plain.k, y, x));
    }
    // Evaluation never flips.
    expect(find(await collect(flipping.train, ORDERED), 'wide.jpg').info.flipped).toBe(false);
  });

  it('pads each batch to a multiple of 128 with zeros after normalisation', async () => {
    const batches = await collect(ds.train, { ...ORDERED, batchSize: 2 });
    const first = batches[0]!; // wide (100x50) and tall (40x90 -> 44x100)
    expect(first.images.map((im) => [im.height, im.width])).toEqual([
      [50, 100],
      [100, 44],
    ]);
    expect([first.height, first.width]).toEqual([128, 128]);
    expect(first.x.length).toBe(2 * 128 * 128 * 3);
    const slot = (k: number, y: number, x: number) => first.x.subarray(((k * 128 + y) * 128 + x) * 3, ((k * 128 + y) * 128 + x) * 3 + 3);
    expect(Array.from(slot(0, 50, 0))).toEqual([0, 0, 0]);
    expect(Array.from(slot(0, 0, 100))).toEqual([0, 0, 0]);
    expect(Array.from(slot(1, 99, 44))).toEqual([0, 0, 0]);
    expect(Array.from(slot(1, 127, 127))).toEqual([0, 0, 0]);
    // Inside an image the background (30/255) is normalised: (30/255 - 0.485) / 0.229 = -1.60, to a JPEG level or two.
    expect(slot(0, 2, 60)[0]).toBeCloseTo((30 / 255 - 0.485) / 0.229, 1);
    // Every padded size is a multiple of 128 and covers its images.
    for (const b of batches) {
      expect(b.height % 128).toBe(0);
      expect(b.width % 128).toBe(0);
      for (const im of b.images) expect(im.height <= b.height && im.width <= b.width).toBe(true);
    }
  });

  it('keeps crowd regions out of the targets but in groundTruth(), and keeps images without annotations', async () => {
    const batches = await collect(ds.train, ORDERED);
    expect(find(batches, 'empty.jpg').target.boxes.length).toBe(0);
    const gt = ds.train.groundTruth();
    expect(gt.images.map((im) => im.id)).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    const crowd = gt.annotations.filter((a) => a.iscrowd === 1);
    expect(crowd).toEqual([{ id: 101, image_id: 11, category_id: 2, bbox: [60, 10, 30, 30], area: 900, iscrowd: 1 }]);
    const nonCrowd = TRAIN.filter((im) => im.file !== 'corrupt.jpg').reduce((s, im) => s + im.anns.filter((a) => a[5] === 0).length, 0);
    expect(batches.reduce((s, b) => s + b.targets.reduce((t, x) => t + x.labels.length, 0), 0)).toBe(nonCrowd);
    expect(ds.test.groundTruth().images.map((im) => im.id)).toEqual([11, 13, 15]);
  });

  it('skips and counts the corrupt JPEG, and names it in a DataError under on_bad_image error', async () => {
    const warnings: string[] = [];
    const logged = await openDetectionDataset(options({ log: (m) => warnings.push(m) }));
    const stream = logged.train.batches({ ...ORDERED, batchSize: 3 });
    const batches: DetectionBatch[] = [];
    for await (const b of stream) batches.push(b);
    expect(stream.stats.skipped).toBe(1);
    expect(stream.stats.decoded).toBe(7);
    expect(batches.map((b) => b.skipped)).toEqual([0, 0, 1]);
    expect(batches.flatMap((b) => b.images.map((im) => im.id))).toEqual([11, 12, 13, 14, 15, 16, 18]);
    expect(warnings.some((w) => w.startsWith('skipping') && w.includes('corrupt.jpg'))).toBe(true);

    const strict = await openDetectionDataset(options({ onBadImage: 'error' }));
    const err = await collect(strict.train, ORDERED).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).exitCode).toBe(ExitCode.data);
    expect((err as Error).message).toContain(join(dir, 'train', 'corrupt.jpg'));
  });

  it('counts a malformed annotation under skip, and names the file and annotation under error', async () => {
    const logs: string[] = [];
    const lenient = await openDetectionDataset(options({ splits: { train: 'badann', val: null, test: 'badann' }, log: (m) => logs.push(m) }));
    expect(lenient.train.groundTruth().annotations.map((a) => a.id)).toEqual([100]);
    expect(logs.some((m) => m.includes('skipped 1 annotation'))).toBe(true);
    const err = await openDetectionDataset(options({ splits: { train: 'badann', val: null, test: 'badann' }, onBadImage: 'error' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain(join(dir, 'annotations', 'instances_badann.json'));
    expect((err as Error).message).toContain('annotation id 101');
  });

  it('skips an image whose size is not the one its annotation file gives', async () => {
    const warnings: string[] = [];
    const mm = await openDetectionDataset(options({ splits: { train: 'mismatch', val: null, test: 'mismatch' }, log: (m) => warnings.push(m) }));
    const batches = await collect(mm.train, ORDERED);
    expect(batches.flatMap((b) => b.images.map((im) => im.id))).toEqual([13]);
    expect(batches[0]!.skipped).toBe(1);
    expect(warnings.some((w) => w.includes('wide.jpg') && w.includes('the image is 100x50') && w.includes('says 50x100'))).toBe(true);
  });

  it('holds out a seeded validation share of train when there is no val split', async () => {
    const held = await openDetectionDataset(options({ valSplit: 0.25 }));
    expect(held.val!.n).toBe(2);
    expect(held.train.n).toBe(6);
    const ids = [...held.train.imageIds(), ...held.val!.imageIds()].sort();
    expect(ids).toEqual([11, 12, 13, 14, 15, 16, 17, 18]);
    expect(held.val!.groundTruth().images.map((im) => im.id)).toEqual(held.val!.imageIds());
    const again = await openDetectionDataset(options({ valSplit: 0.25 }));
    expect(again.val!.imageIds()).toEqual(held.val!.imageIds());
  });
});

/** What a batch holds, comparable with toEqual. */
function digest(batches: DetectionBatch[]) {
  return batches.map((b) => ({
    index: b.index,
    size: b.size,
    skipped: b.skipped,
    hw: [b.height, b.width],
    x: Buffer.from(b.x.buffer, b.x.byteOffset, b.x.byteLength).toString('base64'),
    boxes: b.targets.map((t) => Array.from(t.boxes)),
    labels: b.targets.map((t) => Array.from(t.labels)),
    images: b.images,
  }));
}

describe('determinism', () => {
  const TRAINING: DetectionBatchOptions = { batchSize: 3, seed: 9, epoch: 4, shuffle: true, train: true, dropLast: false };

  it('the same (seed, epoch) gives identical batches with 1 and 2 workers and across calls; another epoch another order', async () => {
    const one = await openDetectionDataset(options({ workers: 1, prefetch: 1 }));
    const two = await openDetectionDataset(options({ workers: 2, prefetch: 3 }));
    const a = digest(await collect(one.train, TRAINING));
    const b = digest(await collect(two.train, TRAINING));
    const c = digest(await collect(one.train, TRAINING));
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    // Some images flipped, some not (flip 0.5), decided per image.
    const flips = a.flatMap((x) => x.images.map((im) => im.flipped));
    expect(flips).toContain(true);
    expect(flips).toContain(false);
    const other = digest(await collect(one.train, { ...TRAINING, epoch: 5 }));
    expect(other.flatMap((x) => x.images.map((im) => im.id))).not.toEqual(a.flatMap((x) => x.images.map((im) => im.id)));
  });

  it('the sharp decoder is as deterministic (concurrency 1 and 3)', async () => {
    const s1 = await openDetectionDataset(options({ decoders: [new SharpDecoder({ concurrency: 1 })] }));
    const s3 = await openDetectionDataset(options({ decoders: [new SharpDecoder({ concurrency: 3 })] }));
    expect(digest(await collect(s3.train, TRAINING))).toEqual(digest(await collect(s1.train, TRAINING)));
  });

  it('startBatch resumes at the same batch', async () => {
    const ds = await openDetectionDataset(options());
    const all = digest(await collect(ds.train, TRAINING));
    const resumed = digest(await collect(ds.train, { ...TRAINING, startBatch: 1 }));
    expect(resumed).toEqual(all.slice(1));
    expect(await collect(ds.train, { ...TRAINING, startBatch: 3 })).toEqual([]);
  });

  it('ranks take DistributedSampler strides: rank r, batch b holds positions (b*B + j)*W + r of the order', async () => {
    const ds = await openDetectionDataset(options());
    const whole = (await collect(ds.train, { ...TRAINING, batchSize: 8, train: false })).flatMap((b) => b.images.map((im) => im.id));
    // The corrupt image (id 17) is skipped: compare the order with it removed.
    for (const rank of [0, 1]) {
      const mine = (await collect(ds.train, { ...TRAINING, batchSize: 2, train: false, shard: { rank, worldSize: 2, pad: true } })).flatMap((b) =>
        b.images.map((im) => im.id),
      );
      const order = await orderOf(ds.train);
      const expected = [0, 1, 2, 3].map((j) => order[j * 2 + rank]!).filter((id) => id !== 17);
      expect(mine).toEqual(expected);
    }
    expect(whole).toEqual((await orderOf(ds.train)).filter((id) => id !== 17));
  });
});

/** The epoch order of TRAINING's (seed, epoch) as image ids, read off the unsharded eval stream of the corrupt-free ids plus where 17 sits. */
async function orderOf(split: DetectionSplit): Promise<number[]> {
  const { epochPermutation } = await import('../../src/data/batches.js');
  const ids = split.imageIds();
  return Array.from(epochPermutation(ids.length, 9, 4, true), (i) => ids[i]!);
}
