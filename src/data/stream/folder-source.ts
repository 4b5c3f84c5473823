import { readFile } from 'node:fs/promises';
import type { DataConfig } from '../../config/schema.js';
import { epochPermutation, rankPositions } from '../batches.js';
import { catalogEntry } from '../catalog.js';
import { selectIndices } from '../holdout.js';
import { ensureDatasetFiles } from '../locate.js';
import type { LoadOptions } from '../types.js';
import type { BadSample, EncodedSample, EpochOrder, SampleSource } from './contract.js';
import { scanImageFolderCached } from './folder-index.js';
import { READ_AHEAD, readAhead } from './read-ahead.js';

/** The splits of a streamed dataset: training (without the hold-out), the seeded validation hold-out, evaluation. */
export interface StreamSources {
  train: SampleSource;
  /** The data.val_split hold-out of the training split; null when val_split is 0. */
  val: SampleSource | null;
  eval: SampleSource;
  /** Where the data is, for the log. */
  location: string;
}

/** Checks an EpochOrder's start, the one field a caller computes. */
export function checkStart(order: EpochOrder): void {
  if (!Number.isInteger(order.start) || order.start < 0) throw new RangeError(`EpochOrder.start must be a non-negative integer, got ${order.start}`);
}

/**
 * A split of an image folder: the epoch order is `epochPermutation(n, seed, epoch, shuffle)`, as for
 * in-memory datasets; files are read with READ_AHEAD reads in flight and yielded in that order. A
 * file that cannot be read becomes a BadSample.
 */
export class FolderSource implements SampleSource {
  readonly n: number;
  readonly numClasses: number;

  constructor(
    private readonly files: readonly string[],
    private readonly labels: Int32Array,
    readonly classNames: string[],
    readonly description: string,
    private readonly window = READ_AHEAD,
  ) {
    if (labels.length !== files.length) throw new RangeError(`FolderSource: ${files.length} files but ${labels.length} labels`);
    this.n = files.length;
    this.numClasses = classNames.length;
  }

  /** The epoch's samples; sample k of the source keeps index k in every epoch. */
  async *samples(order: EpochOrder): AsyncGenerator<EncodedSample | BadSample> {
    checkStart(order);
    const perm = epochPermutation(this.n, order.seed, order.epoch, order.shuffle);
    const positions = rankPositions(this.n, order.shard);
    const read = async (k: number): Promise<EncodedSample | BadSample> => {
      const index = perm[positions[k]!]!;
      const key = this.files[index]!;
      try {
        const bytes = await readFile(key);
        return { index, key, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), label: this.labels[index]! };
      } catch (e) {
        return { index, key, error: `cannot read file (${(e as Error).message})` };
      }
    };
    yield* readAhead(order.start, positions.length, read, this.window);
  }
}

/**
 * Opens an image folder (data.dir, else the discovery order) as streamed splits: train and the
 * val_split hold-out over the seeded selection of `selectIndices` (as `loadDataset` makes it), and
 * val/ (or test/) for evaluation. The file list comes from the index cache when the folder is unchanged.
 */
export async function openFolderSources(cfg: DataConfig, opts: LoadOptions): Promise<StreamSources> {
  const found = await ensureDatasetFiles(catalogEntry('imagefolder'), cfg.dir, false, opts);
  const scan = await scanImageFolderCached(found.dir, { projectRoot: opts.projectRoot, log: opts.log });
  const { train, val } = selectIndices(scan.train.files.length, cfg.train_subset, cfg.val_split, opts.seed);
  const pick = (idx: Int32Array, what: string) =>
    new FolderSource(
      Array.from(idx, (i) => scan.train.files[i]!),
      Int32Array.from(idx, (i) => scan.train.labels[i]!),
      scan.classes,
      `${found.dir}/train (${what}: ${idx.length} of ${scan.train.files.length} images)`,
    );
  return {
    train: pick(train, 'training'),
    val: val.length > 0 ? pick(val, 'validation hold-out') : null,
    eval: new FolderSource(scan.test.files, scan.test.labels, scan.classes, `${found.dir}/${scan.testDir}`),
    location: found.dir,
  };
}
