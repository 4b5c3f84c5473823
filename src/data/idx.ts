import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DataError } from '../util/errors.js';
import type { Split } from './types.js';

/**
 * MNIST-family idx files (http://yann.lecun.com/exdb/mnist/): a big-endian header
 * (magic 0x00000803 = 2051 for images with n, rows, cols; 0x00000801 = 2049 for labels with n),
 * then unsigned bytes. Files may be gzip-compressed (detected by content, not by name).
 */

const gunzipAsync = promisify(gunzip);

/** idx magic numbers: unsigned bytes, 3 dimensions (images) / 1 dimension (labels). */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

/** Reads a file and gunzips it when it starts with the gzip magic; corrupt gzip becomes a DataError. */
export async function readMaybeGzip(path: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read file (${(e as Error).message})`);
  }
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzipAsync(raw);
    } catch (e) {
      throw new DataError(`${path}: corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  if (path.endsWith('.gz')) {
    throw new DataError(`${path}: named .gz but is not gzip data (no gzip magic bytes)`);
  }
  return raw;
}

/** A parsed idx file: its dimensions and its payload (a view into the decompressed buffer). */
export interface IdxFile {
  dims: number[];
  data: Uint8Array;
}

/** Parses an idx buffer, checking magic, unsigned-byte type, dimension count and exact payload length. */
export function parseIdx(buf: Uint8Array, path: string, expectMagic: number): IdxFile {
  const kind = expectMagic === IDX_IMAGES_MAGIC ? 'images' : 'labels';
  if (buf.length < 4) throw new DataError(`${path}: too short for an idx header (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectMagic) {
    throw new DataError(
      `${path}: bad magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}); expected ${expectMagic} for idx ${kind}` +
        (magic === (expectMagic === IDX_IMAGES_MAGIC ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC)
          ? ` (this looks like an idx ${kind === 'images' ? 'labels' : 'images'} file; are the files swapped?)`
          : ''),
    );
  }
  const ndims = magic & 0xff;
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) {
    throw new DataError(`${path}: truncated header (${buf.length} bytes, need ${headerLen})`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buf.length - headerLen;
  if (actual < expected) {
    throw new DataError(`${path}: truncated: header declares ${dims.join('x')} = ${expected} bytes of data, file has ${actual}`);
  }
  if (actual > expected) {
    throw new DataError(`${path}: wrong size: header declares ${dims.join('x')} = ${expected} bytes of data, file has ${actual} (${actual - expected} extra)`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerLen, expected) };
}

/** Loads an idx3 image file into NHWC uint8 (channels = 1). */
export async function loadIdxImages(path: string): Promise<{ images: Uint8Array; n: number; rows: number; cols: number }> {
  const f = parseIdx(await readMaybeGzip(path), path, IDX_IMAGES_MAGIC);
  const [n, rows, cols] = f.dims as [number, number, number];
  if (n === 0 || rows === 0 || cols === 0) throw new DataError(`${path}: empty image file (${f.dims.join('x')})`);
  return { images: f.data, n, rows, cols };
}

/** Loads an idx1 label file, checking every label is in [0, numClasses). */
export async function loadIdxLabels(path: string, numClasses: number): Promise<Int32Array> {
  const f = parseIdx(await readMaybeGzip(path), path, IDX_LABELS_MAGIC);
  const labels = Int32Array.from(f.data);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= numClasses) {
      throw new DataError(`${path}: label ${labels[i]} at index ${i} is out of range [0, ${numClasses})`);
    }
  }
  return labels;
}

/** The accepted spellings of each idx file, preferred first (`train-images-idx3-ubyte[.gz]`, `train-images.idx3-ubyte`). */
export function idxFileCandidates(split: 'train' | 't10k', kind: 'images' | 'labels'): string[] {
  const suffix = kind === 'images' ? 'idx3-ubyte' : 'idx1-ubyte';
  const bases = [`${split}-${kind}-${suffix}`, `${split}-${kind}.${suffix}`];
  return bases.flatMap((b) => [b, `${b}.gz`]);
}

/** Finds an idx file in `dir` under any accepted name; null when absent. */
export function findIdxFile(dir: string, split: 'train' | 't10k', kind: 'images' | 'labels'): string | null {
  for (const name of idxFileCandidates(split, kind)) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Whether `dir` holds all four idx files. */
export function hasIdxFiles(dir: string): boolean {
  return (['train', 't10k'] as const).every((s) => (['images', 'labels'] as const).every((k) => findIdxFile(dir, s, k) !== null));
}

/** Loads one split (images + labels), checking the counts agree. */
async function loadIdxSplit(dir: string, split: 'train' | 't10k', numClasses: number): Promise<Split & { rows: number; cols: number }> {
  const imgPath = findIdxFile(dir, split, 'images');
  const lblPath = findIdxFile(dir, split, 'labels');
  if (imgPath === null || lblPath === null) {
    const missing = [imgPath === null ? idxFileCandidates(split, 'images')[1] : null, lblPath === null ? idxFileCandidates(split, 'labels')[1] : null]
      .filter((x) => x !== null)
      .join(', ');
    throw new DataError(`${dir}: missing idx file(s): ${missing} (raw or .gz)`);
  }
  const [img, labels] = await Promise.all([loadIdxImages(imgPath), loadIdxLabels(lblPath, numClasses)]);
  if (labels.length !== img.n) {
    throw new DataError(`${lblPath}: wrong count: ${labels.length} labels but ${imgPath} has ${img.n} images`);
  }
  return { images: img.images, labels, n: img.n, rows: img.rows, cols: img.cols };
}

/** Loads an MNIST/Fashion-MNIST directory: train (train-*) and test (t10k-*) splits, uint8 NHWC with C = 1. */
export async function loadIdxDataset(dir: string, numClasses: number): Promise<{ train: Split; test: Split; height: number; width: number }> {
  const [train, test] = await Promise.all([loadIdxSplit(dir, 'train', numClasses), loadIdxSplit(dir, 't10k', numClasses)]);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new DataError(`${dir}: train images are ${train.rows}x${train.cols} but test images are ${test.rows}x${test.cols}`);
  }
  return {
    train: { images: train.images, labels: train.labels, n: train.n },
    test: { images: test.images, labels: test.labels, n: test.n },
    height: train.rows,
    width: train.cols,
  };
}
