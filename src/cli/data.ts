import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../util/errors.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { formatTable } from '../util/table.js';
import { collect, parseIntArg } from './options.js';

/** Defaults of `pwlu data make fashion-mnist-detection`; kept here so that `pwlu --help` loads no data module. */
const DETECTION_DEFAULTS = { seed: 0, train: 6000, val: 500, test: 1000, size: 128 } as const;
/** The sets `pwlu data make` can build. */
const MAKEABLE = ['fashion-mnist-detection'] as const;

/** Options of `pwlu data bench`. */
export interface DataBenchCliOptions {
  config?: string;
  set: string[];
  workers?: number;
  batches: number;
  warmup: number;
  json: boolean;
}

/** Defines `pwlu data` and its subcommands with their options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  const data = program.command('data').description('List, fetch and shard datasets.');
  data
    .command('list')
    .description('List known datasets, where each was found, and how to get the missing ones.')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => {
      await dataListCommand(opts);
    });
  data
    .command('get')
    .description('Find a dataset locally or download it (checksum-verified) into datasets/<name>/.')
    .argument('<name>', 'dataset name (see pwlu data list)')
    .action(async (name: string) => {
      await dataGetCommand(name);
    });
  data
    .command('make')
    .description(
      'Generate a dataset from one pwlu knows how to build: fashion-mnist-detection, a COCO-format detection set (Fashion-MNIST items on textured canvases), deterministic by seed.',
    )
    .argument('<name>', 'dataset to make: fashion-mnist-detection')
    .option('-o, --out <dir>', 'dataset folder (default: datasets/fashion-mnist-detection in the project, where discovery finds it)')
    .option('--seed <n>', 'seed: the same arguments give byte-identical files', (v) => parseIntArg('--seed', v), DETECTION_DEFAULTS.seed)
    .option('--train <n>', 'training images', (v) => parseIntArg('--train', v), DETECTION_DEFAULTS.train)
    .option('--val <n>', 'validation images', (v) => parseIntArg('--val', v), DETECTION_DEFAULTS.val)
    .option('--test <n>', 'test images', (v) => parseIntArg('--test', v), DETECTION_DEFAULTS.test)
    .option('--size <px>', 'canvas side in pixels (large objects need >= 118)', (v) => parseIntArg('--size', v), DETECTION_DEFAULTS.size)
    .option('--fashion-mnist <dir>', 'folder holding the Fashion-MNIST idx files (default: found as pwlu data list shows)')
    .option('--force', 'replace an existing dataset in --out made with other arguments', false)
    .action(async (name: string, opts: Omit<DataMakeCliOptions, 'name'>) => {
      await dataMakeCommand({ ...opts, name });
    });
  data
    .command('bench')
    .description(
      "Input-pipeline throughput alone (no model) for a streamed dataset (imagefolder, shards): train and eval transforms, as shared/bench/dataloader_reference.py measures PyTorch's DataLoader.",
    )
    .option('-c, --config <file>', 'experiment config naming the dataset (data.*) and the batch (train.batch); or give them with --set')
    .option('-s, --set <key=value>', 'override one config key (repeatable)', collect)
    .option('-w, --workers <n>', "decoding workers (default: data.workers, else the cores left after the trainer's threads)", (v) =>
      parseIntArg('--workers', v),
    )
    .option('--batches <n>', 'timed batches per split', (v) => parseIntArg('--batches', v), 20)
    .option('--warmup <n>', 'untimed batches first', (v) => parseIntArg('--warmup', v), 3)
    .option('--json', 'print one JSON line', false)
    .action(async (opts: Partial<Pick<DataBenchCliOptions, 'set'>> & Omit<DataBenchCliOptions, 'set'>) => {
      await dataBenchCommand({ ...opts, set: opts.set ?? [] });
    });
  data
    .command('shard')
    .description(
      "Write the config's image folder (data.dir) as WebDataset tar shards (train-%06d.tar, eval-%06d.tar) plus index.json, for data.name: shards. Re-run to finish an interrupted run.",
    )
    .option('-c, --config <file>', 'experiment config (YAML): data.dir names the image folder, seed orders the training samples')
    .option('-s, --set <key=value>', 'override one config key (repeatable)', collect)
    .requiredOption('-o, --out <dir>', 'folder for the shards and index.json (new, empty, or an earlier unfinished run of the same command)')
    .option('--shard-size <size>', 'largest shard: 500MB, 1GB, 2GiB or bytes (default: 1GB)')
    .action(async (opts: Partial<Pick<DataShardCliOptions, 'set'>> & Omit<DataShardCliOptions, 'set'>) => {
      await dataShardCommand({ ...opts, set: opts.set ?? [] });
    });
}

/** `pwlu data list`: every known dataset, whether and where it was found, and how to get it. */
export async function dataListCommand(opts: { json: boolean }): Promise<void> {
  const [{ listCatalog }, { discoverDataset }, { hasDetectionDataset }] = await Promise.all([
    import('../data/catalog.js'),
    import('../data/discover.js'),
    import('../data/coco/make-fashion-mnist-detection.js'),
  ]);
  const rows = listCatalog().map((e) => {
    let { found } =
      e.format === 'synthetic' ? { found: { dir: 'generated', rule: 'synthetic' } } : discoverDataset(e, { dataDir: null, projectRoot: PROJECT_ROOT });
    // The generated set counts once its annotation files, written last, are all there (not after a killed run).
    if (e.name === 'fashion-mnist-detection' && found && !hasDetectionDataset(found.dir)) found = null;
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
        : e.name === 'fashion-mnist-detection'
          ? 'pwlu data make fashion-mnist-detection'
          : e.name === 'coco'
            ? 'cannot be downloaded by pwlu: download COCO 2017 yourself and set data.name: coco, data.dir: /path/to/coco ' +
              'holding annotations/instances_train2017.json, annotations/instances_val2017.json, train2017/ and val2017/'
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
  const table = rows.map((r) => [
    r.name,
    r.shape,
    r.classes === null ? '-' : String(r.classes),
    r.train === null ? '-' : `${r.train}/${r.test}`,
    r.found ? `found: ${r.found}` : `missing (${r.how})`,
  ]);
  process.stdout.write(`${formatTable([header, ...table]).join('\n')}\n`);
}

/** Options of `pwlu data make`. */
export interface DataMakeCliOptions {
  name: string;
  out?: string;
  seed: number;
  train: number;
  val: number;
  test: number;
  size: number;
  fashionMnist?: string;
  force: boolean;
}

/** `pwlu data make NAME`: builds a dataset pwlu can generate (COCO cannot be downloaded here; this set stands in for it). */
export async function dataMakeCommand(o: DataMakeCliOptions): Promise<void> {
  if (!(MAKEABLE as readonly string[]).includes(o.name)) {
    const coco = o.name === 'coco' ? '; COCO itself is downloaded by hand, see pwlu data list' : '';
    throw new UserError(`pwlu data make cannot build '${o.name}' (it builds: ${MAKEABLE.join(', ')})${coco}`);
  }
  const [{ catalogEntry }, { ensureDatasetFiles }, { makeFashionMnistDetection }, { createCounter }, { datasetsDir }] = await Promise.all([
    import('../data/catalog.js'),
    import('../data/locate.js'),
    import('../data/coco/make-fashion-mnist-detection.js'),
    import('../util/progress.js'),
    import('../util/workspace.js'),
  ]);
  const out = o.out === undefined ? join(datasetsDir(PROJECT_ROOT), o.name) : resolve(o.out);
  const log = (m: string) => process.stderr.write(`pwlu: ${m}\n`);
  let bar: ReturnType<typeof createCounter> | null = null;
  const r = await makeFashionMnistDetection({
    out,
    seed: o.seed,
    train: o.train,
    val: o.val,
    test: o.test,
    size: o.size,
    force: o.force,
    // Found lazily: an existing set is reported (or refused) without looking for Fashion-MNIST.
    source: async () => (await ensureDatasetFiles(catalogEntry('fashion-mnist'), o.fashionMnist ?? null, true, { projectRoot: PROJECT_ROOT, log })).dir,
    onProgress: (_done, total) => {
      bar ??= createCounter(o.name, total, 'items');
      bar.increment(1);
    },
  }).finally(() => bar?.stop());
  const a = r.args;
  const made = `seed ${a.seed}, ${a.size}x${a.size}`;
  if (r.status === 'present') {
    process.stdout.write(
      `${out}: already holds ${o.name} made with the same arguments (${made}; train ${a.train}, val ${a.val}, test ${a.test}); nothing written\n`,
    );
    return;
  }
  const s = r.splits!;
  const sum = (k: 'annotations' | 'small' | 'medium' | 'large' | 'crowd') => s.train[k] + s.val[k] + s.test[k];
  process.stdout.write(
    `${out}: wrote ${o.name} (${made}) in ${r.seconds.toFixed(1)} s: ` +
      (['train', 'val', 'test'] as const).map((k) => `${k} ${s[k].images} images / ${s[k].annotations} objects`).join(', ') +
      `; objects small ${sum('small')}, medium ${sum('medium')}, large ${sum('large')}, crowd ${sum('crowd')}\n`,
  );
}

/** `pwlu data get NAME`: find the dataset by the discovery order, or download and verify it. */
export async function dataGetCommand(name: string): Promise<void> {
  const [{ catalogEntry }, { ensureDatasetFiles }] = await Promise.all([import('../data/catalog.js'), import('../data/load.js')]);
  const entry = catalogEntry(name);
  if (entry.format === 'synthetic') throw new UserError(`'${name}' is generated on the fly; there is nothing to get`);
  if (entry.format === 'imagefolder') throw new UserError(`'${name}' is your own folder of images: point data.dir at it`);
  if (entry.format === 'shards')
    throw new UserError(`'${name}' are your own tar shards: point data.shards at them, or write them from an image folder with pwlu data shard`);
  const located = await ensureDatasetFiles(entry, null, true, { projectRoot: PROJECT_ROOT, log: (m) => process.stderr.write(`pwlu: ${m}\n`) });
  process.stdout.write(`${entry.title}: ${located.dir} (${located.rule})\n`);
}

/** `pwlu data bench`: how fast the input pipeline alone delivers train and eval batches. */
export async function dataBenchCommand(opts: DataBenchCliOptions): Promise<void> {
  const [{ loadConfig }, { loadDataset }, { inputImagesPerSecond }, { registryChecks }] = await Promise.all([
    import('../config/load.js'),
    import('../data/load.js'),
    import('../data/stream/throughput.js'),
    import('../train/registry-checks.js'),
  ]);
  const sets = [...opts.set, ...(opts.workers !== undefined ? [`data.workers=${opts.workers}`] : [])];
  const { config } = loadConfig(opts.config ?? null, sets, { extraChecks: registryChecks });
  const { dataset, streamInfo } = await loadDataset(config.data, {
    projectRoot: PROJECT_ROOT,
    seed: config.seed,
    threads: config.threads,
    log: (m) => process.stderr.write(`pwlu: ${m}\n`),
  });
  if (!streamInfo) throw new UserError(`data bench measures streamed datasets (imagefolder, shards); ${config.data.name} is loaded into memory once`);
  const batch = { batchSize: config.train.batch, seed: config.seed, epoch: 0, dropLast: true };
  const train = await inputImagesPerSecond(dataset.train, dataset, { ...batch, shuffle: true, augment: config.data.augment }, opts.batches, opts.warmup);
  const evalRate = await inputImagesPerSecond(dataset.test, dataset, { ...batch, shuffle: false, augment: null }, opts.batches, opts.warmup);
  const result = {
    workers: streamInfo.workers,
    decoder: streamInfo.decoder,
    batch: config.train.batch,
    size: dataset.height,
    train_img_per_s: +train.toFixed(1),
    eval_img_per_s: +evalRate.toFixed(1),
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `input pipeline (${result.decoder}, ${result.workers} worker${result.workers === 1 ? '' : 's'}, batch ${result.batch}, ${result.size}x${result.size}): train ${result.train_img_per_s} img/s, eval ${result.eval_img_per_s} img/s\n`,
    );
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
  const [{ loadConfig }, { catalogEntry }, { ensureDatasetFiles }, { DEFAULT_SHARD_SIZE, parseShardSize, writeShards }] = await Promise.all([
    import('../config/load.js'),
    import('../data/catalog.js'),
    import('../data/load.js'),
    import('../data/stream/shard-writer.js'),
  ]);
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
