/**
 * Test fixtures written in the real on-disk formats (idx raw/gz, CIFAR-10/100 binary, image folders,
 * tar.gz), into temporary directories, plus a mock `fetch`. Shared by tests that need real data files.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { expect } from 'vitest';
import { isStreamed, type AnySplit, type Dataset, type MemoryDataset, type Split } from '../../src/data/types.js';
import { DataError } from '../../src/util/errors.js';

/** md5 hex of bytes, for building catalogue entries that match fixture files. */
export function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

function writeFile(path: string, data: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** Encodes an idx file: big-endian magic and dimensions, then the bytes. */
export function idxBuffer(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/**
 * Deterministic pixel content that encodes the image index, so tests can tell images apart after
 * shuffling/subsetting: byte 0 = i & 255, byte 1 = (i >> 8) & 255, the rest a pattern.
 */
export function fixturePixels(n: number, imageBytes: number, salt = 0): Uint8Array {
  const out = new Uint8Array(n * imageBytes);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < imageBytes; p++) {
      out[i * imageBytes + p] = p === 0 ? i & 255 : p === 1 ? (i >> 8) & 255 : (i * 31 + p * 7 + salt) & 255;
    }
  }
  return out;
}

/** Recovers the index written by `fixturePixels` from an image's first two bytes. */
export function fixtureIndex(images: Uint8Array, k: number, imageBytes: number): number {
  return images[k * imageBytes]! | (images[k * imageBytes + 1]! << 8);
}

/** Labels 0..classes-1 cycling with a stride, deterministic. */
export function fixtureLabels(n: number, classes: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % classes);
}

export interface IdxFixture {
  dir: string;
  rows: number;
  cols: number;
  train: { images: Uint8Array; labels: Uint8Array; n: number };
  test: { images: Uint8Array; labels: Uint8Array; n: number };
  /** Paths written, by role. */
  paths: { trainImages: string; trainLabels: string; testImages: string; testLabels: string };
}

/** Writes the four MNIST-style idx files into `dir` (gzipped or raw; dash or dot naming). */
export function writeIdxDataset(
  dir: string,
  opts: { nTrain?: number; nTest?: number; rows?: number; cols?: number; gzip?: boolean; naming?: 'dash' | 'dot'; classes?: number } = {},
): IdxFixture {
  const { nTrain = 60, nTest = 20, rows = 28, cols = 28, gzip = true, naming = 'dash', classes = 10 } = opts;
  const ext = gzip ? '.gz' : '';
  const name = (split: string, kind: string, suffix: string) => (naming === 'dash' ? `${split}-${kind}-${suffix}${ext}` : `${split}-${kind}.${suffix}${ext}`);
  const enc = (b: Buffer) => (gzip ? gzipSync(b) : b);
  const train = { images: fixturePixels(nTrain, rows * cols), labels: fixtureLabels(nTrain, classes), n: nTrain };
  const test = { images: fixturePixels(nTest, rows * cols, 99), labels: fixtureLabels(nTest, classes).reverse(), n: nTest };
  const paths = {
    trainImages: join(dir, name('train', 'images', 'idx3-ubyte')),
    trainLabels: join(dir, name('train', 'labels', 'idx1-ubyte')),
    testImages: join(dir, name('t10k', 'images', 'idx3-ubyte')),
    testLabels: join(dir, name('t10k', 'labels', 'idx1-ubyte')),
  };
  writeFile(paths.trainImages, enc(idxBuffer(2051, [nTrain, rows, cols], train.images)));
  writeFile(paths.trainLabels, enc(idxBuffer(2049, [nTrain], train.labels)));
  writeFile(paths.testImages, enc(idxBuffer(2051, [nTest, rows, cols], test.images)));
  writeFile(paths.testLabels, enc(idxBuffer(2049, [nTest], test.labels)));
  return { dir, rows, cols, train, test, paths };
}

/** An image as HWC bytes plus its label, for CIFAR fixtures. */
export interface CifarFixtureSplit {
  /** HWC uint8, what the loader must produce. */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
}

/** Encodes CIFAR records: label byte(s) then the image in CHW order. */
export function cifarRecords(hwc: Uint8Array, labels: Uint8Array[], labelBytes: 1 | 2): Buffer {
  const n = labels.length;
  const rec = labelBytes + 3072;
  const out = Buffer.alloc(n * rec);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < labelBytes; b++) out[i * rec + b] = labels[i]![b]!;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) out[i * rec + labelBytes + c * 1024 + p] = hwc[i * 3072 + p * 3 + c]!;
    }
  }
  return out;
}

/** Writes CIFAR-10 binary batches (5 train batches of `perBatch`, one test batch), optionally in the tarball's subfolder. */
export function writeCifar10(
  dir: string,
  opts: { perBatch?: number; nTest?: number; subdir?: boolean } = {},
): {
  root: string;
  train: CifarFixtureSplit;
  test: CifarFixtureSplit;
} {
  const { perBatch = 4, nTest = 6, subdir = false } = opts;
  const root = subdir ? join(dir, 'cifar-10-batches-bin') : dir;
  const nTrain = 5 * perBatch;
  const train = { images: fixturePixels(nTrain, 3072), labels: fixtureLabels(nTrain, 10), n: nTrain };
  const test = { images: fixturePixels(nTest, 3072, 5), labels: fixtureLabels(nTest, 10).reverse(), n: nTest };
  for (let b = 0; b < 5; b++) {
    const s = b * perBatch;
    const hwc = train.images.subarray(s * 3072, (s + perBatch) * 3072);
    const labels = Array.from(train.labels.subarray(s, s + perBatch), (l) => Uint8Array.of(l));
    writeFile(join(root, `data_batch_${b + 1}.bin`), cifarRecords(hwc, labels, 1));
  }
  writeFile(
    join(root, 'test_batch.bin'),
    cifarRecords(
      test.images,
      Array.from(test.labels, (l) => Uint8Array.of(l)),
      1,
    ),
  );
  writeFile(join(root, 'batches.meta.txt'), Buffer.from('airplane\nautomobile\n'));
  return { root, train, test };
}

/** Writes CIFAR-100 binary train.bin/test.bin (coarse = fine % 20), optionally in the tarball's subfolder. */
export function writeCifar100(
  dir: string,
  opts: { nTrain?: number; nTest?: number; subdir?: boolean } = {},
): {
  root: string;
  train: CifarFixtureSplit;
  test: CifarFixtureSplit;
} {
  const { nTrain = 12, nTest = 5, subdir = false } = opts;
  const root = subdir ? join(dir, 'cifar-100-binary') : dir;
  const fine = (n: number, off: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + off) % 100);
  const train = { images: fixturePixels(nTrain, 3072, 1), labels: fine(nTrain, 0), n: nTrain };
  const test = { images: fixturePixels(nTest, 3072, 2), labels: fine(nTest, 50), n: nTest };
  const recs = (s: CifarFixtureSplit) =>
    cifarRecords(
      s.images,
      Array.from(s.labels, (l) => Uint8Array.of(l % 20, l)),
      2,
    );
  writeFile(join(root, 'train.bin'), recs(train));
  writeFile(join(root, 'test.bin'), recs(test));
  return { root, train, test };
}

/** A solid-colour or striped test image. */
export interface FixtureImage {
  /** Path relative to the image-folder root, e.g. 'train/cat/a.png'. */
  path: string;
  width: number;
  height: number;
  /** RGB colour, or a function of (x, y) giving RGB. */
  colour: [number, number, number] | ((x: number, y: number) => [number, number, number]);
  format: 'png' | 'jpeg';
  /** Write as 1-channel greyscale (uses the red component) or RGBA. */
  channels?: 1 | 3 | 4;
}

/** Writes images with sharp in their real formats. */
export async function writeImages(root: string, images: FixtureImage[]): Promise<void> {
  for (const im of images) {
    const ch = im.channels ?? 3;
    const raw = Buffer.alloc(im.width * im.height * ch);
    for (let y = 0; y < im.height; y++) {
      for (let x = 0; x < im.width; x++) {
        const rgb = typeof im.colour === 'function' ? im.colour(x, y) : im.colour;
        const o = (y * im.width + x) * ch;
        if (ch === 1) raw[o] = rgb[0];
        else {
          raw[o] = rgb[0];
          raw[o + 1] = rgb[1];
          raw[o + 2] = rgb[2];
          if (ch === 4) raw[o + 3] = 255;
        }
      }
    }
    const img = sharp(raw, { raw: { width: im.width, height: im.height, channels: ch } });
    const buf = im.format === 'png' ? await img.png().toBuffer() : await img.jpeg({ quality: 95 }).toBuffer();
    writeFile(join(root, im.path), buf);
  }
}

/** Class colours used by `writeImageFolder`. */
export const FOLDER_COLOURS: Record<string, [number, number, number]> = {
  cat: [200, 30, 30],
  dog: [30, 200, 30],
  emu: [30, 30, 200],
};

/** A tiny ImageNet-style folder: train/{cat,dog,emu} with PNG and JPEG images of varied sizes, and val/ (or test/). */
export async function writeImageFolder(
  root: string,
  opts: { perClass?: number; valPerClass?: number; evalDir?: 'val' | 'test' } = {},
): Promise<{ classes: string[]; nTrain: number; nVal: number }> {
  const { perClass = 3, valPerClass = 1, evalDir = 'val' } = opts;
  const classes = Object.keys(FOLDER_COLOURS).sort();
  const images: FixtureImage[] = [];
  for (const c of classes) {
    for (let i = 0; i < perClass; i++) {
      images.push({
        path: `train/${c}/img${i}.${i % 2 === 0 ? 'png' : 'jpg'}`,
        width: 20 + 6 * i,
        height: 16 + 3 * i,
        colour: FOLDER_COLOURS[c]!,
        format: i % 2 === 0 ? 'png' : 'jpeg',
      });
    }
    for (let i = 0; i < valPerClass; i++) {
      images.push({ path: `${evalDir}/${c}/v${i}.png`, width: 24, height: 24, colour: FOLDER_COLOURS[c]!, format: 'png' });
    }
  }
  await writeImages(root, images);
  return { classes, nTrain: classes.length * perClass, nVal: classes.length * valPerClass };
}

/** A file member for `tarBuffer`. */
export interface TarMember {
  name: string;
  data?: Uint8Array;
  type?: 'file' | 'dir';
}

/** Builds a ustar archive (what `tar` writes) for download/extraction tests. */
export function tarBuffer(members: TarMember[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = m.data ?? new Uint8Array(0);
    const h = Buffer.alloc(512);
    h.write(m.name, 0, 100, 'utf8');
    h.write(m.type === 'dir' ? '0000755\0' : '0000644\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    h.write('14000000000\0', 136, 'ascii');
    h.write('        ', 148, 'ascii');
    h.write(m.type === 'dir' ? '5' : '0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    blocks.push(h, Buffer.from(data));
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** What a mocked URL answers: bytes (200), an HTTP status, or a thrown network error. */
export type MockRoute = Uint8Array | { status: number } | Error;

/** A `fetch` replacement serving fixed routes; records the URLs requested. Never touches the network. */
export function mockFetch(routes: Record<string, MockRoute>): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const answer = (input: string | URL | Request): Response => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    const r = routes[url];
    if (r === undefined) {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error(`getaddrinfo ENOTFOUND ${new URL(url).host}`), { code: 'ENOTFOUND' }) });
    }
    if (r instanceof Error) throw r;
    if (r instanceof Uint8Array) {
      return new Response(r, { status: 200, headers: { 'content-length': String(r.length) } });
    }
    return new Response('error', { status: r.status, statusText: r.status === 404 ? 'Not Found' : 'Error' });
  };
  // As fetch does, the URL is recorded at the call and a thrown error rejects the promise (the executor runs synchronously).
  const impl = (input: string | URL | Request): Promise<Response> => new Promise((resolve) => resolve(answer(input)));
  return { fetch: impl, calls };
}

/** Asserts that `p` rejects with a DataError (exit code 2) whose message names `file` and matches `what`. */
export async function expectDataError(p: Promise<unknown>, file: string, what: RegExp): Promise<DataError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  const msg = (err as DataError).message;
  expect(msg).toContain(file);
  expect(msg).toMatch(what);
  expect((err as DataError).exitCode).toBe(2);
  return err as DataError;
}

/** The dataset's splits as in-memory pixels (idx, CIFAR, synthetic); a streamed split fails the test. */
export function inMemory(ds: Dataset): MemoryDataset {
  if (isStreamed(ds.train) || isStreamed(ds.test)) throw new Error(`${ds.name} is streamed, not in memory`);
  return ds as MemoryDataset;
}

/** One split's in-memory pixels; a streamed split fails the test. */
export function memorySplit(split: AnySplit): Split {
  if (isStreamed(split)) throw new Error('the split is streamed, not in memory');
  return split;
}
