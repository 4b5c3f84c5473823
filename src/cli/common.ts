import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkActivationName } from '../activations/registry.js';
import type { ConfigIssue } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { modelNames, getModel } from '../models/registry.js';
import { PROJECT_ROOT } from '../util/paths.js';

/** Registry checks the schema cannot express: the architecture and the activation name. */
export function registryChecks(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!getModel(cfg.model.arch)) {
    issues.push({ path: ['model', 'arch'], message: `unknown architecture '${cfg.model.arch}'; choose one of: ${modelNames().join(', ')}` });
  }
  issues.push(...checkActivationName(cfg.activation));
  return issues;
}

/** Prints the config loader's warnings (deprecated keys) on stderr, for commands that have no run log. */
export function printConfigWarnings(command: string, warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`pwlu ${command}: warning: ${w}\n`);
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

/** The git commit of the pwlu checkout (with -dirty when it has local changes), or null. */
export function gitCommit(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}
