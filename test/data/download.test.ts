import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CATALOG, type CatalogEntry } from '../../src/data/catalog.js';
import { loadCifar } from '../../src/data/cifar.js';
import { downloadDataset, downloadFile } from '../../src/data/download.js';
import { loadIdxDataset } from '../../src/data/idx.js';
import { extractTarGz, safeMemberPath } from '../../src/data/tar.js';
import { DataError } from '../../src/util/errors.js';
import { expectDataError, md5, mockFetch, tarBuffer, type TarMember, writeCifar10, writeIdxDataset } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let tmp: string;
beforeEach(() => {
  tmp = makeTmpDir();
});
afterEach(() => removeDir(tmp));

const quiet = { progress: false };

/** A catalogue entry like Fashion-MNIST's, whose downloads are fixture files served from fake URLs. */
function idxEntryFromFixture(srcDir: string): { entry: CatalogEntry; routes: Record<string, Uint8Array> } {
  const fm = CATALOG['fashion-mnist'];
  const routes: Record<string, Uint8Array> = {};
  const downloads = fm.downloads.map((d) => {
    const data = readFileSync(join(srcDir, d.file));
    const urls = [`https://mirror-a.invalid/${d.file}`, `https://mirror-b.invalid/${d.file}`];
    routes[urls[0]!] = data;
    return { ...d, urls, md5: md5(data), bytes: data.length, contentMd5: undefined };
  });
  return { entry: { ...fm, downloads }, routes };
}

describe('downloads (mocked fetch, never the network)', () => {
  it('downloads, verifies and places every file; the result loads', async () => {
    writeIdxDataset(join(tmp, 'src'), { nTrain: 8, nTest: 4, rows: 3, cols: 3 });
    const { entry, routes } = idxEntryFromFixture(join(tmp, 'src'));
    const { fetch, calls } = mockFetch(routes);
    const dest = join(tmp, 'project', 'datasets', 'fashion-mnist');
    const logs: string[] = [];
    await downloadDataset(entry, dest, join(tmp, 'project'), { ...quiet, fetchImpl: fetch, log: (m) => logs.push(m) });
    expect(calls).toEqual(entry.downloads.map((d) => d.urls[0]));
    expect(readdirSync(dest).sort()).toEqual([...entry.files].sort());
    const d = await loadIdxDataset(dest, 10);
    expect(d.train.n).toBe(8);
    expect(logs.some((l) => l.includes('saved to'))).toBe(true);
    // Files already present with the right checksum are not fetched again.
    const again = mockFetch({});
    await downloadDataset(entry, dest, join(tmp, 'project'), { ...quiet, fetchImpl: again.fetch });
    expect(again.calls).toEqual([]);
  });

  it('falls back to the next mirror on HTTP errors', async () => {
    writeIdxDataset(join(tmp, 'src'), { nTrain: 2, nTest: 1, rows: 2, cols: 2 });
    const { entry } = idxEntryFromFixture(join(tmp, 'src'));
    const spec = entry.downloads[0]!;
    const data = readFileSync(join(tmp, 'src', spec.file));
    const { fetch, calls } = mockFetch({ [spec.urls[0]!]: { status: 404 }, [spec.urls[1]!]: data });
    const out = await downloadFile(spec, join(tmp, 'dl'), { ...quiet, fetchImpl: fetch });
    expect(calls).toEqual(spec.urls);
    expect(readFileSync(out).equals(data)).toBe(true);
  });

  it('rejects a checksum mismatch and leaves nothing half-written', async () => {
    writeIdxDataset(join(tmp, 'src'), { nTrain: 2, nTest: 1, rows: 2, cols: 2 });
    const { entry } = idxEntryFromFixture(join(tmp, 'src'));
    const routes: Record<string, Uint8Array> = {};
    for (const d of entry.downloads) {
      routes[d.urls[0]!] = readFileSync(join(tmp, 'src', d.file));
      routes[d.urls[1]!] = readFileSync(join(tmp, 'src', d.file));
    }
    const tampered = Buffer.from(routes[entry.downloads[2]!.urls[0]!]!);
    tampered[tampered.length - 1]! ^= 1;
    routes[entry.downloads[2]!.urls[0]!] = tampered;
    routes[entry.downloads[2]!.urls[1]!] = tampered;
    const dest = join(tmp, 'project', 'datasets', 'fashion-mnist');
    const err = await expectDataError(
      downloadDataset(entry, dest, join(tmp, 'project'), { ...quiet, fetchImpl: mockFetch(routes).fetch }),
      't10k-images-idx3-ubyte.gz',
      /Download rejected Fashion-MNIST: t10k-images-idx3-ubyte.gz\n {2}https:\/\/mirror-a.invalid\/t10k-images-idx3-ubyte.gz: checksum mismatch: md5 [0-9a-f]{32}, expected [0-9a-f]{32}/,
    );
    expect(err.message).toContain('mirror-b.invalid');
    // The two good files before it are in place; the bad one left neither a file nor a temp file.
    expect(readdirSync(dest).sort()).toEqual(['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
  });

  it('offline: the error lists every way to provide the data', async () => {
    const project = join(tmp, 'project');
    const { fetch, calls } = mockFetch({});
    const err = await expectDataError(
      downloadDataset(CATALOG['fashion-mnist'], join(project, 'datasets', 'fashion-mnist'), project, { ...quiet, fetchImpl: fetch }),
      'train-images-idx3-ubyte.gz',
      /Could not download Fashion-MNIST: train-images-idx3-ubyte.gz\n {2}http:.*fetch failed: getaddrinfo ENOTFOUND/,
    );
    expect(calls).toEqual(CATALOG['fashion-mnist'].downloads[0]!.urls);
    expect(err.message).toContain('sudo apt-get install dataset-fashion-mnist');
    expect(err.message).toContain(join(project, 'datasets', 'fashion-mnist'));
    expect(err.message).toContain('data.dir');
    expect(err.message).toContain('http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz');
    expect(existsSync(join(project, 'datasets', 'fashion-mnist'))).toBe(false); // no empty cache folder left behind
    // No apt hint where there is no package.
    const e2 = await downloadDataset(CATALOG.cifar10, join(project, 'datasets', 'cifar10'), project, { ...quiet, fetchImpl: fetch }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(DataError);
    expect((e2 as Error).message).not.toContain('apt-get');
    expect((e2 as Error).message).toContain('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz');
  });

  it('downloads and extracts a CIFAR tar.gz, then deletes the archive', async () => {
    const fx = writeCifar10(join(tmp, 'src'), { perBatch: 2, nTest: 3, subdir: true });
    const members: TarMember[] = [
      { name: 'cifar-10-batches-bin/', type: 'dir' },
      ...readdirSync(fx.root)
        .sort()
        .map((f): TarMember => ({ name: `cifar-10-batches-bin/${f}`, data: readFileSync(join(fx.root, f)) })),
    ];
    const archive = gzipSync(tarBuffer(members));
    const url = 'https://www.cs.toronto.edu.invalid/cifar-10-binary.tar.gz';
    const entry: CatalogEntry = {
      ...CATALOG.cifar10,
      downloads: [{ ...CATALOG.cifar10.downloads[0]!, urls: [url], md5: md5(archive), bytes: archive.length }],
    };
    const dest = join(tmp, 'project', 'datasets', 'cifar10');
    await downloadDataset(entry, dest, join(tmp, 'project'), { ...quiet, fetchImpl: mockFetch({ [url]: archive }).fetch });
    expect(existsSync(join(dest, 'cifar-10-binary.tar.gz'))).toBe(false);
    expect(readdirSync(join(dest, 'cifar-10-batches-bin')).sort()).toEqual(readdirSync(fx.root).sort());
    const d = await loadCifar(dest, 'cifar10');
    expect(d.train.n).toBe(10);
    expect(Buffer.from(d.test.images).equals(Buffer.from(fx.test.images))).toBe(true);
  });
});

describe('tar reader', () => {
  it('rejects unsafe member paths', () => {
    expect(safeMemberPath('./a/b.bin')).toBe('a/b.bin');
    expect(() => safeMemberPath('../evil')).toThrow();
    expect(() => safeMemberPath('/etc/passwd')).toThrow();
    expect(() => safeMemberPath('a/../../evil')).toThrow();
  });

  it('refuses an archive that escapes the destination, and reports corrupt archives', async () => {
    const dest = join(tmp, 'out');
    mkdirSync(dest);
    const evil = join(tmp, 'evil.tar.gz');
    writeFileSync(evil, gzipSync(tarBuffer([{ name: '../escaped.txt', data: Buffer.from('x') }])));
    await expectDataError(extractTarGz(evil, dest), evil, /unsafe path/);
    expect(existsSync(join(tmp, 'escaped.txt'))).toBe(false);

    const good = gzipSync(tarBuffer([{ name: 'a.bin', data: Buffer.alloc(1500, 7) }]));
    const truncated = join(tmp, 'trunc.tar.gz');
    writeFileSync(truncated, good.subarray(0, good.length - 30));
    await expectDataError(extractTarGz(truncated, dest), truncated, /corrupt or truncated gzip|truncated/);
    expect(readdirSync(dest).filter((f) => f.includes('.part'))).toEqual([]);

    const badHeader = tarBuffer([{ name: 'a.bin', data: Buffer.alloc(10) }]);
    badHeader[0] = 'b'.charCodeAt(0);
    const bad = join(tmp, 'badsum.tar.gz');
    writeFileSync(bad, gzipSync(badHeader));
    await expectDataError(extractTarGz(bad, dest), bad, /corrupt tar header/);
  });

  it('extracts nested files exactly', async () => {
    const data = Buffer.from(Array.from({ length: 1025 }, (_, i) => i & 255));
    const a = join(tmp, 'x.tar.gz');
    writeFileSync(a, gzipSync(tarBuffer([{ name: 'd/e/f.bin', data }, { name: 'empty.txt' }])));
    const written = await extractTarGz(a, join(tmp, 'o'));
    expect(written).toEqual(['d/e/f.bin', 'empty.txt']);
    expect(readFileSync(join(tmp, 'o', 'd', 'e', 'f.bin')).equals(data)).toBe(true);
    expect(readFileSync(join(tmp, 'o', 'empty.txt')).length).toBe(0);
  });
});
