/**
 * A COCO-format detection dataset (`<dir>/annotations/instances_<split>.json` + `<dir>/<split>/<file_name>`) as
 * deterministic, padded detection batches.
 *
 * Order: an epoch's order is the classification pipeline's (`epochPermutation(n, seed, epoch, shuffle)`, a rank's
 * share by `rankPositions`, DistributedSampler's stride), read by its FolderSource with read-ahead; batch b is samples
 * [b·B, (b+1)·B) of it, so `startBatch` resumes at sample startBatch·B. Each image's flip depends only on
 * (seed, epoch, its index in the split). Decoding runs in the existing decoders' own threads (the native addon's
 * libjpeg-turbo pool, else sharp's libuv threads) through their `decodeResized` (whole-image resize keeping aspect):
 * every image is decoded alone into its own slot, so batches are byte-identical whatever the worker count or timing.
 *
 * Transforms (torchvision's GeneralizedRCNNTransform + its reference RandomHorizontalFlip, see ./transforms.ts):
 * resize keeping aspect, flip, normalise with the dataset's mean/std, pad the batch bottom/right with zeros (after
 * normalisation) to a multiple of pad_to. Boxes move with the image: resized by resize_boxes' float32 ratios, then
 * mirrored in the resized frame. Crowd regions never reach the targets; `groundTruth()` keeps them for evaluation.
 * Images without a usable non-crowd annotation are KEPT (background-only images: all their anchors are negatives;
 * torchvision's RetinaNet takes empty targets; note that torchvision's reference train script drops images without
 * annotations from train2017, and Detectron2 filters them by default, so a pwlu epoch has those ~1% more images).
 * Pixels are resampled with PIL's antialiased bilinear (as torchvision's PIL transforms and Detectron2's
 * ResizeShortestEdge do) on 8-bit pixels, not with torch's non-antialiased float `interpolate`: sizes and boxes are
 * torchvision's exactly, pixel values differ slightly.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../util/errors.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { normalisationTable, numBatches, shardCount } from '../batches.js';
import { selectIndices } from '../holdout.js';
import type { BadSample, Decoder, EncodedSample, ResizeJob } from '../stream/contract.js';
import { FolderSource } from '../stream/folder-source.js';
import { defaultWorkers, imageDecoders } from '../stream/open.js';
import type { BadImagePolicy } from '../stream/pipeline.js';
import { prefetchBatches } from '../stream/prefetch.js';
import { imageSize } from '../stream/transforms.js';
import type { RankShard, StreamStats } from '../types.js';
import type { CocoGroundTruthJson, CocoIndex } from './annotations.js';
import { loadCocoIndex } from './index-cache.js';
import { boxRatios, flipBoxes, paddedSize, resizeBoxes, resizedSize, type Size2 } from './transforms.js';

export type { CocoGroundTruthJson } from './annotations.js';

/** ImageNet's per-channel mean and std (of pixel/255): COCO's normalisation, and any set's without its own. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** deriveSeed stream of the flip decisions (distinct from the permutation and the classification augmentations). */
const FLIP_STREAM = 0xf11d;

/** Options of one epoch's detection batches. */
export interface DetectionBatchOptions {
  batchSize: number;
  seed: number;
  epoch: number;
  shuffle: boolean;
  /** Training: flip with the dataset's probability. Evaluation: never. */
  train: boolean;
  dropLast: boolean;
  /** Resume at this batch: its samples and later ones are produced exactly as in the uninterrupted epoch. */
  startBatch?: number;
  shard?: RankShard;
}

/** One image's training target: non-crowd boxes in resized (flipped) coordinates and their contiguous labels. */
export interface DetectionTarget {
  /** xyxy, 4 per box, in the resized (unpadded) image's pixels. */
  boxes: Float32Array;
  labels: Int32Array;
}

/** Where one image of a batch came from and how it was transformed (to map detections back to the original). */
export interface DetectionImageInfo {
  /** COCO image id. */
  id: number;
  file: string;
  /** resize_boxes' float32 ratios resized/original, [y, x]. */
  scale: [number, number];
  /** Resized, unpadded. */
  height: number;
  width: number;
  origHeight: number;
  origWidth: number;
  flipped: boolean;
}

/** One batch. Unlike classification batches, its arrays are fresh for every batch (its padded size varies). */
export interface DetectionBatch {
  /** size × height × width × 3 normalised pixels, NHWC; each image at the top-left, the rest 0. */
  x: Float32Array;
  /** Padded size (a multiple of pad_to; 0 when every image of the batch was skipped). */
  height: number;
  width: number;
  /** Images in this batch (fewer than batchSize where images were skipped, or at the end). */
  size: number;
  /** Batch index within the epoch. */
  index: number;
  /** Images of this batch skipped as unreadable. */
  skipped: number;
  targets: DetectionTarget[];
  images: DetectionImageInfo[];
}

/** An epoch's batches and their counters. */
export type DetectionBatchStream = AsyncIterable<DetectionBatch> & { readonly stats: StreamStats };

/** One split: its images (in the annotation file's order), ground truth and batches. */
export interface DetectionSplit {
  readonly name: string;
  readonly n: number;
  readonly annotationFile: string;
  /** COCO image ids of the split, in split order. */
  imageIds(): number[];
  /** The split's ground truth for the evaluator (crowd included). */
  groundTruth(): CocoGroundTruthJson;
  batches(o: DetectionBatchOptions): DetectionBatchStream;
}

/** A detection dataset: its splits and the transform settings they share. */
export interface DetectionDataset {
  name: string;
  numClasses: number;
  classNames: string[];
  /** COCO category id of each label. */
  categoryIds: number[];
  mean: number[];
  std: number[];
  channels: 3;
  train: DetectionSplit;
  /** A validation split (its own file, or the val_split hold-out of train), or null. */
  val: DetectionSplit | null;
  test: DetectionSplit;
  /** The dataset folder. */
  source: string;
  minSize: number;
  maxSize: number;
  padTo: number;
  /** Horizontal flip probability in training. */
  flip: number;
  /** The decoder and its threads, for the log. */
  decoder: string;
  workers: number;
}

/** Options of `openDetectionDataset`. */
export interface OpenDetectionOptions {
  dir: string;
  /** Split names: `annotations/instances_<name>.json` and the image folder `<name>/`. */
  splits: { train: string; val: string | null; test: string };
  /** Fraction of train held out for validation (seeded by seed) when splits.val is null; 0 = none. */
  valSplit: number;
  seed: number;
  minSize: number;
  maxSize: number;
  padTo: number;
  flip: number;
  onBadImage: BadImagePolicy;
  /** Decoding threads; null = the cores the trainer's threads leave free. */
  workers: number | null;
  prefetch: number;
  /** The trainer's compute threads (0 = all cores), for the default worker count. */
  threads: number;
  name: string;
  log?: (msg: string) => void;
  /** Read/write the annotation index cache (default true). */
  cache?: boolean;
  /** The decoders to use instead of imageDecoders(workers) (tests force sharp with this). */
  decoders?: Decoder[];
}

/** What every split of a dataset shares. */
interface Shared {
  minSize: number;
  maxSize: number;
  padTo: number;
  flip: number;
  lut: Float32Array;
  decoders: readonly Decoder[];
  prefetch: number;
  onBadImage: BadImagePolicy;
  warn: (msg: string) => void;
}

/** One decoded image of a batch under construction. */
interface Planned {
  sample: EncodedSample;
  /** Index in the annotation index. */
  image: number;
  resized: Size2;
  flipped: boolean;
  offset: number;
  decoder: Decoder;
}

/** The flip decision of a sample: a function of (seed, epoch, index) only. */
export function flipDecision(seed: number, epoch: number, index: number, probability: number): boolean {
  if (!(probability > 0)) return false;
  return new Rng(deriveSeed(seed, epoch, index, FLIP_STREAM)).uniform() < probability;
}

/** A split over some images of an annotation index. */
class CocoSplit implements DetectionSplit {
  readonly n: number;
  readonly annotationFile: string;
  private readonly source: FolderSource;
  private readonly warned = new Set<string>();

  constructor(
    readonly name: string,
    private readonly index: CocoIndex,
    private readonly imageDir: string,
    /** Positions in the index of the split's images, in split order. */
    private readonly images: Int32Array,
    private readonly shared: Shared,
  ) {
    this.n = images.length;
    this.annotationFile = index.file;
    const files = Array.from(images, (i) => join(imageDir, index.data.fileNames[i]!));
    this.source = new FolderSource(
      files,
      new Int32Array(images.length),
      index.categories.map((c) => c.name),
      `${imageDir} (${images.length} images)`,
    );
  }

  imageIds(): number[] {
    return Array.from(this.images, (i) => this.index.data.imageIds[i]!);
  }

  groundTruth(): CocoGroundTruthJson {
    return this.index.groundTruth(this.imageIds());
  }

  batches(o: DetectionBatchOptions): DetectionBatchStream {
    const stats: StreamStats = { waitSeconds: 0, skipped: 0, decoded: 0, seconds: 0 };
    return { stats, [Symbol.asyncIterator]: () => this.run(o, stats) };
  }

  /** A bad sample: fatal under 'error', else counted and logged once per file. */
  private bad(s: { key: string; error: string }, stats: StreamStats): void {
    if (this.shared.onBadImage === 'error') {
      throw new DataError(`${s.key}: ${s.error} (data.on_bad_image is 'error'; set it to 'skip' to skip such images)`);
    }
    stats.skipped++;
    if (!this.warned.has(s.key)) {
      this.warned.add(s.key);
      this.shared.warn(`skipping ${s.key}: ${s.error}`);
    }
  }

  /** Plans, decodes and assembles batch b from its samples. */
  private async produce(b: number, samples: (EncodedSample | BadSample)[], o: DetectionBatchOptions, stats: StreamStats): Promise<DetectionBatch> {
    const sh = this.shared;
    const d = this.index.data;
    const planned: Planned[] = [];
    let bytes = 0;
    for (const s of samples) {
      if (!('bytes' in s)) {
        this.bad(s, stats);
        continue;
      }
      const image = this.images[s.index]!;
      const origH = d.heights[image]!;
      const origW = d.widths[image]!;
      let size: Size2;
      try {
        const header = imageSize(s.bytes);
        if (header.width !== origW || header.height !== origH) {
          throw new Error(`the image is ${header.width}x${header.height} but ${d.file} says ${origW}x${origH}`);
        }
        size = resizedSize(origH, origW, sh.minSize, sh.maxSize);
      } catch (e) {
        this.bad({ key: s.key, error: (e as Error).message }, stats);
        continue;
      }
      const decoder = sh.decoders.find((dec) => dec.decodeResized !== undefined && dec.accepts(s.bytes));
      if (!decoder) {
        this.bad({ key: s.key, error: 'not an image format any decoder here reads (JPEG, PNG, WebP)' }, stats);
        continue;
      }
      const flipped = o.train && flipDecision(o.seed, o.epoch, s.index, sh.flip);
      planned.push({ sample: s, image, resized: size, flipped, offset: bytes, decoder });
      bytes += size.height * size.width * 3;
    }

    const pixels = new Uint8Array(bytes);
    const groups = new Map<Decoder, Planned[]>();
    for (const p of planned) {
      const g = groups.get(p.decoder);
      if (g) g.push(p);
      else groups.set(p.decoder, [p]);
    }
    const failed = new Map<Planned, string>();
    await Promise.all(
      [...groups].map(async ([decoder, ps]) => {
        const jobs: ResizeJob[] = ps.map((p) => ({
          bytes: p.sample.bytes,
          height: p.resized.height,
          width: p.resized.width,
          flip: p.flipped,
          offset: p.offset,
        }));
        const results = await decoder.decodeResized!(jobs, pixels);
        results.forEach((err, k) => {
          if (err !== null) failed.set(ps[k]!, err);
        });
      }),
    );
    // Bad decodes are reported in sample order, so the first error under 'error' does not depend on timing.
    for (const p of planned) {
      const err = failed.get(p);
      if (err !== undefined) this.bad({ key: p.sample.key, error: err }, stats);
    }
    const good = planned.filter((p) => !failed.has(p));
    stats.decoded += good.length;

    const pad =
      good.length > 0
        ? paddedSize(
            good.map((p) => p.resized),
            sh.padTo,
          )
        : { height: 0, width: 0 };
    const H = pad.height;
    const W = pad.width;
    const x = new Float32Array(good.length * H * W * 3);
    const lut = sh.lut;
    const targets: DetectionTarget[] = [];
    const images: DetectionImageInfo[] = [];
    good.forEach((p, k) => {
      const { height: h, width: w } = p.resized;
      for (let y = 0; y < h; y++) {
        let src = p.offset + y * w * 3;
        let dst = (k * H + y) * W * 3;
        for (let c = 0; c < w; c++, src += 3, dst += 3) {
          x[dst] = lut[pixels[src]!]!;
          x[dst + 1] = lut[256 + pixels[src + 1]!]!;
          x[dst + 2] = lut[512 + pixels[src + 2]!]!;
        }
      }
      const origH = d.heights[p.image]!;
      const origW = d.widths[p.image]!;
      const [ry, rx] = boxRatios({ height: origH, width: origW }, p.resized);
      const [a0, a1] = this.index.annotationRange(p.image);
      const keep: number[] = [];
      for (let a = a0; a < a1; a++) if (!d.iscrowd[a]) keep.push(a);
      const original = new Float32Array(4 * keep.length);
      const labels = new Int32Array(keep.length);
      keep.forEach((a, j) => {
        original.set(d.boxes.subarray(4 * a, 4 * a + 4), 4 * j);
        labels[j] = d.labels[a]!;
      });
      const resized = resizeBoxes(original, ry, rx);
      targets.push({ boxes: p.flipped ? flipBoxes(resized, w) : resized, labels });
      images.push({
        id: d.imageIds[p.image]!,
        file: p.sample.key,
        scale: [ry, rx],
        height: h,
        width: w,
        origHeight: origH,
        origWidth: origW,
        flipped: p.flipped,
      });
    });
    return { x, height: H, width: W, size: good.length, index: b, skipped: samples.length - good.length, targets, images };
  }

  /** The epoch's batches: samples read in order, up to `prefetch` batches decoding ahead of the consumer. */
  private async *run(o: DetectionBatchOptions, stats: StreamStats): AsyncGenerator<DetectionBatch> {
    const B = o.batchSize;
    const count = shardCount(this.n, o.shard);
    const total = numBatches(count, B, o.dropLast);
    const start = o.startBatch ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new RangeError(`startBatch must be a non-negative integer, got ${start}`);
    if (start >= total) return;
    yield* prefetchBatches({
      samples: this.source.samples({ seed: o.seed, epoch: o.epoch, shuffle: o.shuffle, start: start * B, shard: o.shard }),
      start,
      total,
      batchSize: B,
      count,
      depth: Math.max(1, this.shared.prefetch),
      stats,
      produce: (b, s) => this.produce(b, s, o, stats),
    });
  }
}

function checkOptions(o: OpenDetectionOptions): void {
  const posInt = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1) throw new DataError(`${what} must be a positive integer, got ${v}`);
  };
  posInt(o.minSize, 'min_size');
  posInt(o.maxSize, 'max_size');
  posInt(o.padTo, 'pad_to');
  if (!(o.flip >= 0 && o.flip <= 1)) throw new DataError(`flip must be a probability in [0, 1], got ${o.flip}`);
  if (!(o.valSplit >= 0 && o.valSplit < 1)) throw new DataError(`val_split must be in [0, 1), got ${o.valSplit}`);
}

/** The annotation file and image folder of a split, checked to exist (the message says what layout is expected). */
function splitPaths(dir: string, split: string): { annotations: string; images: string } {
  const annotations = join(dir, 'annotations', `instances_${split}.json`);
  const images = join(dir, split);
  const layout = `a COCO-format folder holds annotations/instances_<split>.json and the images in <split>/`;
  if (!existsSync(annotations)) throw new DataError(`${annotations} not found: ${layout} (split "${split}" of ${dir})`);
  if (!existsSync(images) || !statSync(images).isDirectory()) throw new DataError(`${images} is not a folder: ${layout} (split "${split}" of ${dir})`);
  return { annotations, images };
}

/**
 * Opens a COCO-format dataset: reads (or loads the cached index of) each split's annotation file, checks that the
 * splits share one category list, holds out valSplit of train when there is no val split, and sets up the decoders.
 */
export async function openDetectionDataset(o: OpenDetectionOptions): Promise<DetectionDataset> {
  checkOptions(o);
  const log = o.log ?? (() => {});
  const names = [...new Set([o.splits.train, o.splits.test, ...(o.splits.val !== null ? [o.splits.val] : [])])];
  const paths = new Map(names.map((s) => [s, splitPaths(o.dir, s)]));
  const indexes = new Map<string, CocoIndex>();
  for (const s of names) {
    const loaded = await loadCocoIndex(paths.get(s)!.annotations, { onBad: o.onBadImage, log, cache: o.cache ?? true });
    indexes.set(s, loaded.index);
  }
  const trainIndex = indexes.get(o.splits.train)!;
  const categories = trainIndex.categories;
  if (categories.length === 0) throw new DataError(`${trainIndex.file}: no categories`);
  for (const [s, ix] of indexes) {
    const same = ix.categories.length === categories.length && ix.categories.every((c, k) => c.id === categories[k]!.id);
    if (!same) {
      throw new DataError(
        `${ix.file}: its categories (ids ${ix.categories.map((c) => c.id).join(',')}) differ from ${trainIndex.file}'s; split "${s}" cannot share its labels`,
      );
    }
  }

  const workers = o.workers ?? defaultWorkers(o.threads);
  const { decoders, description } = o.decoders ? { decoders: o.decoders, description: o.decoders.map((d) => d.name).join(', ') } : imageDecoders(workers);
  const mean = trainIndex.data.mean ?? [...IMAGENET_MEAN];
  const std = trainIndex.data.std ?? [...IMAGENET_STD];
  const shared: Shared = {
    minSize: o.minSize,
    maxSize: o.maxSize,
    padTo: o.padTo,
    flip: o.flip,
    lut: normalisationTable(mean, std, 3),
    decoders,
    prefetch: o.prefetch,
    onBadImage: o.onBadImage,
    warn: log,
  };
  const all = (ix: CocoIndex) => Int32Array.from({ length: ix.numImages }, (_, i) => i);
  const split = (name: string, ix: CocoIndex, images: Int32Array) => new CocoSplit(name, ix, paths.get(name)!.images, images, shared);

  let train: DetectionSplit;
  let val: DetectionSplit | null = null;
  if (o.splits.val !== null) {
    train = split(o.splits.train, trainIndex, all(trainIndex));
    val = split(o.splits.val, indexes.get(o.splits.val)!, all(indexes.get(o.splits.val)!));
  } else {
    const sel = selectIndices(trainIndex.numImages, null, o.valSplit, o.seed);
    train = split(o.splits.train, trainIndex, sel.train);
    if (sel.val.length > 0) {
      val = new CocoSplit(`${o.splits.train} (validation hold-out)`, trainIndex, paths.get(o.splits.train)!.images, sel.val, shared);
    }
  }
  const test = split(o.splits.test, indexes.get(o.splits.test)!, all(indexes.get(o.splits.test)!));
  log(
    `${o.name}: ${train.n} train, ${val?.n ?? 0} validation, ${test.n} test images, ${categories.length} categories; ` +
      `resize ${o.minSize}/${o.maxSize}, pad to ${o.padTo}; decoder ${description}`,
  );
  return {
    name: o.name,
    numClasses: categories.length,
    classNames: categories.map((c) => c.name),
    categoryIds: categories.map((c) => c.id),
    mean,
    std,
    channels: 3,
    train,
    val,
    test,
    source: o.dir,
    minSize: o.minSize,
    maxSize: o.maxSize,
    padTo: o.padTo,
    flip: o.flip,
    decoder: description,
    workers,
  };
}
