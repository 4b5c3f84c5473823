/** Public API of the data layer: catalogue, discovery, download, loading and batching. */
export type { Dataset, Split } from './types.js';
export { DataError } from './types.js';
export {
  CATALOG,
  catalogEntry,
  listCatalog,
  DEFAULT_IMAGEFOLDER_SIZE,
  type CatalogEntry,
  type DatasetFormat,
  type DatasetName,
  type DownloadSpec,
} from './catalog.js';
export {
  candidateDirs,
  discoverDataset,
  hasDatasetFiles,
  projectDatasetDir,
  SYSTEM_DATASETS_ROOT,
  type Candidate,
  type DiscoverOptions,
  type DiscoveryRule,
} from './discover.js';
export { DownloadFailed, downloadDataset, downloadFile, md5File, provideDataHelp, type DownloadOptions } from './download.js';
export { extractTarGz } from './tar.js';
export { ensureDatasetFiles, gatherSplit, loadDataset, selectIndices, type LoadOptions, type LocateOptions, type Located } from './load.js';
export { epochBatches, epochPermutation, normalisationTable, numBatches, type AugmentOptions, type Batch, type EpochBatchOptions } from './batches.js';
export { loadIdxDataset, loadIdxImages, loadIdxLabels, parseIdx, readMaybeGzip } from './idx.js';
export { loadCifar, resolveCifarDir, type CifarVariant } from './cifar.js';
export { decodeImage, decodeImages, scanImageFolder, IMAGENET_MEAN, IMAGENET_STD, type ImageFolderScan } from './imagefolder.js';
export { makeSynthetic, channelStats, SYNTHETIC_DATA_SEED, type SyntheticSpec } from './synthetic.js';
export { FolderSource, openFolderSources, type StreamSources } from './stream/folder-source.js';
export { scanImageFolderCached, type CachedScan } from './stream/folder-index.js';
export { expandBraces, listShards, openShardSources, ShardSource, SHUFFLE_BUFFER, type ShardSourceOptions } from './stream/shards.js';
export { readShardIndex, SHARD_INDEX_FILE, type ShardIndex } from './stream/shard-index.js';
export { DEFAULT_SHARD_SIZE, parseShardSize, writeShards, type WriteShardsOptions, type WriteShardsResult } from './stream/shard-writer.js';
