/**
 * The streaming input pipeline: a SampleSource's encoded images → geometries → decoders → a ring of
 * preallocated batch buffers, `prefetch` batches ahead of the consumer, so decoding overlaps the
 * training step and memory stays bounded by prefetch × batch whatever the dataset's size.
 *
 * Batch b of an epoch is samples [b·B, (b+1)·B) of the source's epoch order; a sample that cannot be
 * read or decoded is dropped from its batch (skip) or stops the epoch (error). Batches therefore
 * depend only on (seed, epoch, b): not on the number of workers, nor on timing, and a resume at batch
 * k starts the source at sample k·B.
 */
import { DataError } from '../../util/errors.js';
import { normalisationTable, numBatches, shardCount } from '../batches.js';
import type { Batch, BatchStream, StreamStats } from '../types.js';
import type { BadSample, Decoder, DecodeJob, EncodedSample, EpochOrder, Geometry, SampleSource } from './contract.js';
import { prefetchBatches } from './prefetch.js';

/** What a bad image does: skipped (logged once, counted) or fatal. */
export type BadImagePolicy = 'skip' | 'error';

/** Everything the pipeline needs to turn a source into batches. */
export interface PipelineOptions {
  source: SampleSource;
  /** Tried in order: the first that accepts a sample's bytes decodes it. */
  decoders: readonly Decoder[];
  /** Output side length. */
  size: number;
  batchSize: number;
  mean: number[];
  std: number[];
  /** Batches decoded ahead of the consumer (at least 1). */
  prefetch: number;
  /** The transform of one sample: train (random, from seed/epoch/index) or eval (fixed). */
  geometry: (bytes: Uint8Array, index: number, epoch: number) => Geometry;
  onBadImage: BadImagePolicy;
  /** Told once per bad sample key. */
  warn: (message: string) => void;
}

/** Options of one epoch's stream. */
export interface StreamOrder extends Omit<EpochOrder, 'start'> {
  dropLast: boolean;
  /** Resume at this batch: the source starts at sample startBatch × batchSize. */
  startBatch?: number;
}

interface Slot {
  pixels: Uint8Array;
  x: Float32Array;
  y: Int32Array;
}

/** Bad sample keys already logged, per source: each is told once per run, not once per epoch. */
const warnedBySource = new WeakMap<SampleSource, Set<string>>();

/** Decodes a source's epoch into normalised NHWC float32 batches, `prefetch` ahead. */
export function streamBatches(opts: PipelineOptions, order: StreamOrder): BatchStream {
  const { source, size, batchSize } = opts;
  const count = shardCount(source.n, order.shard);
  const total = numBatches(count, batchSize, order.dropLast);
  const start = order.startBatch ?? 0;
  const imageBytes = size * size * 3;
  const lut = normalisationTable(opts.mean, opts.std, 3);
  const depth = Math.max(1, opts.prefetch);
  // depth slots in flight plus the one the consumer holds.
  const slots: Slot[] = Array.from({ length: depth + 1 }, () => ({
    pixels: new Uint8Array(batchSize * imageBytes),
    x: new Float32Array(batchSize * imageBytes),
    y: new Int32Array(batchSize),
  }));
  const stats: StreamStats = { waitSeconds: 0, skipped: 0, decoded: 0, seconds: 0 };
  const warned = warnedBySource.get(source) ?? new Set<string>();
  warnedBySource.set(source, warned);

  const bad = (s: BadSample | { key: string; error: string }) => {
    if (opts.onBadImage === 'error') throw new DataError(`${s.key}: ${s.error} (data.on_bad_image is 'error'; set it to 'skip' to skip such images)`);
    stats.skipped++;
    if (!warned.has(s.key)) {
      warned.add(s.key);
      opts.warn(`skipping ${s.key}: ${s.error}`);
    }
  };

  async function* run(): AsyncGenerator<Batch> {
    if (start >= total) return;
    /** Decodes batch b's samples into a slot; resolves to the batch it holds. */
    const produce = async (b: number, slot: Slot, samples: (EncodedSample | BadSample)[]): Promise<Batch> => {
      const jobsBy = new Map<Decoder, { jobs: DecodeJob[]; samples: EncodedSample[] }>();
      let k = 0;
      const placed: EncodedSample[] = [];
      for (const s of samples) {
        if (!('bytes' in s)) {
          bad(s);
          continue;
        }
        const decoder = opts.decoders.find((d) => d.accepts(s.bytes));
        if (!decoder) {
          bad({ key: s.key, error: 'not an image format any decoder here reads (JPEG, PNG, WebP)' });
          continue;
        }
        let geometry: Geometry;
        try {
          geometry = opts.geometry(s.bytes, s.index, order.epoch);
        } catch (e) {
          bad({ key: s.key, error: (e as Error).message });
          continue;
        }
        const group = jobsBy.get(decoder) ?? { jobs: [], samples: [] };
        group.jobs.push({ bytes: s.bytes, geometry, offset: k * imageBytes });
        group.samples.push(s);
        jobsBy.set(decoder, group);
        placed.push(s);
        k++;
      }
      const failed = new Set<EncodedSample>();
      await Promise.all(
        [...jobsBy].map(async ([decoder, g]) => {
          const results = await decoder.decode(g.jobs, size, slot.pixels);
          results.forEach((err, i) => {
            if (err !== null) {
              failed.add(g.samples[i]!);
              bad({ key: g.samples[i]!.key, error: err });
            }
          });
        }),
      );
      stats.decoded += placed.length - failed.size;
      // Compact the good images to the front, in sample order, and normalise them.
      let n = 0;
      for (let i = 0; i < placed.length; i++) {
        const s = placed[i]!;
        if (failed.has(s)) continue;
        const src = i * imageBytes;
        const dst = n * imageBytes;
        for (let p = 0; p < imageBytes; p += 3) {
          slot.x[dst + p] = lut[slot.pixels[src + p]!]!;
          slot.x[dst + p + 1] = lut[256 + slot.pixels[src + p + 1]!]!;
          slot.x[dst + p + 2] = lut[512 + slot.pixels[src + p + 2]!]!;
        }
        slot.y[n] = s.label;
        n++;
      }
      return { x: slot.x.subarray(0, n * imageBytes), y: slot.y.subarray(0, n), size: n, index: b, skipped: samples.length - n };
    };

    // Up to `depth` batches are in flight while the consumer trains, batch b in slot (b - start) mod
    // slots: depth in flight plus the one the consumer holds.
    yield* prefetchBatches({
      samples: source.samples({ seed: order.seed, epoch: order.epoch, shuffle: order.shuffle, start: start * batchSize, shard: order.shard }),
      start,
      total,
      batchSize,
      count,
      depth,
      stats,
      produce: (b, s) => produce(b, slots[(b - start) % slots.length]!, s),
    });
  }

  return { stats, [Symbol.asyncIterator]: () => run() };
}
