import type { DataConfig } from '../config/schema.js';
import { DataError } from '../util/errors.js';
import { type CatalogEntry, catalogEntry } from './catalog.js';
import { loadCifar } from './cifar.js';
import { selectIndices } from './holdout.js';
import { loadIdxDataset } from './idx.js';
import { ensureDatasetFiles } from './locate.js';
import { makeSynthetic } from './synthetic.js';
import type { Dataset, LoadedDataset, LoadOptions, MemoryDataset, Split } from './types.js';

// What the streamed sources share with this loader lives below both (locate.ts, holdout.ts, types.ts), so they never
// import this module (which loads them on demand); re-exported here for this module's callers.
export { ensureDatasetFiles, type Located } from './locate.js';
export { selectIndices } from './holdout.js';
export type { LoadedDataset, LoadOptions, LocateOptions } from './types.js';

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

/**
 * Loads the configured dataset: discovery, download if allowed, decoding, then the seeded
 * validation hold-out and training subset. `dataset.train` excludes the validation images.
 * `location` is the directory the files came from (or 'synthetic').
 */
export async function loadDataset(cfg: DataConfig, opts: LoadOptions): Promise<LoadedDataset> {
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
  } else if (entry.format === 'coco') {
    throw new DataError(`'${entry.name}' is a detection dataset: it is read by task: detection, not as a classification set`);
  } else if (entry.format === 'imagefolder' || entry.format === 'shards') {
    // Streamed from disk with bounded memory; imported on demand, so runs on in-memory datasets never load the
    // streaming modules (tar reader, decoders, the native addon's loader).
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
