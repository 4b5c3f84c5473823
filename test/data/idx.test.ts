import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasIdxFiles, loadIdxDataset, loadIdxImages, loadIdxLabels } from '../../src/data/idx.js';
import { expectDataError, idxBuffer, writeIdxDataset } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let dir: string;
beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(() => removeDir(dir));

describe('idx loader', () => {
  it.each([
    { gzip: true, naming: 'dash' as const },
    { gzip: false, naming: 'dash' as const },
    { gzip: true, naming: 'dot' as const },
    { gzip: false, naming: 'dot' as const },
  ])('loads gzip=$gzip naming=$naming with the right shapes, pixels and labels', async ({ gzip, naming }) => {
    const fx = writeIdxDataset(dir, { nTrain: 30, nTest: 12, rows: 7, cols: 5, gzip, naming });
    expect(hasIdxFiles(dir)).toBe(true);
    const d = await loadIdxDataset(dir, 10);
    expect([d.height, d.width]).toEqual([7, 5]);
    expect(d.train.n).toBe(30);
    expect(d.test.n).toBe(12);
    expect(d.train.images.length).toBe(30 * 35);
    expect(Array.from(d.train.images)).toEqual(Array.from(fx.train.images));
    expect(Array.from(d.test.images)).toEqual(Array.from(fx.test.images));
    expect(Array.from(d.train.labels)).toEqual(Array.from(fx.train.labels));
    expect(Array.from(d.test.labels)).toEqual(Array.from(fx.test.labels));
    expect(d.train.labels).toBeInstanceOf(Int32Array);
  });

  it('rejects a bad magic number, naming the file (and spotting swapped files)', async () => {
    const fx = writeIdxDataset(dir, { gzip: false });
    writeFileSync(fx.paths.trainImages, idxBuffer(2049, [60], new Uint8Array(60)));
    await expectDataError(loadIdxImages(fx.paths.trainImages), fx.paths.trainImages, /bad magic number 2049.*expected 2051.*swapped/);
    writeFileSync(fx.paths.trainLabels, idxBuffer(0x12345678, [60], new Uint8Array(60)));
    await expectDataError(loadIdxLabels(fx.paths.trainLabels, 10), fx.paths.trainLabels, /bad magic number/);
  });

  it('rejects truncated data and a truncated header', async () => {
    const fx = writeIdxDataset(dir, { gzip: true });
    const full = idxBuffer(2051, [60, 28, 28], fx.train.images);
    writeFileSync(fx.paths.trainImages, gzipSync(full.subarray(0, full.length - 100)));
    await expectDataError(loadIdxDataset(dir, 10), fx.paths.trainImages, /truncated: header declares 60x28x28 = 47040 bytes of data, file has 46940/);
    writeFileSync(fx.paths.trainImages, gzipSync(full.subarray(0, 9)));
    await expectDataError(loadIdxImages(fx.paths.trainImages), fx.paths.trainImages, /truncated header/);
  });

  it('rejects extra trailing bytes', async () => {
    const fx = writeIdxDataset(dir, { gzip: false });
    writeFileSync(fx.paths.testLabels, Buffer.concat([readFileSync(fx.paths.testLabels), Buffer.from([1, 2])]));
    await expectDataError(loadIdxLabels(fx.paths.testLabels, 10), fx.paths.testLabels, /wrong size.*2 extra/);
  });

  it('rejects an image/label count mismatch', async () => {
    const fx = writeIdxDataset(dir, { gzip: true });
    writeFileSync(fx.paths.trainLabels, gzipSync(idxBuffer(2049, [59], fx.train.labels.subarray(0, 59))));
    await expectDataError(loadIdxDataset(dir, 10), fx.paths.trainLabels, /wrong count: 59 labels but .* has 60 images/);
  });

  it('rejects a label out of range', async () => {
    const fx = writeIdxDataset(dir, { gzip: false });
    const labels = Uint8Array.from(fx.test.labels);
    labels[5] = 10;
    writeFileSync(fx.paths.testLabels, idxBuffer(2049, [labels.length], labels));
    await expectDataError(loadIdxDataset(dir, 10), fx.paths.testLabels, /label 10 at index 5 is out of range \[0, 10\)/);
  });

  it('rejects corrupt gzip, truncated gzip, and a .gz that is not gzip', async () => {
    const fx = writeIdxDataset(dir, { gzip: true });
    const gz = readFileSync(fx.paths.trainImages);
    const corrupt = Buffer.from(gz);
    for (let i = 20; i < 60; i++) corrupt[i] = corrupt[i]! ^ 0xa5;
    writeFileSync(fx.paths.trainImages, corrupt);
    await expectDataError(loadIdxImages(fx.paths.trainImages), fx.paths.trainImages, /corrupt or truncated gzip/);
    writeFileSync(fx.paths.trainImages, gz.subarray(0, gz.length >> 1));
    await expectDataError(loadIdxImages(fx.paths.trainImages), fx.paths.trainImages, /corrupt or truncated gzip/);
    writeFileSync(fx.paths.trainImages, idxBuffer(2051, [60, 28, 28], fx.train.images));
    await expectDataError(loadIdxImages(fx.paths.trainImages), fx.paths.trainImages, /not gzip data/);
  });

  it('reports missing files and mismatched image sizes', async () => {
    const fx = writeIdxDataset(dir, { gzip: false, rows: 6, cols: 6 });
    removeDir(fx.paths.testImages);
    expect(hasIdxFiles(dir)).toBe(false);
    await expectDataError(loadIdxDataset(dir, 10), dir, /missing idx file\(s\): t10k-images-idx3-ubyte\.gz/);
    writeFileSync(fx.paths.testImages, idxBuffer(2051, [20, 5, 6], new Uint8Array(600)));
    await expectDataError(loadIdxDataset(dir, 10), dir, /train images are 6x6 but test images are 5x6/);
  });

  it('finds files under either naming in the same directory', async () => {
    writeIdxDataset(join(dir), { gzip: true, naming: 'dot', nTrain: 3, nTest: 2, rows: 2, cols: 2 });
    const d = await loadIdxDataset(dir, 10);
    expect(d.train.n).toBe(3);
  });
});
