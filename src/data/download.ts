import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import type { CatalogEntry, DownloadSpec } from './catalog.js';
import { hasDatasetFiles, projectDatasetDir, SYSTEM_DATASETS_ROOT } from './discover.js';
import { createCounter } from '../util/progress.js';
import { extractTarGz } from './tar.js';

/**
 * Downloads a catalogue dataset into `<projectRoot>/datasets/<name>/`: each file is streamed to a
 * temporary name beside its destination while its md5 is computed, verified against the catalogue,
 * then renamed into place, so an interrupted or corrupt download never leaves a file that discovery
 * would accept. Archives (CIFAR) are verified, extracted the same way, then deleted.
 * `fetchImpl` is injectable so tests never touch the network.
 */

/** Options for downloads. */
export interface DownloadOptions {
  fetchImpl?: typeof fetch;
  log?: (msg: string) => void;
  /** Allow a progress bar (shown only when stderr is a TTY). Default true. */
  progress?: boolean;
  /** Abort a transfer that receives nothing for this long. Default 60 s. */
  idleTimeoutMs?: number;
}

/** md5 of a file on disk, lower-case hex. */
export async function md5File(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

class ChecksumMismatch extends Error {}

/** Every mirror failed for one file; `failures` has one line per URL. */
export class DownloadFailed extends Error {
  override name = 'DownloadFailed';
  constructor(
    readonly file: string,
    readonly failures: string[],
    readonly checksumMismatch: boolean,
  ) {
    super(`${file}: ${failures.join('; ')}`);
  }
}

/** Streams one URL into `tmp`, returning its md5. */
async function fetchToFile(url: string, tmp: string, spec: DownloadSpec, opts: DownloadOptions): Promise<string> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const ctl = new AbortController();
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  let timer = setTimeout(() => ctl.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ctl.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
  };
  const progress = { bar: createCounter(spec.file, spec.bytes, 'bytes', opts.progress ?? true) };
  try {
    const res = await fetchImpl(url, { signal: ctl.signal, redirect: 'follow' });
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
    if (res.body === null) throw new Error('empty response body');
    const len = Number(res.headers.get('content-length'));
    if (Number.isFinite(len) && len > 0) progress.bar.setTotal(len);
    const hash = createHash('md5');
    const fh = await open(tmp, 'w');
    try {
      for await (const chunk of res.body) {
        touch();
        const bytes = chunk as Uint8Array;
        hash.update(bytes);
        await fh.write(bytes);
        progress.bar.increment(bytes.length);
      }
    } finally {
      await fh.close();
    }
    return hash.digest('hex');
  } finally {
    clearTimeout(timer);
    progress.bar.stop();
  }
}

/**
 * Downloads one file into `destDir`, trying each mirror, verifying the md5. Skips the download when a
 * file with the right checksum is already there. Returns the final path; throws `DownloadFailed`
 * listing each mirror's failure (callers wrap it in a DataError with the ways to provide the data).
 */
export async function downloadFile(spec: DownloadSpec, destDir: string, opts: DownloadOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const dest = join(destDir, spec.file);
  await mkdir(destDir, { recursive: true });
  if (existsSync(dest)) {
    const have = await md5File(dest);
    if (have === spec.md5) return dest;
    log(`${dest}: checksum ${have} does not match ${spec.md5}; downloading again`);
  }
  const failures: string[] = [];
  let mismatch = false;
  for (const url of spec.urls) {
    const tmp = join(destDir, `.${spec.file}.part-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      log(`downloading ${url}`);
      const got = await fetchToFile(url, tmp, spec, opts);
      if (got !== spec.md5) throw new ChecksumMismatch(`checksum mismatch: md5 ${got}, expected ${spec.md5}`);
      await rename(tmp, dest);
      return dest;
    } catch (e) {
      await rm(tmp, { force: true });
      if (e instanceof ChecksumMismatch) mismatch = true;
      const err = e as Error & { cause?: unknown };
      const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
      failures.push(`${url}: ${err.message}${cause}`);
    }
  }
  throw new DownloadFailed(spec.file, failures, mismatch);
}

/** The ways to provide a dataset's files by hand; appended to every "not found / cannot download" error. */
export function provideDataHelp(entry: CatalogEntry, projectRoot: string, systemRoot: string = SYSTEM_DATASETS_ROOT): string {
  const lines = [`Provide the ${entry.title} files in one of these ways:`];
  if (entry.aptPackage !== null) {
    lines.push(`  - install the Debian package: sudo apt-get install ${entry.aptPackage}   (files go to ${join(systemRoot, entry.name)})`);
  }
  lines.push(`  - copy ${entry.files.join(', ')} into ${projectDatasetDir(projectRoot, entry.name)}/`);
  lines.push(`  - set data.dir to a directory holding them (e.g. --set data.dir=/path/to/${entry.name})`);
  if (entry.downloads.length > 0) {
    lines.push('  - download them yourself (then copy as above):');
    for (const d of entry.downloads) {
      lines.push(`      ${d.urls[0]}  (md5 ${d.md5})${d.extract ? '  then extract it' : ''}`);
      for (const u of d.urls.slice(1)) lines.push(`      mirror: ${u}`);
    }
  }
  return lines.join('\n');
}

/** Downloads (and extracts) every file of a catalogue dataset into `destDir`, then checks the result is loadable. */
export async function downloadDataset(entry: CatalogEntry, destDir: string, projectRoot: string, opts: DownloadOptions = {}): Promise<void> {
  if (entry.downloads.length === 0) {
    throw new DataError(`${entry.title} has no canonical download.\n${provideDataHelp(entry, projectRoot)}`);
  }
  const log = opts.log ?? (() => {});
  const created = !existsSync(destDir);
  for (const spec of entry.downloads) {
    let path: string;
    try {
      path = await downloadFile(spec, destDir, opts);
    } catch (e) {
      if (created) await rmdir(destDir).catch(() => {}); // only succeeds if nothing was saved
      if (!(e instanceof DownloadFailed)) throw e;
      const what = e.checksumMismatch ? 'Download rejected' : 'Could not download';
      throw new DataError(`${what} ${entry.title}: ${e.file}\n${e.failures.map((f) => `  ${f}`).join('\n')}\n${provideDataHelp(entry, projectRoot)}`);
    }
    if (spec.extract === 'tar.gz') {
      log(`extracting ${path}`);
      await extractTarGz(path, destDir);
      await rm(path, { force: true });
    }
  }
  if (!hasDatasetFiles(entry, destDir)) {
    throw new DataError(
      `${destDir}: downloaded ${entry.title} but the expected files (${entry.files.join(', ')}) are not all there.\n` + provideDataHelp(entry, projectRoot),
    );
  }
  log(`${entry.title} saved to ${destDir}`);
}
