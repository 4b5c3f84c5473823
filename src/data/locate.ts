/**
 * Finding a dataset's files (discovery, else a download into the project cache): shared by the in-memory loader
 * (load.ts) and the streamed sources (stream/folder-source.ts, stream/shards.ts), below both.
 */
import { DataError } from '../util/errors.js';
import type { CatalogEntry } from './catalog.js';
import { type Candidate, discoverDataset, projectDatasetDir } from './discover.js';
import { downloadDataset, provideDataHelp } from './download.js';
import type { LocateOptions } from './types.js';

/** Where a dataset's files are, and how they were found. */
export interface Located {
  dir: string;
  rule: Candidate['rule'] | 'download';
}

/**
 * Finds a dataset's files by the discovery order, downloading them into the project cache when
 * allowed and absent. Used by `loadDataset`, the streamed sources and `pwlu data get`.
 */
export async function ensureDatasetFiles(entry: CatalogEntry, dataDir: string | null, download: boolean, opts: LocateOptions): Promise<Located> {
  const log = opts.log ?? (() => {});
  const { found, searched } = discoverDataset(entry, { dataDir, projectRoot: opts.projectRoot, systemRoot: opts.systemRoot });
  // A folder the user named is used or the run fails: silently training on another copy would misreport results.
  const named = searched.find((c) => c.rule === 'data.dir');
  if (named && found && found.rule !== 'data.dir') {
    throw new DataError(
      `data.dir ${named.dir} does not hold ${entry.title} (it needs ${entry.files.join(', ')}); a copy exists in ${found.dir}: unset data.dir to use it`,
    );
  }
  if (found !== null) {
    log(`${entry.title}: using ${found.dir} (${found.rule})`);
    return found;
  }
  const where = searched.map((c) => `  ${c.dir}  (${c.rule})`).join('\n');
  if (!download || entry.downloads.length === 0 || named) {
    const why =
      entry.downloads.length === 0
        ? ''
        : !download
          ? 'data.download is false, so nothing was downloaded.\n'
          : 'data.dir is set, so nothing was downloaded elsewhere.\n';
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
