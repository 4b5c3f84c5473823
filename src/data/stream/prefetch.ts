/**
 * In-order batch prefetching, shared by the streaming pipelines (classification and detection): the
 * epoch's samples are read in order, one batch's worth after another, while up to `depth` batches are
 * produced at once (decoding on the decoders' own threads) ahead of the consumer; batches are yielded
 * in order, so they depend only on which samples they hold, never on timing.
 */
import type { StreamStats } from '../types.js';

/** One epoch's batches to prefetch. */
export interface PrefetchPlan<S, B> {
  /** The epoch's samples in order, from the first sample of batch `start` on; closed when the stream ends. */
  samples: AsyncIterable<S>;
  /** The first batch (a resume starts past 0). */
  start: number;
  /** Batches in the epoch. */
  total: number;
  batchSize: number;
  /** Samples in the epoch: the last batch may be short. */
  count: number;
  /** Batches in flight ahead of the consumer (at least 1). */
  depth: number;
  /** waitSeconds and seconds are counted here. */
  stats: StreamStats;
  /** Batch b from its samples; a rejection surfaces when the consumer reaches batch b. */
  produce: (b: number, samples: S[]) => Promise<B>;
}

/** Yields batches start … total-1 of a plan, up to `depth` produced ahead; ending (or abandoning) it settles them and closes the samples. */
export async function* prefetchBatches<S, B>(plan: PrefetchPlan<S, B>): AsyncGenerator<B> {
  const { total, batchSize, count, depth, stats, produce } = plan;
  const it = plan.samples[Symbol.asyncIterator]();
  let exhausted = false;
  const nextSamples = async (k: number): Promise<S[]> => {
    const out: S[] = [];
    while (out.length < k && !exhausted) {
      const r = await it.next();
      if (r.done) exhausted = true;
      else out.push(r.value);
    }
    return out;
  };
  const t0 = performance.now();
  // The source is read in order, one batch after another (`reading`), while earlier batches are produced.
  const pending: Promise<B>[] = [];
  let reading: Promise<unknown> = Promise.resolve();
  let next = plan.start;
  const launch = () => {
    const b = next++;
    const got = reading.then(() => nextSamples(Math.min(batchSize, count - b * batchSize)));
    reading = got.catch(() => undefined);
    const p = got.then((s) => produce(b, s));
    p.catch(() => undefined); // surfaced when the consumer awaits it
    pending.push(p);
  };
  try {
    while (next < total && pending.length < depth) launch();
    while (pending.length > 0) {
      const w0 = performance.now();
      const batch = await pending.shift()!;
      stats.waitSeconds += (performance.now() - w0) / 1000;
      if (next < total) launch();
      stats.seconds = (performance.now() - t0) / 1000;
      yield batch;
    }
  } finally {
    await Promise.allSettled(pending);
    await it.return?.();
  }
}
