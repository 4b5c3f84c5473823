/**
 * What code produced a result: the pwlu checkout's commit and whether it had local changes, and the
 * library versions. summary.json records both so a result can be traced (and a grid that mixes
 * versions can say so).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

/** The checkout's code version: the short commit, and whether tracked files differ from it; both null outside a git checkout. */
export interface CodeVersion {
  commit: string | null;
  dirty: boolean | null;
}

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

/** Reads the commit and dirty flag apart, so that a dirty run is recorded as such rather than as a commit string with a suffix. */
export function codeVersion(root = PROJECT_ROOT): CodeVersion {
  try {
    const commit = git(['rev-parse', '--short', 'HEAD'], root);
    const dirty = git(['status', '--porcelain', '--untracked-files=no'], root) !== '';
    return { commit, dirty };
  } catch {
    return { commit: null, dirty: null };
  }
}

/**
 * A summary's code version, from `git_commit` plus `git_dirty`, or from the `<sha>-dirty` string that
 * summaries written before `git_dirty` hold; so that readers handle old and new runs alike.
 */
export function recordedCodeVersion(summary: { git_commit?: unknown; git_dirty?: unknown }): CodeVersion {
  const raw = typeof summary.git_commit === 'string' ? summary.git_commit : null;
  if (raw === null) return { commit: null, dirty: null };
  const suffixed = raw.endsWith('-dirty');
  const commit = suffixed ? raw.slice(0, -'-dirty'.length) : raw;
  // Before git_dirty, the writer appended -dirty whenever tracked files had changes: no suffix meant clean.
  const dirty = typeof summary.git_dirty === 'boolean' ? summary.git_dirty : suffixed;
  return { commit, dirty };
}

/** Library versions recorded in summary.json, so a result can be traced to the code that made it. */
export function versions(extra: Record<string, string | number | boolean> = {}): Record<string, string> {
  const pkg = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const out: Record<string, string> = {
    pwlu: pkg('..'),
    node: process.versions.node,
    'tfjs-core': pkg('@tensorflow/tfjs-core'),
    'tfjs-layers': pkg('@tensorflow/tfjs-layers'),
  };
  for (const [k, v] of Object.entries(extra)) if (k === 'libtorch') out.libtorch = String(v);
  return out;
}
