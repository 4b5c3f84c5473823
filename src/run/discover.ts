/**
 * Finding run directories on disk: a run is any folder holding config.yaml (src/run/files.ts), found at any
 * depth below a results folder without descending into runs, hidden folders or dependencies.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES } from './files.js';

const SKIP_DIRS = new Set(['node_modules', '.git']);
const MAX_DEPTH = 8;

/** Finds run directories (folders holding config.yaml) under `root`, not descending into runs. */
export function findRunDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (existsSync(join(dir, RUN_FILES.config))) {
      out.push(dir);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const e of entries) {
      if (SKIP_DIRS.has(e) || e.startsWith('.')) continue;
      const p = join(dir, e);
      try {
        if (statSync(p).isDirectory()) walk(p, depth + 1);
      } catch {
        // vanished while walking: skip
      }
    }
  };
  walk(root, 0);
  return out;
}

/** Whether a folder is worth descending into when looking for bench folders (not a run, not hidden). */
export function isSearchableDir(parent: string, name: string): boolean {
  if (name.startsWith('.') || SKIP_DIRS.has(name)) return false;
  const p = join(parent, name);
  try {
    return statSync(p).isDirectory() && !existsSync(join(p, RUN_FILES.config));
  } catch {
    return false;
  }
}
