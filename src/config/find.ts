/**
 * Config names as users first type them: `pwlu train --config resnet18.yaml` from the repository root
 * finds `configs/imagenet/resnet18.yaml`. A path that exists is used as it is; otherwise the name is
 * looked up under the project's `configs/` (a unique match, else the candidates are listed).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, isAbsolute, join, relative, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { editDistance } from './suggest.js';
import { PROJECT_ROOT } from '../util/paths.js';

/** The project's config folder. */
export const CONFIGS_DIR = join(PROJECT_ROOT, 'configs');

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** The config file a name means: the path itself when it exists (or is absolute), else its unique match under configs/ (a UserError otherwise). */
export function findConfig(name: string, configsDir = CONFIGS_DIR): string {
  // What exists (a file, or a directory the reader refuses with its own message) and absolute paths are taken as given.
  if (existsSync(name) || isAbsolute(name)) return name;
  const wanted = name.split(/[\\/]/).join(sep);
  const files = yamlFiles(configsDir);
  const matches = files.filter((f) => {
    const rel = relative(configsDir, f);
    return [wanted, `${wanted}.yaml`, `${wanted}.yml`].some((w) => rel === w || rel.endsWith(`${sep}${w}`));
  });
  if (matches.length === 1) return matches[0]!;
  const show = (fs: string[]) => fs.map((f) => `  ${relative(process.cwd(), f) || f}`).join('\n');
  if (matches.length > 1) throw new UserError(`config '${name}' matches ${matches.length} files under configs/; give one of them:\n${show(matches)}`);
  const stem = basename(name)
    .replace(/\.ya?ml$/, '')
    .toLowerCase();
  const near = files.filter((f) => {
    const other = basename(f)
      .replace(/\.ya?ml$/, '')
      .toLowerCase();
    return editDistance(stem, other) <= 2 || other.includes(stem) || stem.includes(other);
  });
  throw new UserError(
    `config file ${name} does not exist, here or under configs/${near.length > 0 ? `; similar names:\n${show(near.slice(0, 8))}` : ` (pwlu lists its configs there: ls ${relative(process.cwd(), configsDir) || configsDir})`}`,
  );
}
