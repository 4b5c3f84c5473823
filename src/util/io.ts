/**
 * Durable file writes for every layer (run directories, reports, dataset caches and shards, exports). Every
 * whole-file write is atomic (temp file in the same folder, fsync, rename), so a crash leaves either the old
 * file or the new one; a failed write removes its temp file and says which path and how many bytes, so a full
 * disk stays recoverable. What the files are called is the caller's business (src/run/files.ts for runs).
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExitCode, UserError } from './errors.js';
import { formatBytesExact } from './format.js';

/** Writing results failed (disk full, read-only, permissions); exit code 5. */
export class IoError extends UserError {
  override name = 'IoError';
  constructor(message: string) {
    super(message, ExitCode.io);
  }
}

const CAUSES: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'the path is a directory',
};

/** Turns a failed write into an IoError naming the path, the bytes and the cause; other errors pass through. */
export function ioError(e: unknown, path: string, bytes: number): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('E')) return e;
  const cause = CAUSES[code] ?? (e as Error).message;
  return new IoError(`cannot write ${path} (${formatBytesExact(bytes)}): ${cause} [${code}]`);
}

/** Temp files of atomic writes (`<file>.tmp-<pid>`, `.<dir>.tmp-<pid>`): one pattern, so a sweep finds what a crash left. */
export const TEMP_RE = /\.tmp-\d+$/;

/** The temp name an atomic write of `path` uses before its rename (same folder, so the rename is atomic). */
export function tempPath(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/** The temp name of a directory built whole before its rename (hidden, so listings and run discovery skip it). */
export function tempDirPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

/**
 * Writes `chunks` to `path` atomically: temp file, fsync, rename. On any failure the temp file is
 * removed and an IoError names the path and the size, and the previous `path` is left untouched.
 */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[] | string): void {
  const parts = typeof chunks === 'string' ? [Buffer.from(chunks, 'utf8')] : chunks;
  const bytes = parts.reduce((s, c) => s + c.byteLength, 0);
  const tmp = tempPath(path);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    for (const c of parts) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing: the write error is the one to report
      }
    }
    rmSync(tmp, { force: true });
    throw ioError(e, path, bytes);
  }
}

/** Removes temp files a killed process left in `dir` (they can hold gigabytes of a checkpoint); returns their names. */
export function sweepTempFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const gone: string[] = [];
  for (const name of readdirSync(dir)) {
    if (!TEMP_RE.test(name)) continue;
    rmSync(join(dir, name), { force: true });
    gone.push(name);
  }
  return gone;
}
