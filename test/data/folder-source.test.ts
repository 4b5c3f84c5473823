import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataSchema } from '../../src/config/schema.js';
import { epochPermutation } from '../../src/data/batches.js';
import { scanImageFolder } from '../../src/data/imagefolder.js';
import { selectIndices } from '../../src/data/load.js';
import type { BadSample, EncodedSample, SampleSource } from '../../src/data/stream/contract.js';
import { FOLDER_INDEX_FILE, scanImageFolderCached } from '../../src/data/stream/folder-index.js';
import { FolderSource, openFolderSources } from '../../src/data/stream/folder-source.js';
import { expectDataError, writeImageFolder, writeImages } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let dir: string;
let project: string;
beforeEach(() => {
  dir = makeTmpDir('pwlu-folder-');
  project = makeTmpDir('pwlu-project-');
});
afterEach(() => {
  removeDir(dir);
  removeDir(project);
});

async function collect(src: SampleSource, order: { seed: number; epoch: number; shuffle: boolean; start: number }): Promise<(EncodedSample | BadSample)[]> {
  const out: (EncodedSample | BadSample)[] = [];
  for await (const s of src.samples(order)) out.push(s);
  return out;
}

/** Sets every folder's mtime an hour back, as for a folder that was not just written. */
function age(root: string, dirs: string[]): void {
  const past = new Date(Date.now() - 3600_000);
  for (const d of dirs) utimesSync(join(root, d), past, past);
}
const ALL_DIRS = ['train', 'train/cat', 'train/dog', 'train/emu', 'val', 'val/cat', 'val/dog', 'val/emu'];

describe('image-folder index cache', () => {
  it('is written once the folder is settled, reused while unchanged, and invalidated when a class folder changes', async () => {
    await writeImageFolder(dir, { perClass: 3, valPerClass: 1 });
    const fresh = await scanImageFolderCached(dir, { projectRoot: project });
    expect(fresh.fromCache).toBe(false);
    expect(existsSync(join(dir, FOLDER_INDEX_FILE))).toBe(false); // just written: too recent to trust its mtimes

    age(dir, ALL_DIRS);
    const first = await scanImageFolderCached(dir, { projectRoot: project });
    expect(first.fromCache).toBe(false);
    expect(existsSync(join(dir, FOLDER_INDEX_FILE))).toBe(true);
    const again = await scanImageFolderCached(dir, { projectRoot: project });
    expect(again.fromCache).toBe(true);
    const { fromCache: _a, ...cached } = again;
    const { fromCache: _b, ...scanned } = first;
    expect(cached).toEqual(scanned);
    expect(cached).toEqual(await scanImageFolder(dir));

    await writeImages(dir, [{ path: 'train/dog/new.png', width: 8, height: 8, colour: [1, 2, 3], format: 'png' }]);
    const changed = await scanImageFolderCached(dir, { projectRoot: project });
    expect(changed.fromCache).toBe(false);
    expect(changed.train.files).toContain(join(dir, 'train', 'dog', 'new.png'));
    expect(changed.train.files.length).toBe(10);
  });

  it('falls back to datasets/.cache/ when the cache cannot be written next to the data', async () => {
    await writeImageFolder(dir, { perClass: 2 });
    age(dir, ALL_DIRS);
    mkdirSync(join(dir, FOLDER_INDEX_FILE)); // unwritable there, even for root
    expect((await scanImageFolderCached(dir, { projectRoot: project })).fromCache).toBe(false);
    expect((await scanImageFolderCached(dir, { projectRoot: project })).fromCache).toBe(true);
    expect(readdirSync(join(project, 'datasets', '.cache'))).toEqual([expect.stringMatching(/^[0-9a-f]{16}-pwlu-index\.json$/)]);
  });

  it('keeps the scan errors: an empty class folder, a val class unknown to train', async () => {
    await writeImageFolder(dir, { perClass: 2 });
    mkdirSync(join(dir, 'train', 'fox'));
    await expectDataError(scanImageFolderCached(dir, { projectRoot: project }), join(dir, 'train', 'fox'), /class folder has no/);
    rmSync(join(dir, 'train', 'fox'), { recursive: true });
    await writeImages(dir, [{ path: 'val/yak/a.png', width: 8, height: 8, colour: [1, 2, 3], format: 'png' }]);
    await expectDataError(scanImageFolderCached(dir, { projectRoot: project }), join(dir, 'val', 'yak'), /does not exist in/);
  });

  it('lists .webp images', async () => {
    await writeImageFolder(dir, { perClass: 2 });
    writeFileSync(join(dir, 'train', 'cat', 'z.webp'), 'not decoded by a scan');
    expect((await scanImageFolderCached(dir, { projectRoot: project })).train.files).toContain(join(dir, 'train', 'cat', 'z.webp'));
  });
});

describe('folder source', () => {
  it('streams an epoch in epochPermutation order with the files’ bytes and labels; start skips a prefix', async () => {
    await writeImageFolder(dir, { perClass: 4 });
    const scan = await scanImageFolder(dir);
    const src = new FolderSource(scan.train.files, scan.train.labels, scan.classes, dir, 3);
    expect(src.n).toBe(12);
    expect(src.numClasses).toBe(3);
    const order = { seed: 5, epoch: 2, shuffle: true, start: 0 };
    const got = await collect(src, order);
    expect(got.map((s) => s.index)).toEqual(Array.from(epochPermutation(12, 5, 2, true)));
    for (const s of got) {
      expect('bytes' in s).toBe(true);
      const e = s as EncodedSample;
      expect(Buffer.from(e.bytes).equals(readFileSync(scan.train.files[e.index]!))).toBe(true);
      expect(e.label).toBe(scan.train.labels[e.index]);
      expect(e.key).toBe(scan.train.files[e.index]);
    }
    expect((await collect(src, { ...order, start: 7 })).map((s) => s.index)).toEqual(got.slice(7).map((s) => s.index));
    expect(await collect(src, { ...order, start: 12 })).toEqual([]);
    expect((await collect(src, { ...order, shuffle: false })).map((s) => s.index)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('an unreadable file is a BadSample naming it, and the rest still comes', async () => {
    await writeImageFolder(dir, { perClass: 2 });
    const scan = await scanImageFolder(dir);
    rmSync(scan.train.files[3]!);
    const got = await collect(new FolderSource(scan.train.files, scan.train.labels, scan.classes, dir), { seed: 0, epoch: 0, shuffle: false, start: 0 });
    expect(got.length).toBe(6);
    const bad = got.filter((s): s is BadSample => 'error' in s);
    expect(bad.map((b) => [b.index, b.key])).toEqual([[3, scan.train.files[3]]]);
    expect(bad[0]!.error).toMatch(/cannot read file/);
  });

  it('openFolderSources: the seeded val hold-out and train subset of selectIndices, val/ for evaluation', async () => {
    await writeImageFolder(dir, { perClass: 4, valPerClass: 2 });
    const cfg = DataSchema.parse({ name: 'imagefolder', dir, val_split: 0.25, train_subset: 6 });
    const s = await openFolderSources(cfg, { projectRoot: project, seed: 3 });
    const scan = await scanImageFolder(dir);
    const sel = selectIndices(12, 6, 0.25, 3);
    expect(s.train.n).toBe(6);
    expect(s.val?.n).toBe(3);
    expect(s.eval.n).toBe(6);
    expect(s.train.classNames).toEqual(['cat', 'dog', 'emu']);
    const keys = async (src: SampleSource) => (await collect(src, { seed: 0, epoch: 0, shuffle: false, start: 0 })).map((x) => x.key);
    expect(await keys(s.train)).toEqual(Array.from(sel.train, (i) => scan.train.files[i]));
    expect(await keys(s.val!)).toEqual(Array.from(sel.val, (i) => scan.train.files[i]));
    expect(await keys(s.eval)).toEqual(scan.test.files);
  });
});
