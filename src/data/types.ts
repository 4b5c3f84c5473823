/**
 * The data layer's shared types, owned here, below every module that uses them (batches.ts, the streaming pipeline
 * and its sources, load.ts). It imports none of them, so sharing a type never makes an import cycle.
 */

/** One mini-batch. `x` and `y` are REUSED between yields: copy them (or make the tensor) before advancing. */
export interface Batch {
  /** size * H * W * C normalised pixels, NHWC. A view of a buffer reused by the next batch. */
  x: Float32Array;
  /** size labels. A view of a buffer reused by the next batch. */
  y: Int32Array;
  /** Number of images in this batch (= batchSize except possibly the last). */
  size: number;
  /** Batch index within the epoch. */
  index: number;
  /** Images of this batch's share of the split that were skipped as unreadable (streamed splits; 0 in memory). */
  skipped: number;
}

/** Augmentation settings (the `data.augment` config block); null disables augmentation. */
export interface AugmentOptions {
  crop_padding: number;
  flip: boolean | 'auto';
}

/** Options for `epochBatches`. */
export interface EpochBatchOptions {
  batchSize: number;
  seed: number;
  epoch: number;
  shuffle: boolean;
  augment: AugmentOptions | null;
  dropLast: boolean;
  /** Resume at this batch index; earlier batches are skipped without being built. */
  startBatch?: number;
  /** A data-parallel rank's share of the epoch (DistributedSampler); absent = the whole epoch. */
  shard?: RankShard;
}

/** A rank's share of an epoch, as torch's DistributedSampler takes it. */
export interface RankShard {
  rank: number;
  worldSize: number;
  /**
   * Training: pad the order by repeating its start so every rank takes ceil(n / W) samples (and as
   * many steps). Evaluation: no padding (no image counts twice); rank r takes ceil((n - r) / W).
   */
  pad: boolean;
}

/** Counters of one epoch's stream, read by the trainer for metrics.jsonl and the progress bar. */
export interface StreamStats {
  /** Seconds the consumer waited for a batch that was not ready. */
  waitSeconds: number;
  /** Samples dropped because they could not be read or decoded. */
  skipped: number;
  /** Images decoded. */
  decoded: number;
  /** Seconds from the first request to the last batch delivered. */
  seconds: number;
}

/** An epoch's batches (same shape as the in-memory path's) plus their stream counters. */
export interface BatchStream extends AsyncIterable<Batch> {
  readonly stats: StreamStats;
}

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

/** Options shared by `ensureDatasetFiles` and `loadDataset`. */
export interface LocateOptions {
  projectRoot: string;
  /** Root of system-wide datasets; default /usr/share/datasets. */
  systemRoot?: string;
  fetchImpl?: typeof fetch;
  log?: (msg: string) => void;
  /** Allow progress bars (stderr TTY only). Default true. */
  progress?: boolean;
}

/** Options for `loadDataset`. */
export interface LoadOptions extends LocateOptions {
  /** The run seed: drives the train_subset / val_split selection. */
  seed: number;
  /** The trainer's compute threads (0 = all cores): streamed datasets decode on the cores left over. */
  threads?: number;
}

/** A loaded dataset, its validation hold-out, where it came from, and (streamed datasets) how it is decoded. */
export interface LoadedDataset {
  dataset: Dataset;
  val: AnySplit | null;
  location: string;
  /** Streamed datasets only: the decoder and worker count in use. */
  streamInfo?: { decoder: string; workers: number };
}
