import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRunDirs, isSearchableDir } from '../../src/run/discover.js';
import { RUN_FILES } from '../../src/run/files.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const root = makeTmpDir('pwlu-discover-');
afterAll(() => removeDir(root));

function run(...parts: string[]): string {
  const dir = join(root, ...parts);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, RUN_FILES.config), 'seed: 0\n');
  return dir;
}

describe('finding run directories', () => {
  it('finds runs at any depth, sorted, without descending into runs, hidden folders or node_modules', () => {
    const a = run('bench', 'cells', 'a');
    const b = run('bench', 'cells', 'b');
    run('bench', 'cells', 'b', 'nested'); // inside a run: not a separate run
    run('.hidden', 'x');
    run('node_modules', 'y');
    const solo = run('solo');
    expect(findRunDirs(root)).toEqual([a, b, solo]);
  });

  it('searches plain folders only', () => {
    expect(isSearchableDir(root, 'bench')).toBe(true);
    expect(isSearchableDir(root, 'solo')).toBe(false);
    expect(isSearchableDir(root, '.hidden')).toBe(false);
    expect(isSearchableDir(root, 'absent')).toBe(false);
  });
});
