import { loadConfig } from '../config/load.js';
import { listCatalog, catalogEntry } from '../data/catalog.js';
import { discoverDataset } from '../data/discover.js';
import { ensureDatasetFiles, loadDataset } from '../data/load.js';
import { DEFAULT_SHARD_SIZE, parseShardSize, writeShards } from '../data/stream/shard-writer.js';
import { inputImagesPerSecond } from '../data/stream/throughput.js';
import { registryChecks } from './common.js';
import type { DataBenchCliOptions } from './main.js';
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
      how: found
        ? found.rule
        : e.aptPackage
          ? `apt-get install ${e.aptPackage}, or pwlu data get ${e.name}`
          : e.downloads.length
            ? `pwlu data get ${e.name}`
            : e.format === 'shards'
              ? 'set data.shards, or write them with pwlu data shard'
              : 'set data.dir',
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
  if (entry.format === 'shards') throw new UserError(`'${name}' are your own tar shards: point data.shards at them, or write them from an image folder with pwlu data shard`);
  const located = await ensureDatasetFiles(entry, null, true, { projectRoot: PROJECT_ROOT, log: (m) => process.stderr.write(`pwlu: ${m}\n`) });
  process.stdout.write(`${entry.title}: ${located.dir} (${located.rule})\n`);
}

/** `pwlu data bench`: how fast the input pipeline alone delivers train and eval batches. */
export async function dataBenchCommand(opts: DataBenchCliOptions): Promise<void> {
  const sets = [...opts.set, ...(opts.workers !== undefined ? [`data.workers=${opts.workers}`] : [])];
  const { config } = loadConfig(opts.config ?? null, sets, { extraChecks: registryChecks });
  const { dataset, streamInfo } = await loadDataset(config.data, { projectRoot: PROJECT_ROOT, seed: config.seed, threads: config.threads, log: (m) => process.stderr.write(`pwlu: ${m}\n`) });
  if (!streamInfo) throw new UserError(`data bench measures streamed datasets (imagefolder, shards); ${config.data.name} is loaded into memory once`);
  const batch = { batchSize: config.train.batch, seed: config.seed, epoch: 0, dropLast: true };
  const train = await inputImagesPerSecond(dataset.train, dataset, { ...batch, shuffle: true, augment: config.data.augment }, opts.batches, opts.warmup);
  const evalRate = await inputImagesPerSecond(dataset.test, dataset, { ...batch, shuffle: false, augment: null }, opts.batches, opts.warmup);
  const result = { workers: streamInfo.workers, decoder: streamInfo.decoder, batch: config.train.batch, size: dataset.height, train_img_per_s: +train.toFixed(1), eval_img_per_s: +evalRate.toFixed(1) };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`input pipeline (${result.decoder}, ${result.workers} worker${result.workers === 1 ? '' : 's'}, batch ${result.batch}, ${result.size}x${result.size}): train ${result.train_img_per_s} img/s, eval ${result.eval_img_per_s} img/s\n`);
}

/** Options of `pwlu data shard`. */
export interface DataShardCliOptions {
  config?: string;
  set: string[];
  out: string;
  shardSize?: string;
}

/** `pwlu data shard`: the config's image folder into WebDataset tar shards plus index.json; re-running finishes an interrupted run. */
export async function dataShardCommand(o: DataShardCliOptions): Promise<void> {
  const shardSize = o.shardSize === undefined ? DEFAULT_SHARD_SIZE : parseShardSize(o.shardSize);
  const { config, warnings } = loadConfig(o.config ?? null, o.set);
  const log = (m: string) => process.stderr.write(`pwlu: ${m}\n`);
  for (const w of warnings) log(w);
  const found = await ensureDatasetFiles(catalogEntry('imagefolder'), config.data.dir, false, { projectRoot: PROJECT_ROOT, log });
  const r = await writeShards({ source: found.dir, out: o.out, shardSize, seed: config.seed, projectRoot: PROJECT_ROOT, log });
  const { train, eval: ev } = r.index;
  const kept = r.kept > 0 ? `, ${r.kept} kept from an earlier run` : '';
  process.stdout.write(
    `${o.out}: train ${train.n} samples in ${train.shards.length} shard(s), eval ${ev.n} in ${ev.shards.length} ` +
      `(${r.written} written${kept}); ${r.index.classes.length} classes; index.json lists them\n`,
  );
}
