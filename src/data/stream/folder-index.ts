import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { z } from 'zod';
import { type ImageFolderScan, isDir, listClassDirs, scanImageFolder } from '../imagefolder.js';
import { cachePaths, readJsonCache, writeJsonCache } from './cache.js';

/**
 * A cached image-folder scan, so listing 1.28 M files does not take minutes on every start. The cache
 * is keyed by the folder's listing: the inode, mtime and size of the split folders and of every class
 * folder. A directory's mtime changes whenever an entry is added, removed or renamed in it, so a
 * changed folder invalidates the cache; stat-ing ~1000 folders takes milliseconds.
 * A scan is not cached while a folder was modified within the last RACY_MS (a file system with
 * coarse timestamps could hide a change made in the same tick), as git does for its index.
 */

/** The cache's file name inside the image folder. */
export const FOLDER_INDEX_FILE = '.pwlu-index.json';
const RACY_MS = 2000;

const FolderIndexSchema = z.object({
  format: z.literal('pwlu-folder-index'),
  version: z.literal(1),
  root: z.string(),
  key: z.string(),
  evalDir: z.enum(['val', 'test']),
  classes: z.array(z.string()),
  /** File names per class (index = label), relative to the class folder, sorted. */
  train: z.array(z.array(z.string())),
  eval: z.array(z.array(z.string())),
});
type FolderIndex = z.infer<typeof FolderIndexSchema>;

/** An image-folder scan and whether it came from the cache. */
export interface CachedScan extends ImageFolderScan {
  fromCache: boolean;
}

/** Options for `scanImageFolderCached`. */
export interface FolderIndexOptions {
  /** Where datasets/.cache/ is, for read-only data folders. */
  projectRoot: string;
  log?: (msg: string) => void;
}

/** The listing key of an image folder and its newest folder mtime; null when it is not an image folder (the scan says why). */
async function listingKey(root: string): Promise<{ key: string; newestMs: number; evalDir: 'val' | 'test' } | null> {
  const evalDir = isDir(join(root, 'val')) ? 'val' : isDir(join(root, 'test')) ? 'test' : null;
  if (!isDir(join(root, 'train')) || evalDir === null) return null;
  const lines: string[] = [];
  let newestMs = 0;
  const add = (dir: string) => {
    const st = statSync(dir, { bigint: true });
    newestMs = Math.max(newestMs, Number(st.mtimeMs));
    lines.push(`${relative(root, dir).split(sep).join('/')}\t${st.ino}\t${st.mtimeNs}\t${st.size}`);
  };
  for (const split of ['train', evalDir]) {
    const splitDir = join(root, split);
    add(splitDir);
    for (const c of await listClassDirs(splitDir)) add(join(splitDir, c));
  }
  return { key: createHash('sha256').update(lines.join('\n')).digest('hex'), newestMs, evalDir };
}

function fromIndex(root: string, ix: FolderIndex): CachedScan {
  const split = (perClass: string[][], dir: string) => {
    const files: string[] = [];
    const labels: number[] = [];
    perClass.forEach((names, label) => {
      const classDir = join(root, dir, ix.classes[label]!);
      for (const n of names) {
        files.push(join(classDir, n));
        labels.push(label);
      }
    });
    return { files, labels: Int32Array.from(labels) };
  };
  return { root, classes: ix.classes, train: split(ix.train, 'train'), test: split(ix.eval, ix.evalDir), testDir: ix.evalDir, fromCache: true };
}

function toIndex(scan: ImageFolderScan, key: string): FolderIndex {
  const perClass = (files: string[], labels: Int32Array) => {
    const out: string[][] = scan.classes.map(() => []);
    files.forEach((f, i) => out[labels[i]!]!.push(f.slice(f.lastIndexOf(sep) + 1)));
    return out;
  };
  return {
    format: 'pwlu-folder-index',
    version: 1,
    root: scan.root,
    key,
    evalDir: scan.testDir,
    classes: scan.classes,
    train: perClass(scan.train.files, scan.train.labels),
    eval: perClass(scan.test.files, scan.test.labels),
  };
}

/**
 * Lists an image folder like `scanImageFolder` (same order, same errors), from the index cache when
 * the folder's listing has not changed since it was written, else scanning and (re)writing the cache.
 */
export async function scanImageFolderCached(root: string, opts: FolderIndexOptions): Promise<CachedScan> {
  const key = await listingKey(root);
  const paths = cachePaths(root, FOLDER_INDEX_FILE, opts.projectRoot);
  if (key !== null) {
    const parsed = FolderIndexSchema.safeParse(readJsonCache(paths));
    if (parsed.success && parsed.data.key === key.key && parsed.data.evalDir === key.evalDir) return fromIndex(root, parsed.data);
  }
  const scan = await scanImageFolder(root);
  if (key !== null && Date.now() - key.newestMs > RACY_MS) {
    const at = writeJsonCache(paths, toIndex(scan, key.key));
    if (at === null) opts.log?.(`${root}: cannot write the file-list cache (read-only here and in ${paths[1]}); the folder is scanned on every start`);
  }
  return { ...scan, fromCache: false };
}
