import type { DataConfig } from '../config/schema.js';
import { DataError } from '../util/errors.js';
import { deriveSeed, Rng } from '../util/rng.js';
import { type CatalogEntry, catalogEntry, DEFAULT_IMAGEFOLDER_SIZE } from './catalog.js';
import { loadCifar } from './cifar.js';
import { type Candidate, discoverDataset, projectDatasetDir } from './discover.js';
import { downloadDataset, provideDataHelp } from './download.js';
import { loadIdxDataset } from './idx.js';
import { decodeImages, scanImageFolder } from './imagefolder.js';
import { makeSynthetic } from './synthetic.js';
import type { AnySplit, Dataset, MemoryDataset, Split } from './types.js';

/** Stream tags for `deriveSeed`, so the data split never shares a stream with anything else. */
const SPLIT_STREAM = 0x5b117;

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

/** Where a dataset's files are, and how they were found. */
export interface Located {
  dir: string;
  rule: Candidate['rule'] | 'download';
}

/**
 * Finds a dataset's files by the discovery order, downloading them into the project cache when
 * allowed and absent. Used by `loadDataset` and by `pwlu data get`.
 */
export async function ensureDatasetFiles(
  entry: CatalogEntry,
  dataDir: string | null,
  download: boolean,
  opts: LocateOptions,
): Promise<Located> {
  const log = opts.log ?? (() => {});
  const { found, searched } = discoverDataset(entry, { dataDir, projectRoot: opts.projectRoot, systemRoot: opts.systemRoot });
  // A folder the user named is used or the run fails: silently training on another copy would misreport results.
  const named = searched.find((c) => c.rule === 'data.dir');
  if (named && found && found.rule !== 'data.dir') {
    throw new DataError(`data.dir ${named.dir} does not hold ${entry.title} (it needs ${entry.files.join(', ')}); a copy exists in ${found.dir}: unset data.dir to use it`);
  }
  if (found !== null) {
    log(`${entry.title}: using ${found.dir} (${found.rule})`);
    return found;
  }
  const where = searched.map((c) => `  ${c.dir}  (${c.rule})`).join('\n');
  if (!download || entry.downloads.length === 0 || named) {
    const why = entry.downloads.length === 0 ? '' : !download ? 'data.download is false, so nothing was downloaded.\n' : 'data.dir is set, so nothing was downloaded elsewhere.\n';
    throw new DataError(`${entry.title} not found. Searched:\n${where}\n${why}${provideDataHelp(entry, opts.projectRoot, opts.systemRoot)}`);
  }
  const dest = projectDatasetDir(opts.projectRoot, entry.name);
  log(`${entry.title} not found locally; downloading into ${dest}`);
  await downloadDataset(entry, dest, opts.projectRoot, {
    fetchImpl: opts.fetchImpl,
    log: opts.log,
    progress: opts.progress,
  });
  return { dir: dest, rule: 'download' };
}

/**
 * Chooses the validation hold-out and the training subset from n training images, reproducibly:
 * one seeded permutation; its first round(val_split * n) indices are validation, the next
 * `train_subset` (or all the rest) are training. Validation therefore does not depend on
 * train_subset, and a smaller subset is contained in a larger one. Indices come back sorted.
 */
export function selectIndices(
  n: number,
  trainSubset: number | null,
  valSplit: number,
  seed: number,
): { train: Int32Array; val: Int32Array } {
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

/** Copies the chosen images of a split into a new compact split. */
export function gatherSplit(split: Split, indices: Int32Array, imageBytes: number): Split {
  const images = new Uint8Array(indices.length * imageBytes);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    images.set(split.images.subarray(i * imageBytes, (i + 1) * imageBytes), k * imageBytes);
    labels[k] = split.labels[i]!;
  }
  return { images, labels, n: indices.length };
}

function checkNativeSize(entry: CatalogEntry, imageSize: number | null): void {
  if (imageSize !== null && imageSize !== entry.height) {
    throw new DataError(
      `data.image_size=${imageSize} is not supported for ${entry.title}: its images are ${entry.height}x${entry.width}; ` +
        `set data.image_size to null (or ${entry.height})`,
    );
  }
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

/**
 * Loads the configured dataset: discovery, download if allowed, decoding, then the seeded
 * validation hold-out and training subset. `dataset.train` excludes the validation images.
 * `location` is the directory the files came from (or 'synthetic').
 */
export async function loadDataset(
  cfg: DataConfig,
  opts: LoadOptions,
): Promise<LoadedDataset> {
  const entry = catalogEntry(cfg.name);
  const log = opts.log ?? (() => {});

  let base: MemoryDataset;
  let location: string;
  let trainIdx: Int32Array;
  let valIdx: Int32Array;

  if (entry.format === 'synthetic') {
    const s = cfg.synthetic;
    if (cfg.image_size !== null && cfg.image_size !== s.size) {
      throw new DataError(`data.image_size=${cfg.image_size} does not match data.synthetic.size=${s.size}; set one of them`);
    }
    base = makeSynthetic(s);
    location = 'synthetic';
    ({ train: trainIdx, val: valIdx } = selectIndices(base.train.n, cfg.train_subset, cfg.val_split, opts.seed));
  } else if (entry.format === 'imagefolder' || entry.format === 'shards') {
    // Streamed from disk with bounded memory (imported here: the sources use this module's discovery and selection).
    const { loadStreamed } = await import('./stream/open.js');
    return loadStreamed(entry, cfg, opts);
  } else {
    checkNativeSize(entry, cfg.image_size);
    const found = await ensureDatasetFiles(entry, cfg.dir, cfg.download, opts);
    location = found.dir;
    let train: Split;
    let test: Split;
    if (entry.format === 'idx') {
      const d = await loadIdxDataset(found.dir, entry.numClasses!);
      if (d.height !== entry.height || d.width !== entry.width) {
        throw new DataError(`${found.dir}: images are ${d.height}x${d.width}, but ${entry.title} images are ${entry.height}x${entry.width}`);
      }
      ({ train, test } = d);
    } else {
      ({ train, test } = await loadCifar(found.dir, entry.format));
    }
    base = {
      name: entry.name,
      height: entry.height!,
      width: entry.width!,
      channels: entry.channels!,
      numClasses: entry.numClasses!,
      train,
      test,
      mean: [...entry.mean!],
      std: [...entry.std!],
      flipOk: entry.flipOk,
      source: found.dir,
      ...(entry.classNames ? { classNames: [...entry.classNames] } : {}),
    };
    ({ train: trainIdx, val: valIdx } = selectIndices(train.n, cfg.train_subset, cfg.val_split, opts.seed));
  }

  if (cfg.train_subset !== null && cfg.train_subset > trainIdx.length) {
    log(`data.train_subset=${cfg.train_subset} exceeds the ${trainIdx.length} training images available; using all of them`);
  }
  const imageBytes = base.height * base.width * base.channels;
  const allTrain = trainIdx.length === base.train.n;
  const dataset: Dataset = { ...base, train: allTrain ? base.train : gatherSplit(base.train, trainIdx, imageBytes) };
  const val = valIdx.length > 0 ? gatherSplit(base.train, valIdx, imageBytes) : null;
  if (!allTrain || val !== null) {
    log(`${entry.title}: ${dataset.train.n} train, ${val?.n ?? 0} validation, ${dataset.test.n} test images`);
  }
  return { dataset, val, location };
}
