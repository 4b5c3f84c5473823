/**
 * Assembles a streamed split from a SampleSource: the decoders (native libjpeg-turbo for JPEG, sharp
 * for the rest and wherever the addon is missing), the torchvision transforms, and the pipeline.
 */
import { availableParallelism } from 'node:os';
import type { DataConfig } from '../../config/schema.js';
import { type CatalogEntry, DEFAULT_IMAGEFOLDER_SIZE } from '../catalog.js';
import { openFolderSources } from './folder-source.js';
import { openShardSources } from './shards.js';
import type { EpochBatchOptions, LoadedDataset, LoadOptions, StreamSplit } from '../types.js';
import type { Decoder, Geometry, SampleSource } from './contract.js';
import { nativeJpegDecoder } from './native-decoder.js';
import { streamBatches, type BadImagePolicy } from './pipeline.js';
import { SharpDecoder } from './sharp-decoder.js';
import { evalGeometry, imageSize, trainGeometry } from './transforms.js';

/** The decoders a stream tries in order, and what to tell the user about them. */
export interface DecoderSet {
  decoders: Decoder[];
  /** e.g. "libjpeg-turbo (sharp for PNG/WebP)" or "sharp (libjpeg-turbo unavailable: …)". */
  description: string;
}

/** Decoding workers by default: the cores the trainer's threads leave free (threads 0 = all cores), at least one. */
export function defaultWorkers(trainerThreads: number, cores = availableParallelism()): number {
  return Math.max(1, cores - (trainerThreads > 0 ? trainerThreads : cores));
}

/** Native JPEG decoding where the addon has it (it is several times faster), sharp for everything else. */
export function imageDecoders(workers: number): DecoderSet {
  const sharp = new SharpDecoder({ concurrency: workers });
  const native = nativeJpegDecoder({ threads: workers });
  if (native.decoder)
    return { decoders: [native.decoder, sharp], description: `libjpeg-turbo, ${workers} thread${workers === 1 ? '' : 's'} (sharp for PNG/WebP)` };
  return { decoders: [sharp], description: `sharp, concurrency ${workers} (libjpeg-turbo unavailable: ${native.reason})` };
}

/** How a dataset's streamed splits are decoded and transformed. */
export interface StreamSettings {
  size: number;
  augment: DataConfig['augment'];
  /** Whether flips preserve labels (`augment.flip: auto`). */
  flipOk: boolean;
  mean: number[];
  std: number[];
  prefetch: number;
  onBadImage: BadImagePolicy;
  decoders: Decoder[];
  warn: (message: string) => void;
}

/** A split whose batches come from `source` through the pipeline: RandomResizedCrop + flip when augmenting, else resize + centre crop. */
export function streamSplit(source: SampleSource, s: StreamSettings): StreamSplit {
  const flip = s.augment.flip === 'auto' ? s.flipOk : s.augment.flip;
  return {
    streamed: true,
    n: source.n,
    batches(opts: EpochBatchOptions) {
      const augment = opts.augment;
      const geometry = (bytes: Uint8Array, index: number, epoch: number): Geometry =>
        augment
          ? trainGeometry(imageSize(bytes), { seed: opts.seed, epoch, index }, s.augment, flip)
          : evalGeometry(imageSize(bytes), s.size, s.augment.crop_pct);
      return streamBatches(
        {
          source,
          decoders: s.decoders,
          size: s.size,
          batchSize: opts.batchSize,
          mean: s.mean,
          std: s.std,
          prefetch: s.prefetch,
          geometry,
          onBadImage: s.onBadImage,
          warn: s.warn,
        },
        { seed: opts.seed, epoch: opts.epoch, shuffle: opts.shuffle, dropLast: opts.dropLast, startBatch: opts.startBatch, shard: opts.shard },
      );
    },
  };
}

/** Loads an image folder or tar shards as streamed splits (train, the val hold-out, eval) decoded on `data.workers` threads. */
export async function loadStreamed(entry: CatalogEntry, cfg: DataConfig, opts: LoadOptions): Promise<LoadedDataset> {
  const sources = entry.format === 'shards' ? await openShardSources(cfg, opts) : await openFolderSources(cfg, opts);
  const size = cfg.image_size ?? DEFAULT_IMAGEFOLDER_SIZE;
  const workers = cfg.workers ?? defaultWorkers(opts.threads ?? 0);
  const { decoders, description } = imageDecoders(workers);
  const settings: StreamSettings = {
    size,
    augment: cfg.augment,
    flipOk: entry.flipOk,
    mean: [...entry.mean!],
    std: [...entry.std!],
    prefetch: cfg.prefetch,
    onBadImage: cfg.on_bad_image,
    decoders,
    warn: opts.log ?? (() => {}),
  };
  opts.log?.(
    `${entry.title}: streaming ${sources.train.n} train, ${sources.val?.n ?? 0} validation, ${sources.eval.n} eval images at ${size}x${size}; decoder ${description}`,
  );
  return {
    dataset: {
      name: entry.name,
      height: size,
      width: size,
      channels: 3,
      numClasses: sources.train.numClasses,
      train: streamSplit(sources.train, settings),
      test: streamSplit(sources.eval, settings),
      mean: settings.mean,
      std: settings.std,
      flipOk: entry.flipOk,
      source: sources.location,
      classNames: sources.train.classNames,
    },
    val: sources.val ? streamSplit(sources.val, settings) : null,
    location: sources.location,
    streamInfo: { decoder: description, workers },
  };
}
