import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveCifarDir } from './cifar.js';
import type { CatalogEntry } from './catalog.js';
import { hasIdxFiles } from './idx.js';
import { hasImageFolder } from './imagefolder.js';
import { hasShardIndex } from './stream/shard-index.js';
import { datasetsDir } from '../util/workspace.js';

/**
 * Where a dataset's files are looked for, in order:
 *   1. `data.dir`, if set;
 *   2. `<projectRoot>/datasets/<name>/` (the download cache);
 *   3. `<systemRoot>/<name>` (default /usr/share/datasets, where Debian's dataset-* packages install).
 */

/** Default system-wide dataset root (Debian's dataset-* packages). */
export const SYSTEM_DATASETS_ROOT = '/usr/share/datasets';

/** Which discovery rule found the files. */
export type DiscoveryRule = 'data.dir' | 'project' | 'system';

/** A directory searched (or found) for a dataset. */
export interface Candidate {
  dir: string;
  rule: DiscoveryRule;
}

/** Options for discovery; `systemRoot` is a parameter so tests can point it at a temp dir. */
export interface DiscoverOptions {
  dataDir: string | null;
  projectRoot: string;
  systemRoot?: string;
}

/** The project's download cache for a dataset: `<projectRoot>/datasets/<name>`. */
export function projectDatasetDir(projectRoot: string, name: string): string {
  return join(datasetsDir(projectRoot), name);
}

/** The directories searched, in order (relative `data.dir` is resolved against the project root). */
export function candidateDirs(name: string, opts: DiscoverOptions): Candidate[] {
  const out: Candidate[] = [];
  if (opts.dataDir !== null && opts.dataDir !== '') {
    out.push({ dir: resolve(opts.projectRoot, opts.dataDir), rule: 'data.dir' });
  }
  out.push({ dir: projectDatasetDir(opts.projectRoot, name), rule: 'project' });
  out.push({ dir: join(opts.systemRoot ?? SYSTEM_DATASETS_ROOT, name), rule: 'system' });
  return out;
}

/** Whether `dir` holds a complete copy of the dataset in the entry's format. */
export function hasDatasetFiles(entry: CatalogEntry, dir: string): boolean {
  switch (entry.format) {
    case 'idx':
      return hasIdxFiles(dir);
    case 'cifar10':
    case 'cifar100':
      return resolveCifarDir(dir, entry.format) !== null;
    case 'imagefolder':
      return hasImageFolder(dir);
    case 'shards':
      return hasShardIndex(dir);
    case 'synthetic':
      return true;
    case 'coco':
      // Every split's annotation file (the generator writes them last; a COCO download has train and val).
      return (entry.name === 'coco' ? ['train2017', 'val2017'] : ['train', 'val', 'test']).every((s) =>
        existsSync(join(dir, 'annotations', `instances_${s}.json`)),
      );
  }
}

/** Finds the first candidate directory holding the dataset; null (plus what was searched) if none does. */
export function discoverDataset(entry: CatalogEntry, opts: DiscoverOptions): { found: Candidate | null; searched: Candidate[] } {
  const searched = candidateDirs(entry.name, opts);
  for (const c of searched) {
    if (hasDatasetFiles(entry, c.dir)) return { found: c, searched };
  }
  return { found: null, searched };
}
