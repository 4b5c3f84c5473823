import { listCatalog, catalogEntry } from '../data/catalog.js';
import { discoverDataset } from '../data/discover.js';
import { ensureDatasetFiles } from '../data/load.js';
import { UserError } from '../util/errors.js';
import { PROJECT_ROOT } from '../util/paths.js';

/** `pwlu data list`: every known dataset, whether and where it was found, and how to get it. */
export async function dataListCommand(opts: { json: boolean }): Promise<void> {
  const rows = listCatalog().map((e) => {
    const { found } = e.format === 'synthetic' ? { found: { dir: 'generated', rule: 'synthetic' } } : discoverDataset(e, { dataDir: null, projectRoot: PROJECT_ROOT });
    const shape = e.height ? `${e.height}x${e.width}x${e.channels}` : 'configured';
    return {
      name: e.name,
      title: e.title,
      shape,
      classes: e.numClasses,
      train: e.trainSize,
      test: e.testSize,
      found: found ? found.dir : null,
      how: found ? found.rule : e.aptPackage ? `apt-get install ${e.aptPackage}, or pwlu data get ${e.name}` : e.downloads.length ? `pwlu data get ${e.name}` : 'set data.dir',
    };
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const header = ['name', 'shape', 'classes', 'train/test', 'status'];
  const table = rows.map((r) => [r.name, r.shape, r.classes === null ? '-' : String(r.classes), r.train === null ? '-' : `${r.train}/${r.test}`, r.found ? `found: ${r.found}` : `missing (${r.how})`]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  process.stdout.write(`${[fmt(header), ...table.map(fmt)].join('\n')}\n`);
}

/** `pwlu data get NAME`: find the dataset by the discovery order, or download and verify it. */
export async function dataGetCommand(name: string): Promise<void> {
  const entry = catalogEntry(name);
  if (entry.format === 'synthetic') throw new UserError(`'${name}' is generated on the fly; there is nothing to get`);
  if (entry.format === 'imagefolder') throw new UserError(`'${name}' is your own folder of images: point data.dir at it`);
  const located = await ensureDatasetFiles(entry, null, true, { projectRoot: PROJECT_ROOT, log: (m) => process.stderr.write(`pwlu: ${m}\n`) });
  process.stdout.write(`${entry.title}: ${located.dir} (${located.rule})\n`);
}
