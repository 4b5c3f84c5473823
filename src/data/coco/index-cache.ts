/**
 * A binary cache of a COCO annotation index, so COCO's 450 MB train2017 file is streamed once (about a minute through
 * stream-json), not on every start: a small JSON header (file names, categories, skip counts) and the index's typed
 * arrays, raw. It is keyed by the annotation file's resolved path, size, mtime and inode, and lives next to the file
 * (`.instances_x.json.pwlu-index`) or, where that folder is read-only, in $XDG_CACHE_HOME/pwlu/coco (~/.cache).
 * A cache only saves time: a damaged, stale or unwritable one is ignored. As for the folder index, no cache is written
 * while the file was modified within the last RACY_MS (a coarse timestamp could hide a change in the same tick).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DataError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/io.js';
import { type CocoIndex, type CocoIndexData, indexWithPolicy, parseCocoAnnotations, type ReadAnnotationsOptions } from './annotations.js';

const MAGIC = 'PWLUCOCO';
const VERSION = 1;
const RACY_MS = 2000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The header's fields: everything of the index that is not a typed array. */
type Header = Pick<CocoIndexData, 'fileNames' | 'categories' | 'mean' | 'std' | 'skippedAnnotations' | 'skippedImages' | 'reasons' | 'firstBad'> & {
  version: number;
  key: string;
  littleEndian: boolean;
  nImages: number;
  nAnn: number;
};

/** The typed arrays in file order, with their element constructors and lengths. */
const ARRAYS = [
  ['imageIds', Float64Array, 'img'],
  ['widths', Int32Array, 'img'],
  ['heights', Int32Array, 'img'],
  ['annStart', Int32Array, 'img+1'],
  ['annIds', Float64Array, 'ann'],
  ['boxes', Float32Array, 'ann*4'],
  ['bbox', Float64Array, 'ann*4'],
  ['categoryIds', Int32Array, 'ann'],
  ['labels', Int32Array, 'ann'],
  ['iscrowd', Uint8Array, 'ann'],
  ['area', Float64Array, 'ann'],
] as const;

type ArrayKey = (typeof ARRAYS)[number][0];

function lengthOf(kind: (typeof ARRAYS)[number][2], nImages: number, nAnn: number): number {
  switch (kind) {
    case 'img':
      return nImages;
    case 'img+1':
      return nImages + 1;
    case 'ann':
      return nAnn;
    case 'ann*4':
      return 4 * nAnn;
  }
}

/** Where the cache of an annotation file may be, in the order it is looked for. */
export function indexCachePaths(file: string): string[] {
  const abs = resolve(file);
  const tag = createHash('sha256').update(abs).digest('hex').slice(0, 16);
  const home = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return [join(dirname(abs), `.${basename(abs)}.pwlu-index`), join(home, 'pwlu', 'coco', `${tag}-${basename(abs)}.pwlu-index`)];
}

/** The annotation file's identity: a change of content almost always changes size or mtime (and a replace, the inode). */
function fileKey(file: string): { key: string; mtimeMs: number } {
  const st = statSync(file, { bigint: true });
  return { key: `${resolve(file)}\t${st.size}\t${st.mtimeNs}\t${st.ino}`, mtimeMs: Number(st.mtimeMs) };
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;

/** The cache file's bytes for an index. */
export function encodeIndex(data: CocoIndexData, key: string): Uint8Array[] {
  const header: Header = {
    version: VERSION,
    key,
    littleEndian: LITTLE_ENDIAN,
    nImages: data.imageIds.length,
    nAnn: data.annIds.length,
    fileNames: data.fileNames,
    categories: data.categories,
    mean: data.mean,
    std: data.std,
    skippedAnnotations: data.skippedAnnotations,
    skippedImages: data.skippedImages,
    reasons: data.reasons,
    firstBad: data.firstBad,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(12);
  lead.write(MAGIC, 0, 'latin1');
  lead.writeUInt32LE(json.length, 8);
  const chunks: Uint8Array[] = [lead, json, new Uint8Array(pad8(12 + json.length))];
  for (const [name] of ARRAYS) {
    const a = data[name];
    chunks.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(pad8(a.byteLength)));
  }
  return chunks;
}

/** An index from cache bytes, or null when they are not a cache of `key` (damaged, stale, another version). */
export function decodeIndex(bytes: Uint8Array, key: string, file: string): CocoIndexData | null {
  try {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf.length < 12 || buf.toString('latin1', 0, 8) !== MAGIC) return null;
    const len = buf.readUInt32LE(8);
    const header = JSON.parse(buf.toString('utf8', 12, 12 + len)) as Header;
    if (header.version !== VERSION || header.key !== key || header.littleEndian !== LITTLE_ENDIAN) return null;
    let at = 12 + len + pad8(12 + len);
    const arrays = {} as Record<ArrayKey, Float64Array | Float32Array | Int32Array | Uint8Array>;
    for (const [name, Ctor, kind] of ARRAYS) {
      const n = lengthOf(kind, header.nImages, header.nAnn);
      const a = new Ctor(n);
      const byteLength = n * Ctor.BYTES_PER_ELEMENT;
      if (at + byteLength > buf.length) return null;
      new Uint8Array(a.buffer).set(buf.subarray(at, at + byteLength));
      arrays[name] = a;
      at += byteLength + pad8(byteLength);
    }
    if (at !== buf.length || header.fileNames.length !== header.nImages) return null;
    return {
      file,
      imageIds: arrays.imageIds as Float64Array,
      fileNames: header.fileNames,
      widths: arrays.widths as Int32Array,
      heights: arrays.heights as Int32Array,
      annStart: arrays.annStart as Int32Array,
      annIds: arrays.annIds as Float64Array,
      boxes: arrays.boxes as Float32Array,
      bbox: arrays.bbox as Float64Array,
      categoryIds: arrays.categoryIds as Int32Array,
      labels: arrays.labels as Int32Array,
      iscrowd: arrays.iscrowd as Uint8Array,
      area: arrays.area as Float64Array,
      categories: header.categories,
      mean: header.mean,
      std: header.std,
      skippedAnnotations: header.skippedAnnotations,
      skippedImages: header.skippedImages,
      reasons: header.reasons,
      firstBad: header.firstBad,
    };
  } catch {
    return null;
  }
}

/** Options of `loadCocoIndex`. */
export interface LoadIndexOptions extends ReadAnnotationsOptions {
  /** Read and write the index cache (default true); or the paths to use instead of `indexCachePaths`. */
  cache?: boolean | readonly string[];
}

/** How the index was obtained, for the log and tests. */
export interface LoadedIndex {
  index: CocoIndex;
  /** The cache file it came from, or null when the annotation file was parsed. */
  fromCache: string | null;
  /** The cache file written after parsing, or null (not cached, racy, or no writable place). */
  wroteCache: string | null;
}

/**
 * An annotation file's index: from its cache when the file is unchanged, else streamed and parsed (and cached). The
 * bad-entry policy applies either way (the cache keeps what was skipped and why).
 */
export async function loadCocoIndex(file: string, opts: LoadIndexOptions = {}): Promise<LoadedIndex> {
  if (!existsSync(file)) throw new DataError(`${file}: annotation file not found`);
  const paths = opts.cache === false ? [] : opts.cache === true || opts.cache === undefined ? indexCachePaths(file) : [...opts.cache];
  const { key, mtimeMs } = fileKey(file);
  for (const p of paths) {
    if (!existsSync(p)) continue;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(p);
    } catch {
      continue;
    }
    const data = decodeIndex(bytes, key, file);
    if (data) return { index: indexWithPolicy(data, opts), fromCache: p, wroteCache: null };
  }
  const data = await parseCocoAnnotations(file);
  let wrote: string | null = null;
  if (paths.length > 0 && Date.now() - mtimeMs > RACY_MS && fileKey(file).key === key) {
    const chunks = encodeIndex(data, key);
    for (const p of paths) {
      try {
        mkdirSync(dirname(p), { recursive: true });
        writeFileAtomic(p, chunks);
        wrote = p;
        break;
      } catch {
        continue;
      }
    }
  }
  return { index: indexWithPolicy(data, opts), fromCache: null, wroteCache: wrote };
}
