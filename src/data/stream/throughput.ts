/** Input-pipeline throughput alone (no model): what `pwlu data bench` reports, to compare with PyTorch's DataLoader. */
import { splitBatches, type EpochBatchOptions } from '../batches.js';
import type { AnySplit, Dataset } from '../types.js';

/** Images per second over `batches` batches after `warmup` untimed ones, timed as dataloader_reference.py times them. */
export async function inputImagesPerSecond(split: AnySplit, ds: Dataset, opts: EpochBatchOptions, batches: number, warmup: number): Promise<number> {
  let t0 = performance.now();
  let k = 0;
  let seen = 0;
  for await (const b of splitBatches(split, ds, opts)) {
    k++;
    if (k <= warmup) {
      t0 = performance.now();
      continue;
    }
    seen += b.size;
    if (k - warmup >= batches) break;
  }
  return seen / ((performance.now() - t0) / 1000);
}
