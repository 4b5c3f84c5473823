import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { pack } from 'tar-stream';
import { ioError, sweepTempFiles, tempPath, writeFileAtomic } from '../../util/io.js';
import { DataError, UserError } from '../../util/errors.js';
import { createCounter } from '../../util/progress.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { scanImageFolderCached } from './folder-index.js';
import { readAhead } from './read-ahead.js';
import { SHARD_INDEX_FILE, type ShardEntry, type ShardIndex, readShardIndex } from './shard-index.js';

/**
 * `pwlu data shard`: an image folder into WebDataset tar shards (`train-%06d.tar`, `eval-%06d.tar`)
 * plus index.json. Members keep the original bytes (KEY.<ext> + KEY.cls); training samples are in a
 * seeded shuffled order, so reading the shards sequentially is already mixed. Every byte written is
 * a function of the folder, the seed and the shard size (members carry a fixed mtime), so a resumed
 * run writes exactly what an uninterrupted one would: each shard goes to a temp name and is renamed
 * when complete, and index.json (complete: false until the end) lists the shards finished so far.
 */

/** WebDataset's usual shard size. */
export const DEFAULT_SHARD_SIZE = 1_000_000_000;
const TRAIN_ORDER_STREAM = 0x5a4d;
const BLOCK = 512;
const END_OF_ARCHIVE = 2 * BLOCK;
/** Names a shard folder may hold: ours, and the temp files of our atomic writes. */
const OUR_FILES = /^(index\.json|(train|eval)-\d{6}\.tar)(\.tmp-\d+)?$/;
const SHARD_FILE = /^(train|eval)-\d{6}\.tar$/;

/** Parses --shard-size: bytes, or a number with KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024). */
export function parseShardSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  const units: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
  const bytes = m === null ? NaN : Math.floor(Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes < 4 * BLOCK) {
    throw new UserError(`--shard-size must be a size like 500MB, 1GB or a byte count of at least ${4 * BLOCK} (got '${text}')`);
  }
  return bytes;
}

/** Options for `writeShards`. */
export interface WriteShardsOptions {
  /** The image folder (ROOT/train/<class>/, ROOT/val/ or test/). */
  source: string;
  out: string;
  shardSize: number;
  /** Seeds the training samples' order. */
  seed: number;
  projectRoot: string;
  progress?: boolean;
  log?: (msg: string) => void;
}

/** What `writeShards` did. */
export interface WriteShardsResult {
  index: ShardIndex;
  /** Shards written by this call, and complete shards of an earlier call it kept. */
  written: number;
  kept: number;
}

type Split = 'train' | 'eval';

/** Bytes one sample takes in a tar: image and label, each a header plus its data padded to blocks. */
function sampleTarBytes(imageBytes: number): number {
  return BLOCK + Math.ceil(imageBytes / BLOCK) * BLOCK + 2 * BLOCK;
}

/**
 * One shard being written: tar-stream packs into a temp file, waiting on each member (backpressure). A failed
 * write (full disk, permissions) is an IoError naming the shard and its size (exit 5), as for every file pwlu writes.
 */
class ShardFile {
  private readonly tar = pack();
  private readonly tmp: string;
  private bytes = 0;
  /** The archive's size so far as its members make it (what `bytes` will reach once written). */
  private packed = 0;
  private samples = 0;
  private readonly drained: Promise<void>;

  private constructor(
    readonly path: string,
    private readonly fh: Awaited<ReturnType<typeof open>>,
  ) {
    this.tmp = tempPath(path);
    this.drained = (async () => {
      for await (const chunk of this.tar) {
        await this.fh.write(chunk as Buffer);
        this.bytes += (chunk as Buffer).byteLength;
      }
    })();
    this.drained.catch((e: unknown) => this.tar.destroy(e as Error));
  }

  static async create(path: string): Promise<ShardFile> {
    try {
      return new ShardFile(path, await open(tempPath(path), 'w'));
    } catch (e) {
      throw ioError(e, path, 0);
    }
  }

  private member(name: string, data: Uint8Array): Promise<void> {
    return new Promise((res, rej) => {
      this.tar.entry({ name, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' }, data, (e) => (e ? rej(e) : res()));
    });
  }

  async add(key: string, ext: string, bytes: Uint8Array, label: number): Promise<void> {
    try {
      await this.member(`${key}.${ext}`, bytes);
      await this.member(`${key}.cls`, Buffer.from(String(label)));
    } catch (e) {
      throw ioError(e, this.path, this.sizeWith(sampleTarBytes(bytes.byteLength)));
    }
    this.packed += sampleTarBytes(bytes.byteLength);
    this.samples++;
  }

  /** Ends the archive, syncs it and renames it into place. */
  async finish(): Promise<ShardEntry> {
    this.tar.finalize();
    try {
      await this.drained;
      await this.fh.sync();
      await this.fh.close();
    } catch (e) {
      throw ioError(e, this.path, this.sizeWith(0));
    }
    if (this.bytes !== this.packed + END_OF_ARCHIVE) throw new Error(`${this.tmp}: wrote ${this.bytes} bytes, expected ${this.packed + END_OF_ARCHIVE}`);
    try {
      await rename(this.tmp, this.path);
    } catch (e) {
      throw ioError(e, this.path, this.bytes);
    }
    return { file: basename(this.path), samples: this.samples, bytes: this.bytes };
  }

  /** Drops the unfinished shard (after a failure). */
  async abandon(): Promise<void> {
    this.tar.destroy();
    await this.fh.close().catch(() => {});
    await rm(this.tmp, { force: true });
  }

  /** Bytes the finished archive will have with `extra` more bytes of members. */
  sizeWith(extra: number): number {
    return this.packed + extra + END_OF_ARCHIVE;
  }
}

/** The index's view of an earlier run, or a UserError when --out holds something else. */
function checkOut(out: string, fresh: ShardIndex): ShardIndex | null {
  if (!existsSync(out)) {
    mkdirSync(out, { recursive: true });
    return null;
  }
  if (!statSync(out).isDirectory()) throw new UserError(`--out ${out} is a file, not a folder`);
  const names = readdirSync(out);
  const foreign = names.filter((n) => !OUR_FILES.test(n));
  if (foreign.length > 0) {
    throw new UserError(`--out ${out} holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); choose an empty or new folder`);
  }
  sweepTempFiles(out);
  let prev: ShardIndex | null;
  try {
    prev = readShardIndex(out);
  } catch (e) {
    throw new UserError(`--out ${out}: ${(e as Error).message}; choose an empty or new folder`);
  }
  if (prev === null) {
    if (names.some((n) => SHARD_FILE.test(n)))
      throw new UserError(`--out ${out} holds shards without an index.json (not written by pwlu data shard); choose an empty or new folder`);
    return null;
  }
  const differ: string[] = (['source', 'seed', 'shard_size'] as const).filter((k) => prev[k] !== fresh[k]);
  if (prev.classes.join('\n') !== fresh.classes.join('\n')) differ.push('classes');
  if (prev.train.files !== fresh.train.files || prev.eval.files !== fresh.eval.files) differ.push('image counts');
  if (differ.length > 0) {
    throw new UserError(
      `--out ${out} holds shards of another source or settings (${differ.join(', ')} differ: it has source ${prev.source}, seed ${prev.seed}, shard size ${prev.shard_size}); ` +
        'use another folder, or delete it to start over',
    );
  }
  return prev;
}

/** Complete shards of an earlier run: listed in its index with the size recorded there; the first bad one and all after it are rewritten. */
function keptShards(out: string, listed: readonly ShardEntry[]): ShardEntry[] {
  const kept: ShardEntry[] = [];
  for (const s of listed) {
    const p = join(out, s.file);
    if (!existsSync(p) || statSync(p).size !== s.bytes) break;
    kept.push(s);
  }
  return kept;
}

/** Writes (or finishes writing) the shards of an image folder into `out`; see the module comment. */
export async function writeShards(o: WriteShardsOptions): Promise<WriteShardsResult> {
  const source = resolve(o.source);
  const out = resolve(o.out);
  const scan = await scanImageFolderCached(source, { projectRoot: o.projectRoot, log: o.log });
  const split = (files: number) => ({ n: 0, files, shards: [] as ShardEntry[] });
  const index: ShardIndex = {
    format: 'pwlu-shards',
    version: 1,
    complete: false,
    source,
    seed: o.seed,
    shard_size: o.shardSize,
    classes: scan.classes,
    train: split(scan.train.files.length),
    eval: split(scan.test.files.length),
  };
  const prev = checkOut(out, index);
  if (prev?.complete) return { index: prev, written: 0, kept: prev.train.shards.length + prev.eval.shards.length };
  let kept = 0;
  for (const s of ['train', 'eval'] as const) {
    index[s].shards = prev ? keptShards(out, prev[s].shards) : [];
    index[s].n = index[s].shards.reduce((a, e) => a + e.samples, 0);
    kept += index[s].shards.length;
  }
  const listed = new Set([...index.train.shards, ...index.eval.shards].map((s) => s.file));
  for (const n of readdirSync(out)) if (SHARD_FILE.test(n) && !listed.has(n)) rmSync(join(out, n));
  const saveIndex = () => writeFileAtomic(join(out, SHARD_INDEX_FILE), `${JSON.stringify(index, null, 1)}\n`);
  saveIndex();
  if (kept > 0) o.log?.(`${out}: keeping ${kept} complete shard(s) of an earlier run; continuing after them`);

  const trainOrder = Int32Array.from({ length: scan.train.files.length }, (_, i) => i);
  new Rng(deriveSeed(o.seed, TRAIN_ORDER_STREAM)).shuffle(trainOrder);
  const plan: Record<Split, { files: string[]; labels: Int32Array; order: Int32Array }> = {
    train: { ...scan.train, order: trainOrder },
    eval: { ...scan.test, order: Int32Array.from({ length: scan.test.files.length }, (_, i) => i) },
  };
  const total = scan.train.files.length + scan.test.files.length;
  const bar = createCounter('writing shards', total, 'items', o.progress !== false);
  bar.increment(index.train.n + index.eval.n);
  let written = 0;
  try {
    for (const s of ['train', 'eval'] as const) {
      const { files, labels, order } = plan[s];
      const keyWidth = Math.max(6, String(files.length).length);
      let shard: ShardFile | null = null;
      const read = async (k: number) => {
        const file = files[order[k]!]!;
        try {
          return { k, file, bytes: await readFile(file) };
        } catch (e) {
          return { k, file, error: (e as Error).message };
        }
      };
      try {
        for await (const r of readAhead(index[s].n, files.length, read)) {
          if (r.error !== undefined) throw new DataError(`${r.file}: cannot read image (${r.error})`);
          if (shard !== null && shard.sizeWith(sampleTarBytes(r.bytes.byteLength)) > o.shardSize) {
            index[s].shards.push(await shard.finish());
            index[s].n = r.k;
            written++;
            shard = null;
            saveIndex();
          }
          shard ??= await ShardFile.create(join(out, `${s}-${String(index[s].shards.length).padStart(6, '0')}.tar`));
          await shard.add(String(r.k).padStart(keyWidth, '0'), extname(r.file).slice(1).toLowerCase(), r.bytes, labels[order[r.k]!]!);
          bar.increment(1);
        }
        if (shard !== null) {
          index[s].shards.push(await shard.finish());
          index[s].n = files.length;
          written++;
          shard = null;
          saveIndex();
        }
      } catch (e) {
        await shard?.abandon();
        throw e;
      }
    }
  } finally {
    bar.stop();
  }
  index.complete = true;
  saveIndex();
  return { index, written, kept };
}
