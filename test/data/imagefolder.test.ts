import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeImages, hasImageFolder, scanImageFolder } from '../../src/data/imagefolder.js';
import { expectDataError, FOLDER_COLOURS, writeImageFolder, writeImages } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let dir: string;
beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(() => removeDir(dir));

function pixel(images: Uint8Array, size: number, n: number, y: number, x: number): number[] {
  const o = ((n * size + y) * size + x) * 3;
  return Array.from(images.subarray(o, o + 3));
}

describe('image folder', () => {
  it('scans classes sorted by name, files sorted, val/ labels mapped to train classes', async () => {
    const fx = await writeImageFolder(dir, { perClass: 3, valPerClass: 2 });
    expect(hasImageFolder(dir)).toBe(true);
    const scan = await scanImageFolder(dir);
    expect(scan.classes).toEqual(['cat', 'dog', 'emu']);
    expect(scan.testDir).toBe('val');
    expect(scan.train.files.length).toBe(fx.nTrain);
    expect(scan.test.files.length).toBe(fx.nVal);
    expect(scan.train.files[0]).toBe(join(dir, 'train', 'cat', 'img0.png'));
    expect(scan.train.files[1]).toBe(join(dir, 'train', 'cat', 'img1.jpg'));
    expect(Array.from(scan.train.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(Array.from(scan.test.labels)).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it('falls back to test/ when there is no val/', async () => {
    await writeImageFolder(dir, { evalDir: 'test' });
    const scan = await scanImageFolder(dir);
    expect(scan.testDir).toBe('test');
    expect(scan.test.files.length).toBe(3);
  });

  it('decodes PNG and JPEG of varied sizes to size x size x 3 with the right colours', async () => {
    await writeImageFolder(dir, { perClass: 3 });
    const scan = await scanImageFolder(dir);
    const split = await decodeImages(scan.train.files, scan.train.labels, 8, { concurrency: 2 });
    expect(split.n).toBe(9);
    expect(split.images.length).toBe(9 * 8 * 8 * 3);
    for (let i = 0; i < split.n; i++) {
      const want = FOLDER_COLOURS[scan.classes[split.labels[i]!]!]!;
      const got = pixel(split.images, 8, i, 4, 4);
      // PNG is lossless; JPEG (quality 95, chroma subsampled) is within a few levels.
      for (let c = 0; c < 3; c++) expect(Math.abs(got[c]! - want[c]!)).toBeLessThanOrEqual(scan.train.files[i]!.endsWith('.png') ? 0 : 12);
    }
  });

  it('resizes the shorter side then centre-crops', async () => {
    // 60x30: left third red, middle third green, right third blue. Shorter side 30 -> 10 gives 20x10;
    // the centre 10 columns are source columns 15..45 of 60: red/green boundary at 20 -> crop x~1.7.
    const third = (x: number): [number, number, number] => (x < 20 ? [255, 0, 0] : x < 40 ? [0, 255, 0] : [0, 0, 255]);
    await writeImages(dir, [{ path: 'wide.png', width: 60, height: 30, colour: (x) => third(x), format: 'png' }]);
    const s = await decodeImages([join(dir, 'wide.png')], Int32Array.of(0), 10);
    const centre = pixel(s.images, 10, 0, 5, 5);
    expect(centre[1]).toBeGreaterThan(240);
    expect(centre[0]).toBeLessThan(15);
    const left = pixel(s.images, 10, 0, 5, 0);
    expect(left[0]).toBeGreaterThan(200); // still in the red third
    const right = pixel(s.images, 10, 0, 5, 9);
    expect(right[2]).toBeGreaterThan(200);
  });

  it('expands greyscale and drops alpha', async () => {
    await writeImages(dir, [
      { path: 'g.png', width: 12, height: 12, colour: [90, 0, 0], format: 'png', channels: 1 },
      { path: 'a.png', width: 12, height: 12, colour: [10, 20, 30], format: 'png', channels: 4 },
    ]);
    const s = await decodeImages([join(dir, 'g.png'), join(dir, 'a.png')], Int32Array.of(0, 1), 6);
    expect(pixel(s.images, 6, 0, 3, 3)).toEqual([90, 90, 90]);
    expect(pixel(s.images, 6, 1, 3, 3)).toEqual([10, 20, 30]);
  });

  it('rejects an undecodable image, naming the file', async () => {
    await writeImageFolder(dir);
    const bad = join(dir, 'train', 'dog', 'broken.jpg');
    writeFileSync(bad, Buffer.from('this is not a jpeg at all'));
    const scan = await scanImageFolder(dir);
    await expectDataError(decodeImages(scan.train.files, scan.train.labels, 8), bad, /cannot decode image/);
  });

  it('rejects a missing val/test folder, a val class unknown to train, and an empty class', async () => {
    await writeImageFolder(dir);
    renameSync(join(dir, 'val'), join(dir, 'elsewhere'));
    expect(hasImageFolder(dir)).toBe(false);
    await expectDataError(scanImageFolder(dir), dir, /no val\/ or test\/ folder/);
    renameSync(join(dir, 'elsewhere'), join(dir, 'val'));
    mkdirSync(join(dir, 'val', 'yak'));
    await expectDataError(scanImageFolder(dir), join(dir, 'val', 'yak'), /class "yak" does not exist/);
    removeDir(join(dir, 'val', 'yak'));
    mkdirSync(join(dir, 'train', 'zebu'));
    await expectDataError(scanImageFolder(dir), join(dir, 'train', 'zebu'), /no \.jpg\/\.jpeg\/\.png images/);
  });
});
