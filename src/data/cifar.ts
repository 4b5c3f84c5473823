import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import type { Split } from './types.js';

/**
 * CIFAR binary versions (https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of
 * label byte(s) followed by 3072 bytes of a 32x32 image in CHW order (1024 R, 1024 G, 1024 B).
 * CIFAR-10: 1 label byte (0..9). CIFAR-100: coarse byte (0..19) then fine byte (0..99); we use fine.
 */

export type CifarVariant = 'cifar10' | 'cifar100';

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXELS = 3 * PLANE;

interface VariantInfo {
  subdir: string;
  train: string[];
  test: string[];
  labelBytes: number;
  numClasses: number;
}

const VARIANTS: Record<CifarVariant, VariantInfo> = {
  cifar10: {
    subdir: 'cifar-10-batches-bin',
    train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
    test: ['test_batch.bin'],
    labelBytes: 1,
    numClasses: 10,
  },
  cifar100: {
    subdir: 'cifar-100-binary',
    train: ['train.bin'],
    test: ['test.bin'],
    labelBytes: 2,
    numClasses: 100,
  },
};

/** The files a CIFAR variant needs, and the tarball's subfolder they may sit in. */
export function cifarFiles(variant: CifarVariant): { subdir: string; files: string[] } {
  const v = VARIANTS[variant];
  return { subdir: v.subdir, files: [...v.train, ...v.test] };
}

/** Resolves where the .bin files are: `dir` itself or the official tarball's subfolder; null if incomplete. */
export function resolveCifarDir(dir: string, variant: CifarVariant): string | null {
  const { subdir, files } = cifarFiles(variant);
  for (const d of [dir, join(dir, subdir)]) {
    if (files.every((f) => existsSync(join(d, f)))) return d;
  }
  return null;
}

/** Reads and validates one or more record files into a single HWC split. */
async function loadCifarFiles(paths: string[], info: VariantInfo): Promise<Split> {
  const rec = info.labelBytes + PIXELS;
  const sizes: number[] = [];
  for (const p of paths) {
    let size: number;
    try {
      size = (await stat(p)).size;
    } catch (e) {
      throw new DataError(`${p}: cannot read file (${(e as Error).message})`);
    }
    if (size === 0) throw new DataError(`${p}: empty file`);
    if (size % rec !== 0) {
      throw new DataError(
        `${p}: truncated or wrong format: ${size} bytes is not a whole number of ${rec}-byte records ` +
          `(${Math.floor(size / rec)} records + ${size % rec} bytes)`,
      );
    }
    sizes.push(size);
  }
  const n = sizes.reduce((a, s) => a + s / rec, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let idx = 0;
  const chunkRecords = 1000;
  const buf = new Uint8Array(chunkRecords * rec);
  for (let f = 0; f < paths.length; f++) {
    const p = paths[f]!;
    const fh = await open(p, 'r');
    try {
      let remaining = sizes[f]! / rec;
      let fileRecord = 0;
      while (remaining > 0) {
        const count = Math.min(chunkRecords, remaining);
        const want = count * rec;
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, null);
          if (bytesRead === 0) throw new DataError(`${p}: file shrank while reading (truncated)`);
          got += bytesRead;
        }
        for (let r = 0; r < count; r++) {
          const base = r * rec;
          let label: number;
          if (info.labelBytes === 2) {
            const coarse = buf[base]!;
            if (coarse >= 20) {
              throw new DataError(`${p}: coarse label ${coarse} in record ${fileRecord} is out of range [0, 20)`);
            }
            label = buf[base + 1]!;
          } else {
            label = buf[base]!;
          }
          if (label >= info.numClasses) {
            throw new DataError(`${p}: label ${label} in record ${fileRecord} is out of range [0, ${info.numClasses})`);
          }
          labels[idx] = label;
          // CHW -> HWC.
          const src = base + info.labelBytes;
          const dst = idx * PIXELS;
          for (let i = 0; i < PLANE; i++) {
            const o = dst + 3 * i;
            images[o] = buf[src + i]!;
            images[o + 1] = buf[src + PLANE + i]!;
            images[o + 2] = buf[src + 2 * PLANE + i]!;
          }
          idx++;
          fileRecord++;
        }
        remaining -= count;
      }
    } finally {
      await fh.close();
    }
  }
  return { images, labels, n };
}

/** Loads CIFAR-10 or CIFAR-100 (fine labels) from `dir` or its tarball subfolder, as uint8 NHWC 32x32x3. */
export async function loadCifar(dir: string, variant: CifarVariant): Promise<{ train: Split; test: Split; numClasses: number }> {
  const info = VARIANTS[variant];
  const root = resolveCifarDir(dir, variant);
  if (root === null) {
    const { subdir, files } = cifarFiles(variant);
    const missingIn = (d: string) => files.filter((f) => !existsSync(join(d, f)));
    const [a, b] = [missingIn(dir), missingIn(join(dir, subdir))];
    const [where, missing] = a.length <= b.length ? [dir, a] : [join(dir, subdir), b];
    throw new DataError(`${where}: missing ${variant} file(s): ${missing.join(', ')} (also looked in ${where === dir ? join(dir, subdir) : dir})`);
  }
  const train = await loadCifarFiles(
    info.train.map((f) => join(root, f)),
    info,
  );
  const test = await loadCifarFiles(
    info.test.map((f) => join(root, f)),
    info,
  );
  return { train, test, numClasses: info.numClasses };
}
