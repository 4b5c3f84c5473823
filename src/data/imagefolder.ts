import { constants as bufferConstants } from 'node:buffer';
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { loadSharp } from './sharp.js';
import { DataError } from '../util/errors.js';
import { createCounter } from '../util/progress.js';
import type { Split } from './types.js';

/**
 * ImageNet-style folders: ROOT/train/<class>/*.{jpg,jpeg,png,webp} and ROOT/val/<class>/... (or ROOT/test/).
 * Classes are the sub-folder names of train/, sorted by code point (like torchvision's ImageFolder),
 * so the label of a class does not depend on the file system's listing order.
 */

/** ImageNet statistics (torchvision's), used to normalise image-folder data. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Image file extensions (lower-case) an image folder's classes hold. */
export const IMAGE_EXTS = new Set(['.jpg', '.jpeg', '.png', '.webp']);

/** One split's file list, labels aligned with files. */
export interface FolderSplit {
  files: string[];
  labels: Int32Array;
}

/** The result of listing an image folder, before any decoding. */
export interface ImageFolderScan {
  root: string;
  classes: string[];
  train: FolderSplit;
  test: FolderSplit;
  /** Which folder held the evaluation split. */
  testDir: 'val' | 'test';
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Whether `p` is a directory (false when it does not exist or cannot be read). */
export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `dir` looks like an image folder (has train/ and val/ or test/). */
export function hasImageFolder(dir: string): boolean {
  return isDir(join(dir, 'train')) && (isDir(join(dir, 'val')) || isDir(join(dir, 'test')));
}

async function readDir(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new DataError(`${dir}: cannot list folder (${(e as Error).message})`);
  }
}

async function listImages(dir: string): Promise<string[]> {
  const entries = await readDir(dir);
  return entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && IMAGE_EXTS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort(byCodePoint)
    .map((n) => join(dir, n));
}

/** The class sub-folders of a split folder (no dot-names), sorted by code point. */
export async function listClassDirs(dir: string): Promise<string[]> {
  const entries = await readDir(dir);
  return entries
    .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && isDir(join(dir, e.name)))))
    .map((e) => e.name)
    .sort(byCodePoint);
}

/** Lists classes and files of an image folder without decoding anything. */
export async function scanImageFolder(root: string): Promise<ImageFolderScan> {
  const trainDir = join(root, 'train');
  if (!isDir(trainDir)) throw new DataError(`${root}: no train/ folder (expected ROOT/train/<class>/*.jpg)`);
  const testDir = isDir(join(root, 'val')) ? 'val' : isDir(join(root, 'test')) ? 'test' : null;
  if (testDir === null) throw new DataError(`${root}: no val/ or test/ folder (expected ROOT/val/<class>/*.jpg)`);

  const classes = await listClassDirs(trainDir);
  if (classes.length < 2) {
    throw new DataError(`${trainDir}: found ${classes.length} class folder(s); need at least 2 (ROOT/train/<class>/)`);
  }
  const classIndex = new Map(classes.map((c, i) => [c, i]));

  const train: { files: string[]; labels: number[] } = { files: [], labels: [] };
  for (const [i, c] of classes.entries()) {
    const files = await listImages(join(trainDir, c));
    if (files.length === 0) throw new DataError(`${join(trainDir, c)}: class folder has no .jpg/.jpeg/.png images (nor .webp)`);
    for (const f of files) {
      train.files.push(f);
      train.labels.push(i);
    }
  }

  const evalRoot = join(root, testDir);
  const test: { files: string[]; labels: number[] } = { files: [], labels: [] };
  for (const c of await listClassDirs(evalRoot)) {
    const label = classIndex.get(c);
    if (label === undefined) {
      throw new DataError(`${join(evalRoot, c)}: class "${c}" does not exist in ${trainDir}`);
    }
    for (const f of await listImages(join(evalRoot, c))) {
      test.files.push(f);
      test.labels.push(label);
    }
  }
  if (test.files.length === 0) throw new DataError(`${evalRoot}: no images found in its class folders`);

  return {
    root,
    classes,
    train: { files: train.files, labels: Int32Array.from(train.labels) },
    test: { files: test.files, labels: Int32Array.from(test.labels) },
    testDir,
  };
}

/** Options for `decodeImages`. */
export interface DecodeOptions {
  /** Images decoded at once (sharp also uses its own thread pool). Default: min(4, cores). */
  concurrency?: number;
  /** Show a progress bar (stderr TTY only) for more than this many images. Default 500; Infinity disables. */
  progressThreshold?: number;
  /** Label for the progress bar. */
  label?: string;
}

/**
 * Decodes one image to size x size x 3 uint8: resize so the shorter side is `size`, centre-crop,
 * drop alpha, greyscale expanded to RGB.
 */
export async function decodeImage(file: string, size: number, out: Uint8Array, outOffset: number): Promise<void> {
  let data: Buffer;
  let channels: number;
  const sharp = await loadSharp();
  try {
    const r = await sharp(file)
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    data = r.data;
    channels = r.info.channels;
    if (r.info.width !== size || r.info.height !== size) {
      throw new Error(`decoded to ${r.info.width}x${r.info.height}, expected ${size}x${size}`);
    }
  } catch (e) {
    throw new DataError(`${file}: cannot decode image (${(e as Error).message})`);
  }
  const px = size * size;
  if (channels === 3) {
    out.set(data.subarray(0, px * 3), outOffset);
  } else if (channels === 4) {
    for (let i = 0; i < px; i++) {
      out[outOffset + 3 * i] = data[4 * i]!;
      out[outOffset + 3 * i + 1] = data[4 * i + 1]!;
      out[outOffset + 3 * i + 2] = data[4 * i + 2]!;
    }
  } else if (channels === 1 || channels === 2) {
    for (let i = 0; i < px; i++) {
      const v = data[channels * i]!;
      out[outOffset + 3 * i] = v;
      out[outOffset + 3 * i + 1] = v;
      out[outOffset + 3 * i + 2] = v;
    }
  } else {
    throw new DataError(`${file}: unsupported channel count ${channels}`);
  }
}

/** Decodes a file list into one uint8 NHWC split with bounded concurrency; the first failure aborts. */
export async function decodeImages(files: string[], labels: Int32Array, size: number, opts: DecodeOptions = {}): Promise<Split> {
  const n = files.length;
  if (labels.length !== n) throw new Error(`decodeImages: ${n} files but ${labels.length} labels`);
  const per = size * size * 3;
  if (n * per > bufferConstants.MAX_LENGTH) {
    throw new DataError(
      `${n} images of ${size}x${size}x3 need ${((n * per) / 2 ** 30).toFixed(1)} GiB, more than one buffer can hold ` +
        `(${(bufferConstants.MAX_LENGTH / 2 ** 30).toFixed(1)} GiB); lower data.image_size or set data.train_subset`,
    );
  }
  const images = new Uint8Array(n * per);
  const concurrency = Math.max(1, opts.concurrency ?? Math.min(4, availableParallelism()));
  const progress = createCounter(opts.label ?? 'decoding', n, 'items', n > (opts.progressThreshold ?? 500));
  let next = 0;
  let failed: Error | null = null;
  const worker = async () => {
    while (failed === null) {
      const i = next++;
      if (i >= n) return;
      try {
        await decodeImage(files[i]!, size, images, i * per);
      } catch (e) {
        failed ??= e instanceof Error ? e : new Error(String(e));
        return;
      }
      progress.increment(1);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, n)) }, worker));
  } finally {
    progress.stop();
  }
  const error = failed as Error | null; // set by the workers (closures TypeScript does not track)
  if (error !== null) throw error;
  return { images, labels: Int32Array.from(labels), n };
}
