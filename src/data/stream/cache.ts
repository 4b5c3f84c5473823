import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { IoError, writeFileAtomic } from '../../util/io.js';
import { datasetsDir } from '../../util/workspace.js';

/**
 * Index caches (a folder's file list, a shard set's sample counts) live next to the data, so every
 * project sharing the data shares them, or, where that folder is read-only, in the project's
 * datasets/.cache/. A cache only saves time: failing to write one is never an error.
 */

/** Where a cache for `dataDir` may be, in the order it is looked for: next to the data, then datasets/.cache/. */
export function cachePaths(dataDir: string, fileName: string, projectRoot: string): string[] {
  const tag = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16);
  return [join(dataDir, fileName), join(datasetsDir(projectRoot), '.cache', `${tag}-${fileName.replace(/^\.+/, '')}`)];
}

/** The first of `paths` that holds JSON, parsed; null when none does (a damaged cache is as good as none). */
export function readJsonCache(paths: readonly string[]): unknown {
  for (const p of paths) {
    if (!existsSync(p)) continue;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as unknown;
    } catch {
      continue;
    }
  }
  return null;
}

/** Writes `value` atomically to the first writable of `paths`; returns that path, or null when none was writable. */
export function writeJsonCache(paths: readonly string[], value: unknown): string | null {
  const text = JSON.stringify(value);
  for (const p of paths) {
    try {
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileAtomic(p, text);
      return p;
    } catch (e) {
      if (e instanceof IoError || (e as NodeJS.ErrnoException).code !== undefined) continue;
      throw e;
    }
  }
  return null;
}
