/**
 * Data-parallel shares of an epoch (torch's DistributedSampler): counts, disjoint and complete
 * coverage, the global-batch property, evaluation without padding, per-rank resume, for in-memory
 * splits, image folders and tar shards.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { epochBatches, epochPermutation, rankPositions, shardCount, type EpochBatchOptions, type RankShard } from '../../src/data/batches.js';
import { scanImageFolder } from '../../src/data/imagefolder.js';
import type { EpochOrder, SampleSource } from '../../src/data/stream/contract.js';
import { FolderSource } from '../../src/data/stream/folder-source.js';
import { writeShards } from '../../src/data/stream/shard-writer.js';
import { openShardSources } from '../../src/data/stream/shards.js';
import { DataSchema } from '../../src/config/schema.js';
import type { Split } from '../../src/data/types.js';
import { writeImageFolder } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-shard-ranks-');
afterAll(() => removeDir(tmp));

// In-memory images of 1x1x3 pixels whose first channel is the image's index, so a batch names its images.
const N = 26;
const split: Split = {
  images: Uint8Array.from({ length: N * 3 }, (_, i) => (i % 3 === 0 ? i / 3 : 0)),
  labels: Int32Array.from({ length: N }, (_, i) => i % 4),
  n: N,
};
const ds = { height: 1, width: 1, channels: 3, mean: [0, 0, 0], std: [1 / 255, 1, 1], flipOk: true };
const opts = (o: Partial<EpochBatchOptions> = {}): EpochBatchOptions => ({
  batchSize: 3,
  seed: 9,
  epoch: 1,
  shuffle: true,
  augment: null,
  dropLast: false,
  ...o,
});
const ids = (o: EpochBatchOptions) => Array.from(epochBatches(split, ds, o), (b) => Array.from({ length: b.size }, (_, k) => Math.round(b.x[k * 3]!)));
const shard = (rank: number, worldSize: number, pad = true): RankShard => ({ rank, worldSize, pad });

describe('DistributedSampler shares', () => {
  it('counts: ceil(n / W) per rank when padding, ceil((n - r) / W) without', () => {
    expect([0, 1, 2, 3].map((r) => shardCount(26, shard(r, 4)))).toEqual([7, 7, 7, 7]);
    expect([0, 1, 2, 3].map((r) => shardCount(26, shard(r, 4, false)))).toEqual([7, 7, 6, 6]);
    expect(shardCount(26)).toBe(26);
    expect(shardCount(26, shard(0, 1))).toBe(26);
    expect(() => shardCount(26, shard(4, 4))).toThrow(/not a rank/);
    expect(() => shardCount(3, shard(0, 4))).toThrow(/cannot be split/);
  });

  it('training shares are disjoint, equal in size, and cover the epoch (the padding repeats its start)', () => {
    const W = 4;
    const all = [0, 1, 2, 3].map((r) => ids(opts({ shard: shard(r, W) })).flat());
    expect(all.map((a) => a.length)).toEqual([7, 7, 7, 7]);
    const perm = Array.from(epochPermutation(N, 9, 1, true));
    const seen = all.flat();
    expect(new Set(seen).size).toBe(N);
    // 28 slots for 26 images: the two padded slots take the permutation's first two images again.
    expect(seen.length - N).toBe(2);
    expect(all[2]!.at(-1)).toBe(perm[0]);
    expect(all[3]!.at(-1)).toBe(perm[1]);
  });

  it('the ranks’ batch b together is batch b of one process with a W times larger batch', () => {
    const [W, B] = [2, 3];
    const single = ids(opts({ batchSize: B * W }));
    const ranks = [0, 1].map((r) => ids(opts({ batchSize: B, shard: shard(r, W) })));
    for (let b = 0; b < 4; b++) {
      // rank r's j-th sample of batch b is perm[(b*B + j)*W + r]
      const merged = Array.from({ length: B }, (_, j) => [ranks[0]![b]![j]!, ranks[1]![b]![j]!]).flat();
      expect(merged).toEqual(single[b]);
    }
  });

  it('evaluation shares (no padding) count every image exactly once', () => {
    const W = 4;
    const all = [0, 1, 2, 3].map((r) => ids(opts({ shuffle: false, shard: shard(r, W, false) })).flat());
    expect(all.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(all[1]).toEqual([1, 5, 9, 13, 17, 21, 25]);
  });

  it('a rank resumed at batch k yields its own batches k, k+1, …; one rank is the unsharded epoch', () => {
    const s = shard(1, 3);
    expect(ids(opts({ shard: s, startBatch: 2 }))).toEqual(ids(opts({ shard: s })).slice(2));
    expect(ids(opts({ shard: shard(0, 1) }))).toEqual(ids(opts()));
    // Augmentation: a single process keeps its stream; ranks draw their own.
    const aug = { crop_padding: 0, flip: true as const };
    const x = (o: EpochBatchOptions) => Array.from(epochBatches(split, ds, o), (b) => Array.from(b.x));
    expect(x(opts({ augment: aug, shard: shard(0, 1) }))).toEqual(x(opts({ augment: aug })));
  });
});

async function keys(src: SampleSource, order: EpochOrder): Promise<string[]> {
  const out: string[] = [];
  for await (const s of src.samples(order)) out.push(s.key);
  return out;
}

describe('streamed sources yield a rank’s sequence', () => {
  it('image folder: rank r reads only positions (j*W + r) mod n of the epoch order; start resumes inside it', async () => {
    const dir = join(tmp, 'folder');
    await writeImageFolder(dir, { perClass: 5 });
    const scan = await scanImageFolder(dir);
    const src = new FolderSource(scan.train.files, scan.train.labels, scan.classes, dir, 2);
    const order = { seed: 4, epoch: 3, shuffle: true, start: 0 };
    const whole = await keys(src, order);
    for (const r of [0, 1]) {
      const got = await keys(src, { ...order, shard: shard(r, 2) });
      expect(got).toEqual(Array.from(rankPositions(15, shard(r, 2)), (p) => whole[p]!));
      expect(await keys(src, { ...order, start: 3, shard: shard(r, 2) })).toEqual(got.slice(3));
    }
  });

  it('tar shards: the same strides of the shard-and-buffer order, every sample once over the ranks (eval)', async () => {
    const folder = join(tmp, 'sf');
    await writeImageFolder(folder, { perClass: 4, valPerClass: 2 });
    const out = join(tmp, 'shards');
    await writeShards({ source: folder, out, shardSize: 3000, seed: 1, projectRoot: tmp, progress: false });
    const s = await openShardSources(DataSchema.parse({ name: 'shards', dir: out }), { projectRoot: tmp, seed: 0, progress: false });
    const order = { seed: 2, epoch: 1, shuffle: true, start: 0 };
    const whole = await keys(s.train, order);
    const n = s.train.n;
    for (const r of [0, 1, 2]) {
      expect(await keys(s.train, { ...order, shard: shard(r, 3) })).toEqual(Array.from(rankPositions(n, shard(r, 3)), (p) => whole[p]!));
    }
    const evalKeys = await Promise.all([0, 1, 2].map((r) => keys(s.eval, { seed: 0, epoch: 0, shuffle: false, start: 0, shard: shard(r, 3, false) })));
    expect(evalKeys.flat().sort()).toEqual((await keys(s.eval, { seed: 0, epoch: 0, shuffle: false, start: 0 })).sort());
  });
});
