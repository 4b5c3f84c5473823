/**
 * The workspace: the folders pwlu keeps beside its install (results/, datasets/, configs/) and its own
 * launcher. Every command finds them here, so moving one is a one-line change.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

/** Where runs and benches go by default, so `pwlu report` without a folder finds them. */
export function resultsDir(root: string = PROJECT_ROOT): string {
  return join(root, 'results');
}

/** The download cache of datasets (`datasets/<name>/`), one place for `pwlu data get` and discovery to agree on. */
export function datasetsDir(root: string = PROJECT_ROOT): string {
  return join(root, 'datasets');
}

/** The shipped experiment configs, so defaults such as the bench's base config are found from any working directory. */
export function configsDir(root: string = PROJECT_ROOT): string {
  return join(root, 'configs');
}

/** The pwlu launcher (bin/pwlu.js) that child processes (bench cells, Slurm tasks) run with node. */
export function pwluBin(root: string = PROJECT_ROOT): string {
  return join(root, 'bin', 'pwlu.js');
}
