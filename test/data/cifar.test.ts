import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCifar, resolveCifarDir } from '../../src/data/cifar.js';
import { expectDataError, writeCifar10, writeCifar100 } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let dir: string;
beforeEach(() => {
  dir = makeTmpDir();
});
afterEach(() => removeDir(dir));

describe('CIFAR-10 binary', () => {
  it.each([false, true])('loads (subfolder=%s), converting CHW to HWC', async (subdir) => {
    const fx = writeCifar10(dir, { perBatch: 3, nTest: 4, subdir });
    expect(resolveCifarDir(dir, 'cifar10')).toBe(fx.root);
    const d = await loadCifar(dir, 'cifar10');
    expect(d.numClasses).toBe(10);
    expect(d.train.n).toBe(15);
    expect(d.test.n).toBe(4);
    expect(d.train.images.length).toBe(15 * 32 * 32 * 3);
    expect(Array.from(d.train.labels)).toEqual(Array.from(fx.train.labels));
    expect(Array.from(d.test.labels)).toEqual(Array.from(fx.test.labels));
    expect(Buffer.from(d.train.images).equals(Buffer.from(fx.train.images))).toBe(true);
    expect(Buffer.from(d.test.images).equals(Buffer.from(fx.test.images))).toBe(true);
  });

  it('places the planes correctly (explicit pixel check)', async () => {
    writeCifar10(dir, { perBatch: 1, nTest: 1 });
    // Overwrite the test batch with one record: label 7, R plane = 10, G plane = 20, B plane = 30, except pixel (2, 5).
    const rec = Buffer.alloc(1 + 3072);
    rec[0] = 7;
    rec.fill(10, 1, 1025);
    rec.fill(20, 1025, 2049);
    rec.fill(30, 2049, 3073);
    const p = 2 * 32 + 5;
    rec[1 + p] = 11;
    rec[1 + 1024 + p] = 21;
    rec[1 + 2048 + p] = 31;
    writeFileSync(join(dir, 'test_batch.bin'), rec);
    const d = await loadCifar(dir, 'cifar10');
    expect(d.test.labels[0]).toBe(7);
    expect(Array.from(d.test.images.subarray(0, 3))).toEqual([10, 20, 30]);
    expect(Array.from(d.test.images.subarray(3 * p, 3 * p + 3))).toEqual([11, 21, 31]);
  });

  it('rejects a truncated batch, naming the file', async () => {
    writeCifar10(dir);
    const f = join(dir, 'data_batch_3.bin');
    writeFileSync(f, readFileSync(f).subarray(0, 3073 * 2 + 100));
    await expectDataError(loadCifar(dir, 'cifar10'), f, /truncated or wrong format: 6246 bytes is not a whole number of 3073-byte records/);
  });

  it('rejects a label out of range and an empty file', async () => {
    writeCifar10(dir);
    const f = join(dir, 'test_batch.bin');
    const b = readFileSync(f);
    b[3073 * 2] = 10;
    writeFileSync(f, b);
    await expectDataError(loadCifar(dir, 'cifar10'), f, /label 10 in record 2 is out of range \[0, 10\)/);
    writeFileSync(f, Buffer.alloc(0));
    await expectDataError(loadCifar(dir, 'cifar10'), f, /empty file/);
  });

  it('reports missing files', async () => {
    writeCifar10(dir, { subdir: true });
    rmSync(join(dir, 'cifar-10-batches-bin', 'data_batch_5.bin'));
    expect(resolveCifarDir(dir, 'cifar10')).toBeNull();
    await expectDataError(loadCifar(dir, 'cifar10'), 'cifar-10-batches-bin', /missing cifar10 file\(s\): data_batch_5\.bin/);
  });
});

describe('CIFAR-100 binary', () => {
  it.each([false, true])('loads fine labels (subfolder=%s)', async (subdir) => {
    const fx = writeCifar100(dir, { nTrain: 9, nTest: 4, subdir });
    const d = await loadCifar(dir, 'cifar100');
    expect(d.numClasses).toBe(100);
    expect(d.train.n).toBe(9);
    expect(Array.from(d.train.labels)).toEqual(Array.from(fx.train.labels));
    expect(Array.from(d.test.labels)).toEqual(Array.from(fx.test.labels));
    expect(Math.max(...d.train.labels)).toBeGreaterThan(19); // fine, not coarse
    expect(Buffer.from(d.train.images).equals(Buffer.from(fx.train.images))).toBe(true);
  });

  it('rejects fine and coarse labels out of range', async () => {
    writeCifar100(dir);
    const f = join(dir, 'train.bin');
    const b = readFileSync(f);
    b[3074 * 4 + 1] = 100;
    writeFileSync(f, b);
    await expectDataError(loadCifar(dir, 'cifar100'), f, /label 100 in record 4 is out of range \[0, 100\)/);
    b[3074 * 4 + 1] = 5;
    b[3074 * 4] = 20;
    writeFileSync(f, b);
    await expectDataError(loadCifar(dir, 'cifar100'), f, /coarse label 20 in record 4/);
  });

  it('rejects a file with a partial record (e.g. a CIFAR-10 file given as CIFAR-100)', async () => {
    writeCifar100(dir);
    const f = join(dir, 'test.bin');
    appendFileSync(f, Buffer.alloc(1));
    await expectDataError(loadCifar(dir, 'cifar100'), f, /not a whole number of 3074-byte records/);
  });
});
