import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSchema, DATASETS } from '../../src/config/schema.js';
import { CATALOG, catalogEntry, listCatalog } from '../../src/data/catalog.js';
import { downloadDataset } from '../../src/data/download.js';
import { loadDataset } from '../../src/data/load.js';
import { UserError } from '../../src/util/errors.js';
import { inMemory, mockFetch } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { optionalPart } from '../helpers/optional-parts.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

describe('catalogue', () => {
  it('has one consistent entry per configurable dataset', () => {
    expect(listCatalog().map((e) => e.name)).toEqual([...DATASETS]);
    for (const e of listCatalog()) {
      if (e.mean !== null) {
        expect(e.mean).toHaveLength(e.channels!);
        expect(e.std).toHaveLength(e.channels!);
      }
      if (e.classNames !== null) expect(e.classNames).toHaveLength(e.numClasses!);
      for (const d of e.downloads) {
        expect(d.md5).toMatch(/^[0-9a-f]{32}$/);
        expect(d.urls.length).toBeGreaterThan(0);
        for (const u of d.urls) expect(u.endsWith(`/${d.file}`)).toBe(true);
      }
    }
    expect(CATALOG.mnist.flipOk).toBe(false);
    expect(CATALOG['fashion-mnist'].aptPackage).toBe('dataset-fashion-mnist');
    const fine = CATALOG.cifar100.classNames!;
    expect(new Set(fine).size).toBe(100);
    expect([...fine].sort()).toEqual(fine); // CIFAR-100's fine labels are in alphabetical order
    expect(catalogEntry('cifar10')).toBe(CATALOG.cifar10);
    expect(() => catalogEntry('imagenet')).toThrow(UserError);
    expect(() => catalogEntry('constructor')).toThrow(UserError);
  });
});

const DEBIAN = '/usr/share/datasets/fashion-mnist';
const haveDebian = existsSync(join(DEBIAN, 'train-images-idx3-ubyte.gz'));
optionalPart('fashion-mnist', haveDebian, `no ${DEBIAN} (apt-get install dataset-fashion-mnist)`);

/**
 * Debian's dataset-fashion-mnist ships the official deflate streams with a normalised gzip header
 * (no file name, mtime reset). Rebuilding the original header (FNAME set, the upstream mtime) gives
 * back the published files byte for byte, which lets the catalogue's md5s be checked offline.
 */
function canonicalGzip(file: string, mtime: number): Buffer {
  const deb = readFileSync(join(DEBIAN, file));
  const header = Buffer.from([0x1f, 0x8b, 8, 8, 0, 0, 0, 0, 0, 3]);
  header.writeUInt32LE(mtime, 4);
  return Buffer.concat([header, Buffer.from(`${file.replace(/\.gz$/, '')}\0`), deb.subarray(10)]);
}
const UPSTREAM_MTIME: Record<string, number> = {
  'train-images-idx3-ubyte.gz': 0x59a7e9de,
  'train-labels-idx1-ubyte.gz': 0x59a7e9de,
  't10k-images-idx3-ubyte.gz': 0x59a7e9f3,
  't10k-labels-idx1-ubyte.gz': 0x59a7e9f3,
};

describe.skipIf(!haveDebian)('real Fashion-MNIST from the Debian package', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = makeTmpDir();
  });
  afterAll(() => removeDir(tmp));

  it('matches the catalogue: content md5 of each file, and the published .gz md5 after restoring the header', async () => {
    const fm = CATALOG['fashion-mnist'];
    const routes: Record<string, Uint8Array> = {};
    for (const d of fm.downloads) {
      expect(md5(gunzipSync(readFileSync(join(DEBIAN, d.file))))).toBe(d.contentMd5);
      const original = canonicalGzip(d.file, UPSTREAM_MTIME[d.file]!);
      expect(original.length).toBe(d.bytes);
      expect(md5(original)).toBe(d.md5);
      routes[d.urls[0]!] = original;
    }
    // The real catalogue entry, downloading through a mocked fetch that serves the restored files.
    const project = join(tmp, 'project');
    await downloadDataset(fm, join(project, 'datasets', 'fashion-mnist'), project, { fetchImpl: mockFetch(routes).fetch, progress: false });
  });

  it('loads 60000/10000 images with 6000/1000 of each class', async () => {
    const cfg = { ...DataSchema.parse({}), name: 'fashion-mnist' as const, download: false };
    const { dataset, location } = await loadDataset(cfg, { projectRoot: join(tmp, 'empty'), seed: 0, progress: false });
    const d = inMemory(dataset);
    expect(location).toBe(DEBIAN);
    expect([d.train.n, d.test.n, d.height, d.width, d.channels]).toEqual([60000, 10000, 28, 28, 1]);
    const hist = (l: Int32Array) => l.reduce((h, v) => (h[v]!++, h), new Array<number>(10).fill(0));
    expect(hist(d.train.labels)).toEqual(new Array(10).fill(6000));
    expect(hist(d.test.labels)).toEqual(new Array(10).fill(1000));
    // The catalogue's normalisation constants are the training set's statistics.
    let s = 0;
    let s2 = 0;
    for (const v of d.train.images) {
      s += v;
      s2 += v * v;
    }
    const n = d.train.images.length;
    const mean = s / n / 255;
    const std = Math.sqrt(s2 / n / 255 ** 2 - mean ** 2);
    expect(mean).toBeCloseTo(d.mean[0]!, 3);
    expect(std).toBeCloseTo(d.std[0]!, 3);
  });
});
