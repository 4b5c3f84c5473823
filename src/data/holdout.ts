/**
 * The seeded validation hold-out and training subset of a training split: shared by the in-memory loader (load.ts)
 * and the streamed sources (stream/folder-source.ts, stream/shards.ts), below both.
 */
import { DataError } from '../util/errors.js';
import { deriveSeed, Rng } from '../util/rng.js';

/** Stream tags for `deriveSeed`, so the data split never shares a stream with anything else. */
const SPLIT_STREAM = 0x5b117;

/**
 * Chooses the validation hold-out and the training subset from n training images, reproducibly:
 * one seeded permutation; its first round(val_split * n) indices are validation, the next
 * `train_subset` (or all the rest) are training. Validation therefore does not depend on
 * train_subset, and a smaller subset is contained in a larger one. Indices come back sorted.
 */
export function selectIndices(n: number, trainSubset: number | null, valSplit: number, seed: number): { train: Int32Array; val: Int32Array } {
  const nVal = Math.round(valSplit * n);
  if (valSplit > 0 && nVal === 0) {
    throw new DataError(`data.val_split=${valSplit} of ${n} training images holds out no image; raise val_split or use more data`);
  }
  if (nVal >= n) throw new DataError(`data.val_split=${valSplit} leaves no training images out of ${n}`);
  const rest = n - nVal;
  const nTrain = trainSubset === null ? rest : Math.min(trainSubset, rest);
  if (trainSubset === null && nVal === 0) {
    return { train: Int32Array.from({ length: n }, (_, i) => i), val: new Int32Array(0) };
  }
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  new Rng(deriveSeed(seed, SPLIT_STREAM)).shuffle(perm);
  const val = perm.slice(0, nVal).sort();
  const train = perm.slice(nVal, nVal + nTrain).sort();
  return { train, val };
}
