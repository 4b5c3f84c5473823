/**
 * Durable writes for run directories. Every whole-file write is atomic (temp file in the same
 * folder, fsync, rename), so a crash leaves either the old file or the new one; a failed write
 * removes its temp file and says which path and how many bytes, so a full disk stays recoverable.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, UserError } from '../util/errors.js';
import { TEMP_RE, tempPath } from './files.js';

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
  return new IoError(`cannot write ${path} (${formatBytes(bytes)}): ${cause} [${code}]`);
}

/** Human-readable byte counts for error messages. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]} (${n} bytes)`;
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
