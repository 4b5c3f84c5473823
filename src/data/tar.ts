import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { extract, type Extract } from 'tar-stream';
import { DataError } from '../util/errors.js';

/**
 * Tar archives through `tar-stream`: the CIFAR tarball extractor and the entry iterator the shard
 * reader shares. Only regular files and directories are extracted; links, devices and other entry
 * types are skipped. Paths that are absolute or contain `..` are rejected. Each file is written to a
 * temporary name and renamed into place when complete.
 */

/** Validates a member path and returns it normalised (POSIX, no leading ./); throws if unsafe. */
export function safeMemberPath(name: string): string {
  const n = posix.normalize(name.replace(/\\/g, '/')).replace(/^(\.\/)+/, '');
  if (n.startsWith('/') || n === '..' || n.startsWith('../') || n.split('/').includes('..') || /^[A-Za-z]:/.test(n)) {
    throw new Error(`unsafe path "${name}"`);
  }
  return n.replace(/\/+$/, '');
}

/** Rewords tar-stream's errors so a message says what is wrong with the archive. */
export function tarErrorMessage(e: unknown): string {
  const msg = (e as Error).message;
  if (msg.startsWith('Invalid tar header')) return `corrupt tar header (${msg.includes('unknown format') ? 'unknown format' : 'checksum mismatch'})`;
  if (msg === 'Unexpected end of data') return 'truncated tar archive (unexpected end of data)';
  return msg;
}

/** One member of a tar archive as tar-stream gives it: its header and a readable body. */
export type TarEntry = Extract extends AsyncIterable<infer E> ? E : never;

/**
 * The entries of a tar byte stream, one at a time (each body must be consumed or drained before the
 * next). An error of the archive, or of `input` (which the caller should also watch: the entry being
 * read then only reports that it was destroyed), rejects the iteration. Ending it early closes `input`.
 */
export async function* tarEntries(input: Readable): AsyncGenerator<TarEntry> {
  const ex = extract();
  input.on('error', (e) => ex.destroy(e));
  input.pipe(ex);
  try {
    yield* ex;
  } finally {
    input.destroy();
    ex.destroy();
  }
}

/** A tar entry's whole body as one buffer (shard members are small images). */
export async function readEntry(entry: TarEntry): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of entry) parts.push(p as Buffer);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

async function drain(entry: TarEntry): Promise<void> {
  for await (const _ of entry) void _;
}

/** Extracts a .tar.gz into `destDir`; returns the member paths written (relative, POSIX). Errors are DataErrors naming the archive. */
export async function extractTarGz(archive: string, destDir: string): Promise<string[]> {
  const file = createReadStream(archive);
  const gunzip = createGunzip();
  file.on('error', (e) => gunzip.destroy(e));
  // The first stream error is the cause: the tar side then only sees its streams destroyed.
  let streamError: Error | null = null;
  gunzip.on('error', (e) => {
    streamError ??= e;
  });
  const written: string[] = [];
  let pendingTmp: string | null = null;
  try {
    for await (const entry of tarEntries(file.pipe(gunzip))) {
      const { type } = entry.header;
      if (type === 'file' || type === 'contiguous-file') {
        const name = safeMemberPath(entry.header.name);
        const out = join(destDir, ...name.split('/'));
        await mkdir(dirname(out), { recursive: true });
        pendingTmp = join(dirname(out), `.${posix.basename(name)}.part-${randomBytes(4).toString('hex')}`);
        const fh = await open(pendingTmp, 'w');
        try {
          for await (const piece of entry) await fh.write(piece as Buffer);
        } finally {
          await fh.close();
        }
        await rename(pendingTmp, out);
        pendingTmp = null;
        written.push(name);
      } else {
        if (type === 'directory') await mkdir(join(destDir, ...safeMemberPath(entry.header.name).split('/')), { recursive: true });
        await drain(entry);
      }
    }
  } catch (e) {
    if (pendingTmp !== null) await rm(pendingTmp, { force: true });
    gunzip.destroy();
    file.destroy();
    const cause = streamError ?? e;
    const gz = (cause as NodeJS.ErrnoException).code?.startsWith('Z_') ?? false;
    throw new DataError(`${archive}: ${gz ? 'corrupt or truncated gzip data' : 'cannot extract'} (${tarErrorMessage(cause)})`);
  }
  return written;
}
