import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/data/catalog.js';
import { candidateDirs, discoverDataset, hasDatasetFiles } from '../../src/data/discover.js';
import { writeCifar10, writeIdxDataset, writeImageFolder } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

let tmp: string;
let project: string;
let system: string;
let custom: string;
beforeEach(() => {
  tmp = makeTmpDir();
  project = join(tmp, 'project');
  system = join(tmp, 'system');
  custom = join(tmp, 'custom');
  for (const d of [project, system, custom]) mkdirSync(d, { recursive: true });
});
afterEach(() => removeDir(tmp));

const fm = CATALOG['fashion-mnist'];
const tiny = { nTrain: 2, nTest: 1, rows: 2, cols: 2 };

describe('discovery', () => {
  it('lists data.dir, then <project>/datasets/<name>, then <system>/<name>', () => {
    expect(candidateDirs('fashion-mnist', { dataDir: custom, projectRoot: project, systemRoot: system })).toEqual([
      { dir: custom, rule: 'data.dir' },
      { dir: join(project, 'datasets', 'fashion-mnist'), rule: 'project' },
      { dir: join(system, 'fashion-mnist'), rule: 'system' },
    ]);
    expect(candidateDirs('mnist', { dataDir: null, projectRoot: project }).map((c) => c.dir)).toEqual([
      join(project, 'datasets', 'mnist'),
      join('/usr/share/datasets', 'mnist'),
    ]);
    // a relative data.dir is relative to the project root
    expect(candidateDirs('mnist', { dataDir: 'data/m', projectRoot: project })[0]).toEqual({ dir: join(project, 'data/m'), rule: 'data.dir' });
  });

  it('takes the first directory that holds complete files', () => {
    const opts = { dataDir: custom, projectRoot: project, systemRoot: system };
    expect(discoverDataset(fm, opts).found).toBeNull();
    writeIdxDataset(join(system, 'fashion-mnist'), tiny);
    expect(discoverDataset(fm, opts).found).toEqual({ dir: join(system, 'fashion-mnist'), rule: 'system' });
    writeIdxDataset(join(project, 'datasets', 'fashion-mnist'), { ...tiny, gzip: false });
    expect(discoverDataset(fm, opts).found?.rule).toBe('project');
    writeIdxDataset(custom, { ...tiny, naming: 'dot' });
    expect(discoverDataset(fm, opts).found).toEqual({ dir: custom, rule: 'data.dir' });
    expect(discoverDataset(fm, { ...opts, dataDir: null }).found?.rule).toBe('project');
  });

  it('skips a directory with an incomplete set of files', () => {
    const fx = writeIdxDataset(join(project, 'datasets', 'fashion-mnist'), tiny);
    removeDir(fx.paths.testLabels);
    writeIdxDataset(join(system, 'fashion-mnist'), tiny);
    const r = discoverDataset(fm, { dataDir: null, projectRoot: project, systemRoot: system });
    expect(r.found?.rule).toBe('system');
    expect(r.searched).toHaveLength(2);
  });

  it('recognises CIFAR in the tarball subfolder and image folders', async () => {
    writeCifar10(join(custom, 'c10'), { perBatch: 1, nTest: 1, subdir: true });
    expect(hasDatasetFiles(CATALOG.cifar10, join(custom, 'c10'))).toBe(true);
    expect(hasDatasetFiles(CATALOG.cifar100, join(custom, 'c10'))).toBe(false);
    await writeImageFolder(join(custom, 'imgs'), { perClass: 1 });
    expect(hasDatasetFiles(CATALOG.imagefolder, join(custom, 'imgs'))).toBe(true);
    expect(hasDatasetFiles(CATALOG.imagefolder, custom)).toBe(false);
  });
});
