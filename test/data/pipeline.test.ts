import { describe, expect, it } from 'vitest';
import type { BadSample, Decoder, DecodeJob, EncodedSample, EpochOrder, Geometry, SampleSource } from '../../src/data/stream/contract.js';
import { streamBatches, type PipelineOptions } from '../../src/data/stream/pipeline.js';
import { epochPermutation } from '../../src/data/batches.js';
import { DataError } from '../../src/util/errors.js';

const SIZE = 2;

/** A source of n one-byte "images" (byte = index % 251), some of them unreadable. */
function fakeSource(n: number, unreadable: Set<number> = new Set()): SampleSource {
  return {
    n,
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
    description: 'fake',
    async *samples(order: EpochOrder): AsyncIterable<EncodedSample | BadSample> {
      const perm = epochPermutation(n, order.seed, order.epoch, order.shuffle);
      for (let p = order.start; p < n; p++) {
        const index = perm[p]!;
        await new Promise((r) => setImmediate(r));
        if (unreadable.has(index)) yield { index, key: `img${index}`, error: 'unreadable' };
        else yield { index, key: `img${index}`, bytes: Uint8Array.of(index % 251), label: index % 3 };
      }
    },
  };
}

/** A decoder that paints each image from its byte and geometry, after a random delay (so timing varies); byte 13 is "corrupt". */
function fakeDecoder(delays: () => number): Decoder {
  return {
    name: 'fake',
    accepts: () => true,
    async decode(jobs: readonly DecodeJob[], size: number, out: Uint8Array) {
      return Promise.all(
        jobs.map(async (j) => {
          await new Promise((r) => setTimeout(r, delays()));
          if (j.bytes[0] === 13) return 'corrupt JPEG data';
          const g = j.geometry as Extract<Geometry, { kind: 'crop-resize' }>;
          for (let p = 0; p < size * size * 3; p++) out[j.offset + p] = (j.bytes[0]! + g.top + 7 * g.left + p + (g.flip ? 100 : 0)) % 256;
          return null;
        }),
      );
    },
  };
}

function options(source: SampleSource, over: Partial<PipelineOptions> = {}): PipelineOptions {
  return {
    source,
    decoders: [fakeDecoder(() => Math.random() * 3)],
    size: SIZE,
    batchSize: 4,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    prefetch: 2,
    // The geometry is a function of (index, epoch) only, as the real train transform is.
    geometry: (_b, index, epoch) => ({
      kind: 'crop-resize',
      top: (index * 3 + epoch) % 5,
      left: index % 4,
      height: 1,
      width: 1,
      flip: (index + epoch) % 2 === 0,
    }),
    onBadImage: 'skip',
    warn: () => {},
    ...over,
  };
}

async function collect(opts: PipelineOptions, order: { seed: number; epoch: number; shuffle: boolean; dropLast: boolean; startBatch?: number }) {
  const stream = streamBatches(opts, order);
  const out: { index: number; size: number; x: number[]; y: number[] }[] = [];
  for await (const b of stream) out.push({ index: b.index, size: b.size, x: Array.from(b.x), y: Array.from(b.y) });
  return { batches: out, stats: stream.stats };
}

describe('streaming input pipeline', () => {
  it('batches depend only on (seed, epoch, batch): not on prefetch depth, decoder timing or concurrency', async () => {
    const order = { seed: 7, epoch: 2, shuffle: true, dropLast: true };
    const a = await collect(options(fakeSource(22), { prefetch: 1, decoders: [fakeDecoder(() => 0)] }), order);
    const b = await collect(options(fakeSource(22), { prefetch: 3, decoders: [fakeDecoder(() => Math.random() * 5)] }), order);
    expect(a.batches).toHaveLength(5);
    expect(b.batches).toEqual(a.batches);
    // Another epoch is another order.
    const c = await collect(options(fakeSource(22)), { ...order, epoch: 3 });
    expect(c.batches.map((x) => x.y)).not.toEqual(a.batches.map((x) => x.y));
  });

  it('a resume at batch k yields exactly the uninterrupted batches k, k+1, …', async () => {
    const order = { seed: 1, epoch: 0, shuffle: true, dropLast: false };
    const full = await collect(options(fakeSource(19)), order);
    const resumed = await collect(options(fakeSource(19)), { ...order, startBatch: 3 });
    expect(full.batches.map((b) => b.index)).toEqual([0, 1, 2, 3, 4]);
    expect(resumed.batches).toEqual(full.batches.slice(3));
  });

  it('normalises with (pixel/255 - mean) / std per channel, labels aligned', async () => {
    const opts = options(fakeSource(4), { mean: [0.5, 0, 0], std: [0.5, 1, 2] });
    const { batches } = await collect(opts, { seed: 0, epoch: 0, shuffle: false, dropLast: false });
    const raw = await collect(options(fakeSource(4)), { seed: 0, epoch: 0, shuffle: false, dropLast: false });
    const x = batches[0]!.x;
    const r = raw.batches[0]!.x.map((v) => Math.round(v * 255));
    for (let p = 0; p < x.length; p++) {
      const c = p % 3;
      expect(x[p]).toBeCloseTo((r[p]! / 255 - [0.5, 0, 0][c]!) / [0.5, 1, 2][c]!, 5);
    }
    expect(batches[0]!.y).toEqual([0, 1, 2, 0]);
  });

  it('skips unreadable and undecodable images (counted, warned once) and keeps the batch order', async () => {
    const warnings: string[] = [];
    const opts = options(fakeSource(16, new Set([2, 9])), { warn: (m) => warnings.push(m) });
    const order = { seed: 0, epoch: 0, shuffle: false, dropLast: false };
    const { batches, stats } = await collect(opts, order);
    // Index 13 decodes as "corrupt"; 2 and 9 cannot be read.
    expect(stats.skipped).toBe(3);
    expect(batches.map((b) => b.size)).toEqual([3, 4, 3, 3]);
    expect(batches.flatMap((b) => b.y)).toEqual([0, 1, 0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0]);
    expect(warnings).toEqual(['skipping img2: unreadable', 'skipping img9: unreadable', 'skipping img13: corrupt JPEG data']);
    // A second epoch warns no more.
    await collect(opts, order);
    expect(warnings).toHaveLength(3);
    expect(stats.decoded).toBe(13);
  });

  it("stops with a DataError naming the image when on_bad_image is 'error'", async () => {
    const opts = options(fakeSource(16), { onBadImage: 'error' });
    const err = await collect(opts, { seed: 0, epoch: 0, shuffle: false, dropLast: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/^img13: corrupt JPEG data \(data.on_bad_image is 'error'/);
  });

  it('holds at most prefetch batches ahead of the consumer', async () => {
    let read = 0;
    const base = fakeSource(40);
    const counting: SampleSource = {
      ...base,
      async *samples(order) {
        for await (const s of base.samples(order)) {
          read++;
          yield s;
        }
      },
    };
    const stream = streamBatches(options(counting, { prefetch: 2, decoders: [fakeDecoder(() => 0)] }), { seed: 0, epoch: 0, shuffle: false, dropLast: true });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 50));
    // The consumer holds batch 0; batches 1 and 2 are in flight: 12 samples read, not 40.
    expect(read).toBe(12);
    await it.return?.(undefined);
  });
});
