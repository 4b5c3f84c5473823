import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (package.json, configs/, datasets/, results/), found from this file so any command can locate them. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
