import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataSchema, type DataConfig } from '../../src/config/schema.js';
import { loadDataset, selectIndices } from '../../src/data/load.js';
import { splitBatches } from '../../src/data/batches.js';
import { isStreamed } from '../../src/data/types.js';
import { DataError } from '../../src/util/errors.js';
import {
  expectDataError,
  inMemory,
  memorySplit,
  fixtureIndex,
  mockFetch,
  writeCifar10,
  writeCifar100,
  writeIdxDataset,
  writeImageFolder,
} from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let tmp: string;
let project: string;
let system: string;
beforeEach(() => {
  tmp = makeTmpDir();
  project = join(tmp, 'project');
  system = join(tmp, 'system'); // empty: tests never see the real /usr/share/datasets
  mkdirSync(project);
  mkdirSync(system);
});
afterEach(() => removeDir(tmp));

function cfg(over: Partial<DataConfig>): DataConfig {
  return { ...DataSchema.parse({}), download: false, ...over };
}
const base = () => ({ projectRoot: project, systemRoot: system, seed: 1, progress: false });

describe('selectIndices', () => {
  it('holds out round(val_split*n), then takes the subset from the rest; disjoint, sorted, seeded', () => {
    const a = selectIndices(100, 30, 0.2, 5);
    expect(a.val.length).toBe(20);
    expect(a.train.length).toBe(30);
    const all = new Set([...a.val, ...a.train]);
    expect(all.size).toBe(50);
    expect(Array.from(a.train)).toEqual(Array.from(a.train).sort((x, y) => x - y));
    expect(selectIndices(100, 30, 0.2, 5)).toEqual(a);
    expect(Array.from(selectIndices(100, 30, 0.2, 6).val)).not.toEqual(Array.from(a.val));
    // val does not depend on train_subset; smaller subsets are nested in larger ones
    const b = selectIndices(100, 60, 0.2, 5);
    expect(Array.from(b.val)).toEqual(Array.from(a.val));
    for (const i of a.train) expect(b.train).toContain(i);
    // no hold-out and no subset: identity
    expect(Array.from(selectIndices(5, null, 0, 9).train)).toEqual([0, 1, 2, 3, 4]);
    // subset larger than what is left: everything left
    expect(selectIndices(10, 100, 0.2, 1).train.length).toBe(8);
  });

  it('rejects splits that leave nothing', () => {
    expect(() => selectIndices(3, null, 0.1, 0)).toThrow(DataError);
  });
});

describe('loadDataset', () => {
  it('loads Fashion-MNIST from data.dir with catalogue stats, subset and validation split', async () => {
    const dir = join(tmp, 'fm');
    writeIdxDataset(dir, { nTrain: 200, nTest: 50 });
    const logs: string[] = [];
    const r = await loadDataset(cfg({ name: 'fashion-mnist', dir, train_subset: 100, val_split: 0.1 }), { ...base(), log: (m) => logs.push(m) });
    expect(r.location).toBe(dir);
    const d = inMemory(r.dataset);
    expect([d.name, d.height, d.width, d.channels, d.numClasses]).toEqual(['fashion-mnist', 28, 28, 1, 10]);
    expect(d.mean).toEqual([0.286]);
    expect(d.std).toEqual([0.353]);
    expect(d.flipOk).toBe(true);
    expect(d.classNames?.[9]).toBe('Ankle boot');
    expect(d.train.n).toBe(100);
    expect(d.test.n).toBe(50);
    expect(r.val?.n).toBe(20);
    // train and val are disjoint sets of original images, and labels travel with their images
    const px = 28 * 28;
    const trainIds = Array.from({ length: d.train.n }, (_, k) => fixtureIndex(d.train.images, k, px));
    const valIds = Array.from({ length: r.val!.n }, (_, k) => fixtureIndex(memorySplit(r.val!).images, k, px));
    expect(new Set([...trainIds, ...valIds]).size).toBe(120);
    const full = await loadDataset(cfg({ name: 'fashion-mnist', dir }), base());
    trainIds.forEach((id, k) => expect(d.train.labels[k]).toBe(inMemory(full.dataset).train.labels[id]));
    // same seed -> same selection; other seed -> different
    const again = await loadDataset(cfg({ name: 'fashion-mnist', dir, train_subset: 100, val_split: 0.1 }), base());
    expect(Buffer.from(inMemory(again.dataset).train.images).equals(Buffer.from(d.train.images))).toBe(true);
    const other = await loadDataset(cfg({ name: 'fashion-mnist', dir, train_subset: 100, val_split: 0.1 }), { ...base(), seed: 2 });
    expect(Buffer.from(inMemory(other.dataset).train.images).equals(Buffer.from(d.train.images))).toBe(false);
    expect(logs.some((l) => l.includes('100 train, 20 validation, 50 test'))).toBe(true);
  });

  it('returns the full train split and no val by default', async () => {
    writeIdxDataset(join(project, 'datasets', 'mnist'), { nTrain: 30, nTest: 10 });
    const r = await loadDataset(cfg({ name: 'mnist' }), base());
    expect(r.location).toBe(join(project, 'datasets', 'mnist'));
    expect(r.val).toBeNull();
    expect(r.dataset.train.n).toBe(30);
    expect(r.dataset.flipOk).toBe(false);
    expect(r.dataset.mean).toEqual([0.1307]);
    const logs: string[] = [];
    const big = await loadDataset(cfg({ name: 'mnist', train_subset: 1000 }), { ...base(), log: (m) => logs.push(m) });
    expect(big.dataset.train.n).toBe(30);
    expect(logs.some((l) => l.includes('data.train_subset=1000 exceeds the 30 training images'))).toBe(true);
  });

  it('finds the system copy last', async () => {
    writeIdxDataset(join(system, 'fashion-mnist'), { nTrain: 3, nTest: 2 });
    const r = await loadDataset(cfg({ name: 'fashion-mnist' }), base());
    expect(r.location).toBe(join(system, 'fashion-mnist'));
  });

  it('an explicit data.dir is used or the load fails: never another copy, never a download elsewhere', async () => {
    writeIdxDataset(join(system, 'fashion-mnist'), { nTrain: 3, nTest: 2 });
    const named = join(tmp, 'named-but-empty');
    mkdirSync(named, { recursive: true });
    const err = await expectDataError(loadDataset(cfg({ name: 'fashion-mnist', dir: named }), base()), named, /does not hold Fashion-MNIST/);
    expect(err.message).toContain(`a copy exists in ${join(system, 'fashion-mnist')}: unset data.dir to use it`);
    const { fetch, calls } = mockFetch({});
    removeDir(join(system, 'fashion-mnist'));
    await expectDataError(
      loadDataset(cfg({ name: 'fashion-mnist', dir: named, download: true }), { ...base(), fetchImpl: fetch }),
      named,
      /data\.dir is set, so nothing was downloaded elsewhere/,
    );
    expect(calls).toEqual([]);
  });

  it('checks image_size against the native size', async () => {
    const dir = join(tmp, 'c10');
    writeCifar10(dir, { perBatch: 2, nTest: 2 });
    const ok = await loadDataset(cfg({ name: 'cifar10', dir, image_size: 32 }), base());
    expect([ok.dataset.height, ok.dataset.channels, ok.dataset.numClasses]).toEqual([32, 3, 10]);
    expect(ok.dataset.mean).toEqual([0.4914, 0.4822, 0.4465]);
    const err = await loadDataset(cfg({ name: 'cifar10', dir, image_size: 64 }), base()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/data.image_size=64 is not supported for CIFAR-10: its images are 32x32/);
  });

  it('loads CIFAR-100 with 100 classes', async () => {
    const dir = join(tmp, 'c100');
    writeCifar100(dir, { subdir: true });
    const r = await loadDataset(cfg({ name: 'cifar100', dir }), base());
    expect(r.dataset.numClasses).toBe(100);
    expect(r.dataset.classNames).toHaveLength(100);
  });

  it('not found with download off: lists the searched directories and how to provide the files', async () => {
    const err = await expectDataError(
      loadDataset(cfg({ name: 'fashion-mnist', dir: join(tmp, 'nowhere') }), base()),
      join(tmp, 'nowhere'),
      /Fashion-MNIST not found\. Searched:/,
    );
    expect(err.message).toContain(join(project, 'datasets', 'fashion-mnist'));
    expect(err.message).toContain(join(system, 'fashion-mnist'));
    expect(err.message).toContain('data.download is false');
    expect(err.message).toContain('apt-get install dataset-fashion-mnist');
  });

  it('download on but offline: DataError with the ways to provide the data', async () => {
    const { fetch, calls } = mockFetch({});
    await expectDataError(
      loadDataset(cfg({ name: 'cifar100', download: true }), { ...base(), fetchImpl: fetch }),
      'cifar-100-binary.tar.gz',
      /Could not download CIFAR-100[\s\S]*copy train\.bin, test\.bin[\s\S]*data\.dir[\s\S]*https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-100-binary\.tar\.gz/,
    );
    expect(calls).toEqual(['https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz']);
  });

  it('builds the synthetic dataset (independent of the run seed) with subset/val from the run seed', async () => {
    const c = cfg({ name: 'synthetic', val_split: 0.25, synthetic: { train: 64, test: 16, size: 8, channels: 2, classes: 3 } });
    const a = await loadDataset(c, base());
    const b = await loadDataset(c, { ...base(), seed: 99 });
    expect(a.location).toBe('synthetic');
    expect([a.dataset.height, a.dataset.channels, a.dataset.numClasses, a.dataset.train.n, a.val?.n]).toEqual([8, 2, 3, 48, 16]);
    expect(Buffer.from(inMemory(a.dataset).test.images).equals(Buffer.from(inMemory(b.dataset).test.images))).toBe(true);
    expect(Buffer.from(inMemory(a.dataset).train.images).equals(Buffer.from(inMemory(b.dataset).train.images))).toBe(false);
    await expect(loadDataset(cfg({ name: 'synthetic', image_size: 32 }), base())).rejects.toThrow(DataError);
  });

  it('streams an image folder at image_size over the selected training images (nothing decoded up front)', async () => {
    const dir = join(tmp, 'imgs');
    await writeImageFolder(dir, { perClass: 4, valPerClass: 1 });
    const r = await loadDataset(cfg({ name: 'imagefolder', dir, image_size: 16, train_subset: 6, val_split: 0.25 }), base());
    const d = r.dataset;
    expect(isStreamed(d.train) && isStreamed(d.test)).toBe(true);
    expect([d.height, d.width, d.channels, d.numClasses]).toEqual([16, 16, 3, 3]);
    expect(d.classNames).toEqual(['cat', 'dog', 'emu']);
    expect(d.train.n).toBe(6);
    expect(r.val?.n).toBe(3);
    expect(d.test.n).toBe(3);
    expect(d.mean).toEqual([0.485, 0.456, 0.406]);
    const batches = [];
    for await (const b of splitBatches(d.train, d, { batchSize: 6, seed: 0, epoch: 0, shuffle: true, augment: null, dropLast: false }))
      batches.push(b.x.length);
    expect(batches).toEqual([6 * 16 * 16 * 3]);
    const def = await loadDataset(cfg({ name: 'imagefolder', dir }), base());
    expect(def.dataset.height).toBe(224);
  });
});
