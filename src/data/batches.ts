import { deriveSeed, Rng } from '../util/rng.js';
import {
  isStreamed,
  type AnySplit,
  type Batch,
  type BatchStream,
  type Dataset,
  type EpochBatchOptions,
  type RankShard,
  type Split,
  type StreamStats,
} from './types.js';

// The batch types are data/types.ts's (one owner below both this module and the streaming pipeline); importers of
// this module keep reading them here.
export type { AugmentOptions, Batch, EpochBatchOptions, RankShard } from './types.js';

/**
 * Mini-batches as plain typed arrays (NHWC float32 + int32 labels), normalised and augmented on the
 * fly while copying from the uint8 split.
 *
 * Reproducibility: the permutation of an epoch depends only on (seed, epoch); the augmentation of
 * batch b only on (seed, epoch, b). A run resumed at batch k with `startBatch: k` therefore yields
 * exactly the batches k, k+1, ... the uninterrupted run would have, without producing the skipped ones.
 */

const PERM_STREAM = 0x9e7;
const AUG_STREAM = 0xa06;

/** Samples a rank sees in an epoch of n (all n without a shard), so steps per epoch can be sized up front. */
export function shardCount(n: number, shard?: RankShard): number {
  if (!shard || shard.worldSize === 1) return n;
  const { rank, worldSize } = shard;
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`shard: rank ${rank} of world size ${worldSize} is not a rank`);
  }
  if (shard.pad && n < worldSize) throw new RangeError(`an epoch of ${n} samples cannot be split over ${worldSize} ranks`);
  return shard.pad ? Math.ceil(n / worldSize) : Math.max(0, Math.ceil((n - rank) / worldSize));
}

/**
 * Positions in the epoch's order of a rank's samples, in the order it takes them: DistributedSampler's
 * rank::W stride over the order (padded by wrapping to its start when training). Rank r's j-th sample
 * is position (j*W + r) mod n, so batch b of every rank together is batch b of one process with a
 * W times larger batch.
 */
export function rankPositions(n: number, shard?: RankShard): Int32Array {
  const count = shardCount(n, shard);
  const out = new Int32Array(count);
  const w = shard?.worldSize ?? 1;
  const r = shard?.worldSize === 1 ? 0 : (shard?.rank ?? 0);
  for (let j = 0; j < count; j++) out[j] = (j * w + r) % n;
  return out;
}

/** Number of batches an epoch of n images yields, so schedules and progress can be sized up front. */
export function numBatches(n: number, batchSize: number, dropLast: boolean): number {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/** The epoch's sample order: a permutation seeded by (seed, epoch), or identity when not shuffling. */
export function epochPermutation(n: number, seed: number, epoch: number, shuffle: boolean): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  if (shuffle) new Rng(deriveSeed(seed, epoch, PERM_STREAM)).shuffle(perm);
  return perm;
}

/** Lookup table channel*256 + value -> (value/255 - mean[c]) / std[c]. */
export function normalisationTable(mean: number[], std: number[], channels: number): Float32Array {
  if (mean.length !== channels || std.length !== channels) {
    throw new RangeError(`mean/std have ${mean.length}/${std.length} entries, expected ${channels} (one per channel)`);
  }
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    if (!(std[c]! > 0)) throw new RangeError(`std[${c}] must be positive, got ${std[c]}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]!) / std[c]!;
  }
  return lut;
}

/**
 * Yields an epoch's mini-batches, normalised (pixel/255 - mean)/std per channel, with optional
 * zero-padding + random crop and random horizontal flip (flip 'auto' = only where `ds.flipOk`).
 * Padding is zero in pixel space, as torchvision pads before normalising. No tensors and no
 * per-image allocations: the yielded `x`/`y` are views of two buffers reused for every batch.
 */
export function* epochBatches(
  split: Split,
  ds: Pick<Dataset, 'height' | 'width' | 'channels' | 'mean' | 'std' | 'flipOk'>,
  opts: EpochBatchOptions,
): Generator<Batch> {
  const { batchSize, seed, epoch, shuffle, dropLast } = opts;
  const sharded = opts.shard !== undefined && opts.shard.worldSize > 1;
  const count = shardCount(split.n, opts.shard);
  const total = numBatches(count, batchSize, dropLast);
  const start = opts.startBatch ?? 0;
  if (!Number.isInteger(start) || start < 0) throw new RangeError(`startBatch must be a non-negative integer, got ${start}`);
  if (start >= total) return;

  const H = ds.height;
  const W = ds.width;
  const C = ds.channels;
  const imgLen = H * W * C;
  if (split.images.length !== split.n * imgLen) {
    throw new RangeError(`split has ${split.images.length} bytes, expected n*H*W*C = ${split.n * imgLen}`);
  }
  const lut = normalisationTable(ds.mean, ds.std, C);
  const padValue = new Float32Array(C);
  for (let c = 0; c < C; c++) padValue[c] = lut[c * 256]!;

  const pad = opts.augment?.crop_padding ?? 0;
  const flipSetting = opts.augment?.flip ?? false;
  const doFlip = flipSetting === 'auto' ? ds.flipOk : flipSetting;
  const augmenting = opts.augment !== null && (pad > 0 || doFlip);

  const perm = epochPermutation(split.n, seed, epoch, shuffle);
  // A rank's sequence: its stride of the permutation (the whole permutation for a single process).
  const order = sharded ? rankPositions(split.n, opts.shard).map((p) => perm[p]!) : perm;
  const xBuf = new Float32Array(batchSize * imgLen);
  const yBuf = new Int32Array(batchSize);
  const src = split.images;

  for (let b = start; b < total; b++) {
    const first = b * batchSize;
    const size = Math.min(batchSize, count - first);
    // Each rank draws its own augmentation stream (a single process keeps the one it always had).
    const rng = augmenting ? new Rng(sharded ? deriveSeed(seed, epoch, b, AUG_STREAM, opts.shard!.rank) : deriveSeed(seed, epoch, b, AUG_STREAM)) : null;
    for (let k = 0; k < size; k++) {
      const idx = order[k + first]!;
      yBuf[k] = split.labels[idx]!;
      const s0 = idx * imgLen;
      const d0 = k * imgLen;
      if (rng === null) {
        if (C === 1) {
          for (let p = 0; p < imgLen; p++) xBuf[d0 + p] = lut[src[s0 + p]!]!;
        } else {
          for (let p = 0; p < imgLen; p += C) {
            for (let c = 0; c < C; c++) xBuf[d0 + p + c] = lut[c * 256 + src[s0 + p + c]!]!;
          }
        }
        continue;
      }
      // Fixed draw order per image: dy, dx (only when padding), then flip (only when flipping).
      const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
      const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
      const flip = doFlip ? rng.uniform() < 0.5 : false;
      for (let i = 0; i < H; i++) {
        const sy = i + dy;
        const rowOut = d0 + i * W * C;
        if (sy < 0 || sy >= H) {
          for (let j = 0; j < W; j++) for (let c = 0; c < C; c++) xBuf[rowOut + j * C + c] = padValue[c]!;
          continue;
        }
        const rowIn = s0 + sy * W * C;
        for (let j = 0; j < W; j++) {
          // Crop first, then mirror the cropped window (torchvision: RandomCrop then RandomHorizontalFlip).
          const sx = (flip ? W - 1 - j : j) + dx;
          const o = rowOut + j * C;
          if (sx < 0 || sx >= W) {
            for (let c = 0; c < C; c++) xBuf[o + c] = padValue[c]!;
          } else {
            const iIn = rowIn + sx * C;
            for (let c = 0; c < C; c++) xBuf[o + c] = lut[c * 256 + src[iIn + c]!]!;
          }
        }
      }
    }
    const full = size === batchSize;
    yield {
      x: full ? xBuf : xBuf.subarray(0, size * imgLen),
      y: full ? yBuf : yBuf.subarray(0, size),
      size,
      index: b,
      skipped: 0,
    };
  }
}

/**
 * An epoch's batches of any split: streamed splits run the input pipeline, in-memory ones the copy
 * loop above (which never waits). The trainer and evaluation use this one entry point.
 */
export function splitBatches(
  split: AnySplit,
  ds: Pick<Dataset, 'height' | 'width' | 'channels' | 'mean' | 'std' | 'flipOk'>,
  opts: EpochBatchOptions,
): BatchStream {
  if (isStreamed(split)) return split.batches(opts);
  const stats: StreamStats = { waitSeconds: 0, skipped: 0, decoded: 0, seconds: 0 };
  const memory = split;
  return {
    stats,
    // eslint-disable-next-line @typescript-eslint/require-await -- in-memory batches: the stream interface is async, this source has nothing to await
    async *[Symbol.asyncIterator]() {
      yield* epochBatches(memory, ds, opts);
    },
  };
}
