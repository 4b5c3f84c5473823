/**
 * The contract between the parts of the streaming input pipeline (issue #11): sources give encoded
 * samples, transforms turn (seed, epoch, sample index, image size) into a geometry, decoders apply a
 * geometry to encoded bytes and write uint8 RGB pixels straight into a batch buffer. Every part can be
 * replaced (folder or tar shards; native libjpeg-turbo or sharp) without the others changing, and
 * the same sample gives the same geometry whichever decoder runs it.
 */
import type { RankShard } from '../types.js';

/** One encoded image as a source yields it. */
export interface EncodedSample {
  /** The sample's index in its split (stable across epochs and workers; what seeds its transform). */
  index: number;
  /** Where it came from, for messages: a file path, or `shard.tar:KEY`. */
  key: string;
  /** The file's bytes as stored (JPEG, PNG or WebP). */
  bytes: Uint8Array;
  label: number;
}

/** Width and height of an encoded image, read from its header. */
export interface ImageSize {
  width: number;
  height: number;
}

/**
 * How one image becomes size × size pixels.
 * - `crop-resize` (RandomResizedCrop): take the integer box (top, left, height, width) of the source,
 *   resize it to size × size with antialiased bilinear filtering, then mirror it if `flip`.
 * - `resize-crop` (eval: Resize(shorter side) + CenterCrop): resize the whole source to
 *   resizeHeight × resizeWidth (antialiased bilinear), then take the box (top, left, size, size).
 */
export type Geometry =
  | { kind: 'crop-resize'; top: number; left: number; height: number; width: number; flip: boolean }
  | { kind: 'resize-crop'; resizeHeight: number; resizeWidth: number; top: number; left: number; flip: boolean };

/** One decode job: a sample's bytes, its geometry and where its pixels go. */
export interface DecodeJob {
  bytes: Uint8Array;
  geometry: Geometry;
  /** Byte offset of this image's size × size × 3 pixels (RGB, HWC) in the output buffer. */
  offset: number;
}

/** What happened to each job of a decode call: null when it succeeded, else why it failed. */
export type DecodeResult = (string | null)[];

/**
 * Detection's decode job (src/data/coco): the whole image resized to height × width (the caller keeps the aspect),
 * antialiased bilinear as for the other geometries, mirrored if `flip`; its height × width × 3 RGB pixels (HWC, rows
 * of width × 3 bytes) go at byte `offset` of the output.
 */
export interface ResizeJob {
  bytes: Uint8Array;
  height: number;
  width: number;
  flip: boolean;
  offset: number;
}

/**
 * A decoder turns a batch of jobs into pixels in `out`. It never throws for a bad image: the failed
 * job's slot says why (a corrupt or truncated file is the data's fault, and the pipeline decides
 * whether to skip it). Its promise rejects only when the decoder itself is broken.
 */
export interface Decoder {
  /** 'libjpeg-turbo' (the native addon) or 'sharp'. */
  readonly name: string;
  /** Whether it can decode these bytes (e.g. the native path takes JPEG only). */
  accepts(bytes: Uint8Array): boolean;
  decode(jobs: readonly DecodeJob[], size: number, out: Uint8Array): Promise<DecodeResult>;
  /** Whole-image resizes of any size (detection); same failure rules as `decode`. Absent: the decoder cannot. */
  decodeResized?(jobs: readonly ResizeJob[], out: Uint8Array): Promise<DecodeResult>;
}

/** A sample a source could not read (a broken shard member, an unreadable file): the pipeline skips and counts it, or stops. */
export interface BadSample {
  index: number;
  key: string;
  /** Why, for the log and the error message. */
  error: string;
}

/** Where to start an epoch's sample stream and in which order. */
export interface EpochOrder {
  seed: number;
  epoch: number;
  /** Shuffle (seeded by seed and epoch) or keep the stored order (evaluation). */
  shuffle: boolean;
  /** Skip this many samples of the epoch's order (a resume mid-epoch); they are not decoded. With a shard: of the rank's sequence. */
  start: number;
  /** A data-parallel rank's share: the source yields only the rank's sequence (`rankPositions` of the order). */
  shard?: RankShard;
}

/**
 * A split of a streamed dataset: its size and classes are known before the first epoch (from a folder
 * scan or a shard index), its samples are read on demand in an order that depends only on EpochOrder.
 */
export interface SampleSource {
  /** Samples in one epoch. */
  readonly n: number;
  readonly numClasses: number;
  readonly classNames: string[];
  /** Where the samples come from, for the log (a folder, a shard pattern). */
  readonly description: string;
  /** The epoch's samples in order; at most a bounded number are held in memory at once. */
  samples(order: EpochOrder): AsyncIterable<EncodedSample | BadSample>;
}
