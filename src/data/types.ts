import type { EpochBatchOptions } from './batches.js';
import type { BatchStream } from './stream/pipeline.js';

/** One split of an image-classification dataset, held as raw uint8 pixels (NHWC) to keep memory small. */
export interface Split {
  /** n * height * width * channels bytes, NHWC order, values 0..255. */
  images: Uint8Array;
  /** n labels, each in [0, numClasses). */
  labels: Int32Array;
  n: number;
}

/**
 * A split streamed from disk (image folders, tar shards): its size is known up front, its batches are
 * decoded on demand by the input pipeline (src/data/stream/pipeline.ts) with bounded memory.
 */
export interface StreamSplit {
  readonly streamed: true;
  n: number;
  /** The epoch's batches; `augment` chooses the train transform, else the eval one. */
  batches(opts: EpochBatchOptions): BatchStream;
}

/** A split either kind: the trainer and evaluation go through src/data/batches.ts's splitBatches. */
export type AnySplit = Split | StreamSplit;

/** Whether a split is streamed (else its pixels are in memory). */
export function isStreamed(split: AnySplit): split is StreamSplit {
  return (split as Partial<StreamSplit>).streamed === true;
}

/** A dataset whose splits are all in memory (idx, CIFAR, synthetic). */
export type MemoryDataset = Omit<Dataset, 'train' | 'test'> & { train: Split; test: Split };

/** A loaded dataset: both splits plus what batching needs to normalise and augment it. */
export interface Dataset {
  name: string;
  height: number;
  width: number;
  channels: number;
  numClasses: number;
  train: AnySplit;
  test: AnySplit;
  /** Per-channel mean and std of pixel/255, used for normalisation. */
  mean: number[];
  std: number[];
  /** Whether horizontal flips preserve the label semantics (false for digits). */
  flipOk: boolean;
  /** Where the files were found (directory), or 'synthetic'. */
  source: string;
  /** Human-readable class names, index = label, where the dataset defines them. */
  classNames?: string[];
}

export { DataError } from '../util/errors.js';
