import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { z } from 'zod';
import type { DataConfig } from '../../config/schema.js';
import { DataError } from '../../util/errors.js';
import { createCounter } from '../../util/progress.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { rankPositions } from '../batches.js';
import { catalogEntry } from '../catalog.js';
import { selectIndices } from '../holdout.js';
import { IMAGE_EXTS } from '../imagefolder.js';
import { ensureDatasetFiles } from '../locate.js';
import { readEntry, tarEntries, tarErrorMessage } from '../tar.js';
import type { LoadOptions } from '../types.js';
import { cachePaths, readJsonCache, writeJsonCache } from './cache.js';
import type { BadSample, EncodedSample, EpochOrder, SampleSource } from './contract.js';
import { checkStart, type StreamSources } from './folder-source.js';
import { readShardIndex } from './shard-index.js';

/**
 * Tar shards in the WebDataset convention: a sample is the run of consecutive members sharing a KEY
 * (the member path up to the first dot of its file name), here KEY.jpg|jpeg|png|webp + KEY.cls
 * (the label as decimal text). Shards are read sequentially with tar-stream, never whole.
 *
 * Epoch order (WebDataset's): the shard list shuffled by (seed, epoch), then a shuffle buffer of
 * SHUFFLE_BUFFER samples seeded by (seed, epoch). Which buffer slot each step draws depends only on
 * the RNG, not on the samples, so the whole order of sample indices is computed from the shard
 * counts before reading; a resume at `start` then knows which samples it skips (and which shards it
 * need not open at all), and the read-ahead holds at most the buffer's samples.
 */

/** Samples held by the shuffle buffer (WebDataset's usual 1000: a few tens of MB of JPEG). */
export const SHUFFLE_BUFFER = 1000;
const SHARD_ORDER_STREAM = 0x54a7d;
const BUFFER_STREAM = 0x5bf;
const SCAN_CACHE_VERSION = 1;

/** Expands a brace pattern: `{000..146}` (zero-padded when the bounds are), `{a,b}`, several braces. */
export function expandBraces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (m === null) return [pattern];
  const head = pattern.slice(0, m.index);
  const tail = pattern.slice(m.index + m[0].length);
  const range = /^(-?\d+)\.\.(-?\d+)$/.exec(m[1]!);
  let parts: string[];
  if (range !== null) {
    const [a, b] = [range[1]!, range[2]!];
    const lo = Number(a);
    const hi = Number(b);
    if (hi < lo) throw new DataError(`${pattern}: brace range {${m[1]}} counts down; write {${b}..${a}}`);
    if (hi - lo >= 1_000_000) throw new DataError(`${pattern}: brace range {${m[1]}} names more than a million shards`);
    const width = /^-?0\d/.test(a) || /^-?0\d/.test(b) ? Math.max(a.length, b.length) : 0;
    parts = [];
    for (let i = lo; i <= hi; i++) parts.push(String(i).padStart(width, '0'));
  } else if (m[1]!.includes(',')) {
    parts = m[1]!.split(',');
  } else {
    throw new DataError(`${pattern}: cannot expand {${m[1]}} (expected {first..last} or {a,b,...})`);
  }
  return parts.flatMap((p) => expandBraces(`${head}${p}${tail}`));
}

/** The shard files a data.shards value names (relative paths against `baseDir`): a brace pattern, a folder's *.tar sorted, or one file. */
export function listShards(spec: string, baseDir: string): string[] {
  const path = resolve(baseDir, spec);
  if (/\{[^{}]*\}/.test(spec)) {
    const files = expandBraces(path);
    const missing = files.filter((f) => !existsSync(f));
    if (missing.length > 0) {
      throw new DataError(`${spec}: ${missing.length} of ${files.length} shards do not exist (first: ${missing[0]})`);
    }
    return files;
  }
  if (!existsSync(path)) throw new DataError(`${spec}: no such shard file or folder (${path})`);
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path)
      .filter((f) => f.endsWith('.tar'))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((f) => join(path, f));
    if (files.length === 0) throw new DataError(`${path}: folder holds no .tar shards`);
    return files;
  }
  return [path];
}

/** WebDataset's split of a member path into the sample key and the extension (everything after the first dot of the file name). */
export function splitMemberName(name: string): { key: string; ext: string } | null {
  const base = posix.basename(name);
  const dot = base.indexOf('.');
  if (dot <= 0) return null;
  return { key: name.slice(0, name.length - base.length + dot), ext: base.slice(dot + 1).toLowerCase() };
}

/** One sample's members as read from a shard. */
interface MemberGroup {
  key: string;
  members: Map<string, Buffer>;
}

/** The groups of a shard in stored order; a failure (truncated or corrupt tar, read error) ends it with its message. */
async function* readGroups(path: string): AsyncGenerator<MemberGroup | { failure: string }> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  let streamError: Error | null = null;
  file.on('error', (e) => {
    streamError ??= e;
  });
  let group: MemberGroup | null = null;
  try {
    for await (const entry of tarEntries(file)) {
      const { type, name } = entry.header;
      const split = type === 'file' || type === 'contiguous-file' ? splitMemberName(name) : null;
      if (split === null) {
        for await (const _ of entry) void _;
        continue;
      }
      if (group !== null && group.key !== split.key) {
        yield group;
        group = null;
      }
      group ??= { key: split.key, members: new Map() };
      group.members.set(split.ext, await readEntry(entry));
    }
  } catch (e) {
    // The group being read is the one the failure hit: it is reported as failed, not yielded.
    yield { failure: tarErrorMessage(streamError ?? e) };
    return;
  }
  if (group !== null) yield group;
}

const IMAGE_MEMBER_EXTS = [...IMAGE_EXTS].map((e) => e.slice(1));

/** A group's image bytes and label, or why it is not a usable sample. */
function decodeGroup(group: MemberGroup, numClasses: number): { bytes: Buffer; label: number } | { error: string } {
  const ext = IMAGE_MEMBER_EXTS.find((e) => group.members.has(e));
  if (ext === undefined) return { error: `no image member (.${IMAGE_MEMBER_EXTS.join('/.')}) among .${[...group.members.keys()].join(', .')}` };
  const cls = group.members.get('cls');
  if (cls === undefined) return { error: 'no .cls label member' };
  const text = cls.toString('utf8').trim();
  if (!/^\d+$/.test(text)) return { error: `.cls holds "${text.slice(0, 40)}", not a decimal label` };
  const label = Number(text);
  if (label >= numClasses) return { error: `label ${label} is out of range (${numClasses} classes)` };
  return { bytes: group.members.get(ext)!, label };
}

/** What a scan of one shard found. */
const ShardScanSchema = z.object({
  path: z.string(),
  bytes: z.number(),
  mtimeMs: z.number(),
  samples: z.number().int(),
  labelled: z.number().int(),
  maxLabel: z.number().int(),
  failure: z.string().nullable(),
});
type ShardScan = z.infer<typeof ShardScanSchema>;
const ScanCacheSchema = z.object({ format: z.literal('pwlu-shard-scan'), version: z.literal(SCAN_CACHE_VERSION), shards: z.array(ShardScanSchema) });

async function scanShard(path: string): Promise<ShardScan> {
  const st = statSync(path);
  const out: ShardScan = { path, bytes: st.size, mtimeMs: st.mtimeMs, samples: 0, labelled: 0, maxLabel: -1, failure: null };
  for await (const g of readGroups(path)) {
    if ('failure' in g) {
      out.failure = g.failure;
      break;
    }
    out.samples++;
    const r = decodeGroup(g, Number.MAX_SAFE_INTEGER);
    if ('label' in r) {
      out.labelled++;
      out.maxLabel = Math.max(out.maxLabel, r.label);
    }
  }
  return out;
}

/** A split's shards with their sample counts, and its classes where an index names them. */
interface ShardSet {
  shards: { path: string; samples: number }[];
  classes: string[] | null;
  /** Samples with a label, and the largest label (scans only; an index's shards are all labelled). */
  labelled: number;
  maxLabel: number;
}

/** Sample counts from index.json next to the shards when it lists all of them. */
function fromShardIndex(paths: readonly string[]): ShardSet | null {
  const dirs = [...new Set(paths.map((p) => dirname(p)))];
  if (dirs.length !== 1) return null;
  const index = readShardIndex(dirs[0]!);
  if (index === null) return null;
  const listed = new Map([...index.train.shards, ...index.eval.shards].map((s) => [s.file, s.samples]));
  const counts = paths.map((p) => listed.get(basename(p)));
  if (counts.some((c) => c === undefined)) return null;
  if (!index.complete) {
    throw new DataError(`${join(dirs[0]!, 'index.json')}: the shard set is incomplete (pwlu data shard was interrupted); re-run it to finish`);
  }
  const n = counts.reduce((s: number, c) => s + c!, 0);
  return { shards: paths.map((path, i) => ({ path, samples: counts[i]! })), classes: index.classes, labelled: n, maxLabel: index.classes.length - 1 };
}

/** Sample counts by scanning the shards once (progress bar), cached next to the shards or in datasets/.cache/. */
async function fromScan(paths: readonly string[], opts: LoadOptions): Promise<ShardSet> {
  const tag = createHash('sha256').update(paths.join('\n')).digest('hex').slice(0, 12);
  const cacheAt = cachePaths(dirname(paths[0]!), `.pwlu-shard-scan-${tag}.json`, opts.projectRoot);
  const cached = ScanCacheSchema.safeParse(readJsonCache(cacheAt));
  const known = new Map(cached.success ? cached.data.shards.map((s) => [s.path, s]) : []);
  const scans: ShardScan[] = [];
  const stale = paths.filter((p) => {
    const k = known.get(p);
    const st = statSync(p);
    return k === undefined || k.bytes !== st.size || k.mtimeMs !== st.mtimeMs;
  });
  if (stale.length > 0) {
    opts.log?.(`indexing ${stale.length} shard(s) without an index.json (once; the counts are cached)`);
    const bar = createCounter('indexing shards', stale.length, 'items', opts.progress !== false);
    try {
      for (const p of stale) {
        known.set(p, await scanShard(p));
        bar.increment(1);
      }
    } finally {
      bar.stop();
    }
    for (const p of paths) scans.push(known.get(p)!);
    writeJsonCache(cacheAt, { format: 'pwlu-shard-scan', version: SCAN_CACHE_VERSION, shards: scans });
  } else {
    for (const p of paths) scans.push(known.get(p)!);
  }
  for (const s of scans) if (s.failure !== null) opts.log?.(`${s.path}: only ${s.samples} samples readable (${s.failure})`);
  return {
    shards: scans.map((s) => ({ path: s.path, samples: s.samples })),
    classes: null,
    labelled: scans.reduce((a, s) => a + s.labelled, 0),
    maxLabel: Math.max(-1, ...scans.map((s) => s.maxLabel)),
  };
}

/** Options for a ShardSource beyond its shards. */
export interface ShardSourceOptions {
  /** Samples of the shards this source yields: sorted indices into their stored order; null = all. */
  subset?: Int32Array | null;
  shuffleBuffer?: number;
  /** Told when a shard holds more samples than its count (a stale index); the extra ones are not read. */
  log?: (msg: string) => void;
}

/**
 * A split made of tar shards (see the module comment for the order). A sample's index is its position
 * in the split (in the stored order of its shards, counting only the subset's samples). A member
 * without a label, a bad label, or samples a truncated or corrupt shard lost become BadSamples, so
 * every epoch yields exactly n items.
 */
export class ShardSource implements SampleSource {
  readonly n: number;
  readonly numClasses: number;
  private readonly offsets: number[];
  private readonly total: number;
  /** Split index of each stored-order sample, -1 outside the subset; null when the subset is all. */
  private readonly localOf: Int32Array | null;
  private readonly bufferSize: number;

  constructor(
    private readonly shards: readonly { path: string; samples: number }[],
    readonly classNames: string[],
    readonly description: string,
    private readonly opts: ShardSourceOptions = {},
  ) {
    this.numClasses = classNames.length;
    this.offsets = [];
    let total = 0;
    for (const s of shards) {
      this.offsets.push(total);
      total += s.samples;
    }
    this.total = total;
    const subset = opts.subset ?? null;
    if (subset !== null) {
      this.localOf = new Int32Array(total).fill(-1);
      subset.forEach((g, k) => {
        if (g < 0 || g >= total) throw new RangeError(`ShardSource: subset index ${g} outside 0..${total - 1}`);
        this.localOf![g] = k;
      });
    } else this.localOf = null;
    this.n = subset?.length ?? total;
    this.bufferSize = Math.max(1, opts.shuffleBuffer ?? SHUFFLE_BUFFER);
  }

  /** The epoch's shard order and its order of stored-order sample indices (computed without reading a shard). */
  epochOrder(order: Pick<EpochOrder, 'seed' | 'epoch' | 'shuffle'>): { shardOrder: number[]; samples: Int32Array } {
    const shardOrder = this.shards.map((_, i) => i);
    if (order.shuffle) new Rng(deriveSeed(order.seed, order.epoch, SHARD_ORDER_STREAM)).shuffle(shardOrder);
    const out = new Int32Array(this.n);
    let k = 0;
    const rng = order.shuffle ? new Rng(deriveSeed(order.seed, order.epoch, BUFFER_STREAM)) : null;
    const buf: number[] = [];
    for (const s of shardOrder) {
      const first = this.offsets[s]!;
      for (let g = first; g < first + this.shards[s]!.samples; g++) {
        if (this.localOf !== null && this.localOf[g] === -1) continue;
        if (rng === null) out[k++] = g;
        else if (buf.length < this.bufferSize) buf.push(g);
        else {
          const j = rng.int(this.bufferSize);
          out[k++] = buf[j]!;
          buf[j] = g;
        }
      }
    }
    if (rng !== null) {
      rng.shuffle(buf);
      for (const g of buf) out[k++] = g;
    }
    return { shardOrder, samples: out };
  }

  /** The samples of one shard by position, BadSamples standing in for those it failed to give. */
  private async *shardSamples(s: number): AsyncGenerator<{ pos: number; group: MemberGroup | null; error: string | null }> {
    const { path, samples } = this.shards[s]!;
    let pos = 0;
    for await (const g of readGroups(path)) {
      if ('failure' in g) {
        for (; pos < samples; pos++) yield { pos, group: null, error: `truncated or corrupt shard (${g.failure})` };
        return;
      }
      if (pos >= samples) {
        this.opts.log?.(`${path}: holds more than the ${samples} samples its index lists; the extra ones are skipped (rebuild the index)`);
        return;
      }
      yield { pos: pos++, group: g, error: null };
    }
    for (; pos < samples; pos++) yield { pos, group: null, error: `shard ended after ${pos} of its ${samples} samples` };
  }

  async *samples(order: EpochOrder): AsyncGenerator<EncodedSample | BadSample> {
    checkStart(order);
    // The samples to yield, in order: the epoch's order from `start`, or a rank's stride of it. A tar
    // shard reads sequentially, so every rank of a data-parallel run reads every shard it has samples in.
    const { shardOrder, samples: seq } = this.epochOrder(order);
    const want = rankPositions(this.n, order.shard)
      .subarray(order.start)
      .map((p) => seq[p]!);
    if (want.length === 0) return;
    const wanted = new Uint8Array(this.total);
    for (const g of want) wanted[g] = 1;
    const ready = new Map<number, EncodedSample | BadSample>();
    let next = 0;
    for (const s of shardOrder) {
      const first = this.offsets[s]!;
      const count = this.shards[s]!.samples;
      if (!wanted.subarray(first, first + count).includes(1)) continue; // nothing of it left this epoch: not opened
      const name = basename(this.shards[s]!.path);
      for await (const { pos, group, error } of this.shardSamples(s)) {
        const g = first + pos;
        if (wanted[g] === 0) continue;
        const index = this.localOf === null ? g : this.localOf[g]!;
        const key = `${name}:${group?.key ?? `#${pos}`}`;
        const r = group === null ? { error: error! } : decodeGroup(group, this.numClasses);
        ready.set(g, 'error' in r ? { index, key, error: r.error } : { index, key, bytes: r.bytes, label: r.label });
        while (next < want.length && ready.has(want[next]!)) {
          const item = ready.get(want[next]!)!;
          ready.delete(want[next]!);
          next++;
          yield item;
        }
      }
    }
    if (next !== want.length) throw new Error(`ShardSource: epoch ended at sample ${next} of ${want.length} (order and shards disagree)`);
  }
}

/** A split's shard set: from index.json when it lists the shards, else from a (cached) scan. */
async function resolveShardSet(paths: readonly string[], opts: LoadOptions): Promise<ShardSet> {
  return fromShardIndex(paths) ?? (await fromScan(paths, opts));
}

/**
 * Opens tar shards as streamed splits: data.shards {train, eval} (brace patterns, folders or files,
 * relative to the project root), or else the index.json of a `pwlu data shard` folder found by
 * data.dir / the discovery order. n, classes and the seeded val_split / train_subset selection
 * (`selectIndices`, over the training shards' stored order) are known before any shard is read.
 */
export async function openShardSources(cfg: DataConfig, opts: LoadOptions & { shuffleBuffer?: number }): Promise<StreamSources> {
  let trainPaths: string[];
  let evalPaths: string[];
  let location: string;
  if (cfg.shards !== null) {
    trainPaths = listShards(cfg.shards.train, opts.projectRoot);
    evalPaths = listShards(cfg.shards.eval, opts.projectRoot);
    location = `${cfg.shards.train} + ${cfg.shards.eval}`;
  } else {
    const found = await ensureDatasetFiles(catalogEntry('shards'), cfg.dir, false, opts);
    const index = readShardIndex(found.dir)!;
    trainPaths = index.train.shards.map((s) => join(found.dir, s.file));
    evalPaths = index.eval.shards.map((s) => join(found.dir, s.file));
    location = found.dir;
  }
  const train = await resolveShardSet(trainPaths, opts);
  const test = await resolveShardSet(evalPaths, opts);
  for (const [set, what] of [
    [train, cfg.shards?.train ?? `${location} (train)`],
    [test, cfg.shards?.eval ?? `${location} (eval)`],
  ] as const) {
    const n = set.shards.reduce((a, s) => a + s.samples, 0);
    if (n === 0) throw new DataError(`${what}: the shards hold no samples`);
    if (set.labelled === 0) throw new DataError(`${what}: none of the ${n} samples in its shards has a .cls label (expected KEY.jpg + KEY.cls members)`);
  }
  let classes: string[];
  if (train.classes !== null) {
    if (test.classes !== null && test.classes.join('\n') !== train.classes.join('\n')) {
      throw new DataError(`${location}: the train and eval shards come from indexes with different classes`);
    }
    classes = train.classes;
    if (test.maxLabel >= classes.length) throw new DataError(`${location}: eval labels reach ${test.maxLabel}, beyond the ${classes.length} training classes`);
  } else {
    const k = Math.max(train.maxLabel, test.maxLabel) + 1;
    classes = test.classes !== null && test.classes.length >= k ? test.classes : Array.from({ length: k }, (_, i) => String(i));
  }
  const total = train.shards.reduce((a, s) => a + s.samples, 0);
  const sel = selectIndices(total, cfg.train_subset, cfg.val_split, opts.seed);
  const all = sel.train.length === total;
  const sourceOpts = { shuffleBuffer: opts.shuffleBuffer, log: opts.log };
  const describe = (paths: readonly string[]) =>
    paths.length === 1 ? paths[0]! : `${paths[0]} … ${basename(paths[paths.length - 1]!)} (${paths.length} shards)`;
  return {
    train: new ShardSource(train.shards, classes, describe(trainPaths), { ...sourceOpts, subset: all ? null : sel.train }),
    val:
      sel.val.length > 0 ? new ShardSource(train.shards, classes, `${describe(trainPaths)} (validation hold-out)`, { ...sourceOpts, subset: sel.val }) : null,
    eval: new ShardSource(test.shards, classes, describe(evalPaths), sourceOpts),
    location,
  };
}
