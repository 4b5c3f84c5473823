/**
 * The COCO annotation reader (src/data/coco/annotations.ts) and its index cache (index-cache.ts): the streamed index
 * against JSON.parse of the same file through a straightforward reference conversion written here; malformed entries
 * counted under 'skip' and a DataError naming the file and the annotation id under 'error'; crowd regions in the
 * ground truth; the cache hit, its invalidation and a damaged cache.
 */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CocoIndexData, readCocoAnnotations } from '../../src/data/coco/annotations.js';
import { loadCocoIndex } from '../../src/data/coco/index-cache.js';
import type { CocoGroundTruth } from '../../src/detection/coco-eval.js';
import { DataError, ExitCode } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

/** A small file with what a real one has besides the fields read: licenses, urls, polygons, RLE, escapes, exponents. */
const SMALL = String.raw`{
 "info": {"description": "t\u00e9st", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3], "nested": {"a": [1, {"b": null}]}},
 "licenses": [{"id": 1, "name": "x", "url": "u"}],
 "images": [
   {"id": 3, "file_name": "b\u00e9.jpg", "width": 100, "height": 50, "license": 1},
   {"id": 1, "file_name": "a.jpg", "width": 60, "height": 90, "coco_url": "http://x/a.jpg"},
   {"id": 7, "file_name": "empty.jpg", "width": 80, "height": 80}
 ],
 "annotations": [
   {"id": 10, "image_id": 1, "category_id": 18, "bbox": [1.5, 2.25, 10, 20], "area": 150.5, "iscrowd": 0, "segmentation": [[1, 2, 3, 4, 5, 6]]},
   {"id": 11, "image_id": 3, "category_id": 1, "bbox": [90, 40, 20, 20], "area": 100, "iscrowd": 0, "segmentation": [[90, 40, 100, 40, 100, 50]]},
   {"id": 12, "image_id": 3, "category_id": 1, "bbox": [0, 0, 50, 25], "area": 1e3, "iscrowd": 1, "segmentation": {"counts": [5, 10, 1.5e2], "size": [50, 100]}},
   {"segmentation": [[0, 0]], "id": 13, "image_id": 1, "category_id": 5, "bbox": [-5, -5, 20, 30], "iscrowd": 0},
   {"id": 900100000001, "image_id": 3, "category_id": 18, "bbox": [1e1, 2E0, 3.5e0, 4], "area": 14, "iscrowd": 0}
 ],
 "categories": [{"id": 18, "name": "dog", "supercategory": "animal"}, {"id": 1, "name": "person"}, {"id": 5, "name": "air\"plane"}]
}`;

interface JsonFile {
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: { id: number; image_id: number; category_id: number; bbox: number[]; area?: number; iscrowd: number }[];
  categories: { id: number; name: string }[];
}

/** The index the reader should give, from JSON.parse, for files without malformed entries. */
function reference(j: JsonFile) {
  const cats = [...j.categories].sort((a, b) => a.id - b.id);
  const boxes: number[] = [];
  const labels: number[] = [];
  const annIds: number[] = [];
  const annStart = [0];
  for (const im of j.images) {
    for (const a of j.annotations.filter((x) => x.image_id === im.id)) {
      const [x, y, w, h] = a.bbox as [number, number, number, number];
      const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
      const f = Math.fround;
      boxes.push(clamp(f(x), im.width), clamp(f(y), im.height), clamp(f(f(x) + f(w)), im.width), clamp(f(f(y) + f(h)), im.height));
      labels.push(cats.findIndex((c) => c.id === a.category_id));
      annIds.push(a.id);
    }
    annStart.push(annIds.length);
  }
  const gt: CocoGroundTruth = {
    images: j.images.map((im) => ({ id: im.id, width: im.width, height: im.height })),
    annotations: j.images.flatMap((im) =>
      j.annotations
        .filter((a) => a.image_id === im.id)
        .map((a) => ({
          id: a.id,
          image_id: a.image_id,
          category_id: a.category_id,
          bbox: a.bbox as [number, number, number, number],
          area: a.area ?? a.bbox[2]! * a.bbox[3]!,
          iscrowd: a.iscrowd ? 1 : 0,
        })),
    ),
    categories: cats.map((c) => ({ id: c.id, name: c.name })),
  };
  return { boxes, labels, annIds, annStart, gt, cats };
}

function expectMatches(data: CocoIndexData, j: JsonFile): void {
  const ref = reference(j);
  expect(Array.from(data.imageIds)).toEqual(j.images.map((im) => im.id));
  expect(data.fileNames).toEqual(j.images.map((im) => im.file_name));
  expect(Array.from(data.widths)).toEqual(j.images.map((im) => im.width));
  expect(Array.from(data.heights)).toEqual(j.images.map((im) => im.height));
  expect(Array.from(data.annStart)).toEqual(ref.annStart);
  expect(Array.from(data.annIds)).toEqual(ref.annIds);
  expect(Array.from(data.boxes)).toEqual(ref.boxes);
  expect(Array.from(data.labels)).toEqual(ref.labels);
  expect(data.categories).toEqual(ref.cats.map((c) => ({ id: c.id, name: c.name })));
}

let dir: string;
beforeAll(() => {
  dir = makeTmpDir('pwlu-coco-ann-');
});
afterAll(() => removeDir(dir));

/** Writes a file and dates it 10 s back, so the cache treats it as settled. */
function writeSettled(path: string, text: string): void {
  writeFileSync(path, text);
  const past = new Date(Date.now() - 10_000);
  utimesSync(path, past, past);
}

describe('streaming annotation reader', () => {
  it('gives the index JSON.parse gives, on a small file with escapes, exponents, RLE and unread fields', async () => {
    const file = join(dir, 'small.json');
    writeFileSync(file, SMALL);
    const index = await readCocoAnnotations(file);
    const j = JSON.parse(SMALL) as JsonFile;
    expectMatches(index.data, j);
    // Hand-checked: ann 11's box is clipped to the 100x50 image; ann 13 (no area) to the 60x90 one.
    expect(Array.from(index.data.boxes.subarray(0, 4))).toEqual([90, 40, 100, 50]);
    expect(Array.from(index.data.boxes.subarray(16, 20))).toEqual([0, 0, 15, 25]);
    expect(index.data.fileNames[0]).toBe('bé.jpg');
    expect(index.categories.map((c) => c.name)).toEqual(['person', 'air"plane', 'dog']);
    expect(index.data.mean).toEqual([0.5, 0.4, 0.3]);
    expect(index.data.std).toEqual([0.2, 0.25, 0.3]);
    expect(index.data.skippedAnnotations).toBe(0);
    // The evaluator's ground truth: the file's bbox and area (w * h where absent), crowd included.
    const gt = index.groundTruth();
    expect(gt).toEqual(reference(j).gt);
    expect(gt.annotations.find((a) => a.id === 12)).toMatchObject({ iscrowd: 1, area: 1000, bbox: [0, 0, 50, 25] });
    expect(gt.annotations.find((a) => a.id === 13)!.area).toBe(600);
    // A subset, in the order asked.
    expect(index.groundTruth([7, 1]).images.map((im) => im.id)).toEqual([7, 1]);
    expect(index.groundTruth([7, 1]).annotations.map((a) => a.id)).toEqual([10, 13]);
  });

  it('gives the JSON.parse index on a multi-megabyte file (tokens across read chunks)', async () => {
    const rng = new Rng(5);
    const images = Array.from({ length: 300 }, (_, i) => ({ id: 1000 + i, file_name: `${i}.jpg`, width: 200 + (i % 7), height: 150 + (i % 5) }));
    const annotations = Array.from({ length: 1000 }, (_, k) => {
      const im = images[rng.int(images.length)]!;
      const x = Math.round(rng.uniform() * 150 * 100) / 100;
      const y = Math.round(rng.uniform() * 100 * 100) / 100;
      const seg = [Array.from({ length: 300 }, () => Math.round(rng.uniform() * 20000) / 100)];
      return {
        segmentation: seg,
        area: rng.uniform() * 500,
        iscrowd: k % 11 === 0 ? 1 : 0,
        image_id: im.id,
        bbox: [x, y, 1 + rng.uniform() * 40, 1 + rng.uniform() * 40],
        category_id: 1 + rng.int(4),
        id: k + 1,
      };
    });
    const j = { info: {}, images, annotations, categories: [4, 3, 2, 1].map((id) => ({ id, name: `c${id}` })) };
    const text = JSON.stringify(j);
    expect(text.length).toBeGreaterThan(1_500_000); // more than one 1 MiB read
    const file = join(dir, 'big.json');
    writeFileSync(file, text);
    const index = await readCocoAnnotations(file);
    expectMatches(index.data, j);
    expect(index.groundTruth()).toEqual(reference(j).gt);
    expect(index.data.mean).toBeNull();
  });

  it('rejects a file that is not JSON, or not a COCO file, naming it', async () => {
    const truncated = join(dir, 'truncated.json');
    writeFileSync(truncated, SMALL.slice(0, 300));
    await expect(readCocoAnnotations(truncated)).rejects.toThrow(DataError);
    await expect(readCocoAnnotations(truncated)).rejects.toThrow(truncated);
    const noImages = join(dir, 'no-images.json');
    writeFileSync(noImages, '{"annotations": [], "categories": []}');
    await expect(readCocoAnnotations(noImages)).rejects.toThrow(/no "images" array/);
  });
});

/** One good annotation, then one of each malformed kind, then one good again. */
const MALFORMED = JSON.stringify({
  images: [
    { id: 1, file_name: 'a.jpg', width: 100, height: 50 },
    { id: 2, width: 10, height: 10 },
  ],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 5, 5], area: 25, iscrowd: 0 },
    { id: 2, image_id: 1, category_id: 1, bbox: [1, 1, 'x', 5], area: 25, iscrowd: 0 },
    { id: 3, image_id: 1, category_id: 1, bbox: [1, 1, 5], area: 25, iscrowd: 0 },
    { id: 4, image_id: 1, category_id: 1, bbox: [1, 1, 0, 5], area: 0, iscrowd: 0 },
    { id: 5, image_id: 1, category_id: 1, bbox: [200, 1, 5, 5], area: 25, iscrowd: 0 },
    { id: 6, image_id: 1, category_id: 99, bbox: [1, 1, 5, 5], area: 25, iscrowd: 0 },
    { id: 7, image_id: 42, category_id: 1, bbox: [1, 1, 5, 5], area: 25, iscrowd: 0 },
    { image_id: 1, category_id: 1, bbox: [1, 1, 5, 5], area: 25, iscrowd: 0 },
    { id: 9, image_id: 1, category_id: 1, bbox: [1, 1, 5, 5], area: 'big', iscrowd: 0 },
    { id: 10, image_id: 2, category_id: 1, bbox: [1, 1, 5, 5], area: 25, iscrowd: 0 },
    { id: 11, image_id: 1, category_id: 1, bbox: [2, 2, 5, 5], area: 25, iscrowd: 1 },
  ],
  categories: [{ id: 1, name: 'thing' }],
});

describe('malformed entries', () => {
  it("are skipped and counted under 'skip', with a log line", async () => {
    const file = join(dir, 'malformed.json');
    writeFileSync(file, MALFORMED);
    const logs: string[] = [];
    const index = await readCocoAnnotations(file, { onBad: 'skip', log: (m) => logs.push(m) });
    // Kept: 1 and 11 (a crowd region). Skipped: 2-10 (9 annotations; 10's image has no file_name) and image 2.
    expect(Array.from(index.data.annIds)).toEqual([1, 11]);
    expect(index.data.skippedAnnotations).toBe(9);
    expect(index.data.skippedImages).toBe(1);
    expect(index.numImages).toBe(1);
    expect(index.data.firstBad[0]).toMatchObject({ what: 'image', id: 2 });
    expect(index.data.firstBad.filter((b) => b.what === 'annotation').map((b) => b.id)).toEqual([2, 3, 4, 5, 6, 7, null, 9, 10]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain('skipped 9 annotations and 1 image entry');
  });

  it("are a DataError (exit 2) naming the file and the first bad id under 'error'", async () => {
    const file = join(dir, 'malformed-annotation.json');
    // Only an annotation is bad here: the message names it.
    const j = JSON.parse(MALFORMED) as JsonFile;
    j.images = j.images.slice(0, 1);
    j.annotations = j.annotations.filter((a) => a.id === 1 || a.id === 6);
    writeFileSync(file, JSON.stringify(j));
    const err = await readCocoAnnotations(file, { onBad: 'error' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).exitCode).toBe(ExitCode.data);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('annotation id 6');
    expect((err as Error).message).toContain('category_id 99');
  });
});

describe('index cache', () => {
  it('is written once the file is settled, read back identical, and dropped when the file changes or is damaged', async () => {
    const file = join(dir, 'cached.json');
    writeSettled(file, SMALL);
    const cachePath = join(dir, 'cache', 'x.pwlu-index');
    const first = await loadCocoIndex(file, { cache: [cachePath] });
    expect(first.fromCache).toBeNull();
    expect(first.wroteCache).toBe(cachePath);
    const second = await loadCocoIndex(file, { cache: [cachePath] });
    expect(second.fromCache).toBe(cachePath);
    expect(second.index.data).toEqual(first.index.data);
    expect(second.index.groundTruth()).toEqual(first.index.groundTruth());

    // A changed file (other size and mtime) misses the cache.
    const changed = SMALL.replace('"width": 100', '"width": 101');
    writeSettled(file, changed);
    const third = await loadCocoIndex(file, { cache: [cachePath] });
    expect(third.fromCache).toBeNull();
    expect(third.index.data.widths[0]).toBe(101);

    // A damaged cache is ignored (and rewritten).
    const bytes = readFileSync(cachePath);
    writeFileSync(cachePath, bytes.subarray(0, bytes.length - 9));
    const fourth = await loadCocoIndex(file, { cache: [cachePath] });
    expect(fourth.fromCache).toBeNull();
    expect(fourth.wroteCache).toBe(cachePath);
  });

  it('is not written for a file modified just now; the bad-entry policy applies to a cached index too', async () => {
    const fresh = join(dir, 'fresh.json');
    writeFileSync(fresh, SMALL);
    expect((await loadCocoIndex(fresh, { cache: [join(dir, 'cache', 'fresh.pwlu-index')] })).wroteCache).toBeNull();

    const file = join(dir, 'cached-malformed.json');
    writeSettled(file, MALFORMED);
    const cachePath = join(dir, 'cache', 'm.pwlu-index');
    expect((await loadCocoIndex(file, { cache: [cachePath], onBad: 'skip' })).wroteCache).toBe(cachePath);
    await expect(loadCocoIndex(file, { cache: [cachePath], onBad: 'error' })).rejects.toThrow(/image id 2/);
    expect((await loadCocoIndex(file, { cache: [cachePath], onBad: 'skip' })).fromCache).toBe(cachePath);
  });
});
