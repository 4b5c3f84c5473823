/**
 * Training from streamed splits in their real formats (a JPEG folder the test writes, tar shards):
 * batches that do not depend on the worker count, mid-epoch resume equal to the uninterrupted run,
 * and bad images skipped and counted through `pwlu train` (fatal, exit 2, under on_bad_image: error).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { splitBatches } from '../../src/data/batches.js';
import { loadDataset } from '../../src/data/load.js';
import type { AnySplit, Dataset } from '../../src/data/types.js';
import { nativeJpegDecoder } from '../../src/data/stream/native-decoder.js';
import type { TrainOutcome } from '../../src/train/trainer.js';
import { tarBuffer, writeImages, type FixtureImage } from '../helpers/fixtures.js';
import { runTraining as trainIn } from '../helpers/run-training.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { optionalPart } from '../helpers/optional-parts.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pwlu.js');
const tmp = makeTmpDir('pwlu-streamed-');
const folder = join(tmp, 'folder');
const CLASSES = ['cat', 'dog', 'emu'];
const native = nativeJpegDecoder();
optionalPart('jpeg', !!native.decoder, native.reason);

/** Textured JPEGs (crops differ visibly), 24 training images of which train/emu/z-bad.jpg is truncated, 6 val images of which one is. */
async function writeTexturedFolder(root: string): Promise<void> {
  const images: FixtureImage[] = [];
  CLASSES.forEach((c, k) => {
    const colour = (x: number, y: number): [number, number, number] => [(x * 7 + y * 3 + 80 * k) % 256, (x * y + 40 * k) % 256, (y * 11 + x) % 256];
    const count = c === 'emu' ? 7 : 8;
    for (let i = 0; i < count; i++) images.push({ path: `train/${c}/img${i}.jpg`, width: 40 + 9 * i, height: 36 + 5 * ((i * 3) % 7), colour, format: 'jpeg' });
    for (let i = 0; i < 2; i++) images.push({ path: `val/${c}/v${i}.jpg`, width: 48, height: 40 + 8 * i, colour, format: 'jpeg' });
  });
  await writeImages(root, images);
  // Headers intact, the data cut short: the scan and the geometry see a JPEG; only decoding fails.
  const good = readFileSync(join(root, 'train/emu/img6.jpg'));
  writeFileSync(join(root, 'train/emu/z-bad.jpg'), good.subarray(0, Math.floor(good.length / 2)));
  writeFileSync(join(root, 'val/emu/v1.jpg'), good.subarray(0, Math.floor(good.length / 2)));
}

function config(over: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    seed: 5,
    backend: 'cpu',
    model: { arch: 'resnet20', width: 0.125 },
    data: { name: 'imagefolder', dir: folder, image_size: 12, workers: 2, prefetch: 2 },
    train: { epochs: 2, batch: 8, lr: 0.05, schedule: { name: 'cosine', warmup_epochs: 0 } },
    ...over,
  });
}

async function load(cfg: Config): Promise<Dataset> {
  return (await loadDataset(cfg.data, { projectRoot: tmp, seed: cfg.seed, progress: false })).dataset;
}

/** Every batch of an epoch, copied (the pipeline reuses its buffers). */
async function epochBatches(split: AnySplit, ds: Dataset, epoch: number, augment: boolean, startBatch = 0) {
  const aug = config().data.augment;
  const out: { index: number; size: number; skipped: number; x: Float32Array; y: Int32Array }[] = [];
  const opts = { batchSize: 8, seed: 5, epoch, shuffle: augment, augment: augment ? aug : null, dropLast: augment, startBatch };
  for await (const b of splitBatches(split, ds, opts)) out.push({ index: b.index, size: b.size, skipped: b.skipped, x: b.x.slice(), y: b.y.slice() });
  return out;
}

/** Trains (or resumes, with resumeDir) in a fresh run directory under tmp. */
function runTraining(cfg: Config, ds: Dataset, opts: { resumeDir?: string; stopAfter?: number } = {}): Promise<{ outcome: TrainOutcome; dir: string }> {
  return trainIn(cfg, ds, opts.resumeDir ?? join(tmp, `run-${Math.random().toString(36).slice(2)}`), {
    resume: Boolean(opts.resumeDir),
    stopAfter: opts.stopAfter,
  });
}

function pwlu(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PWLU_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

type Metric = { epoch: number; skipped_images?: number; eval_skipped_images?: number; data_wait_s?: number; test_top1: number };
const metrics = (dir: string): Metric[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Metric)
    .filter((m) => 'epoch' in m && 'test_top1' in m);

beforeAll(async () => {
  await tf.setBackend('cpu');
  await writeTexturedFolder(folder);
});
afterAll(() => removeDir(tmp));

describe.skipIf(!native.decoder)('streamed image folder (libjpeg-turbo)', () => {
  it('gives identical batches on 1 and 3 decoding workers, train (augmented) and eval; a resume at batch k yields the tail', async () => {
    const cfg1 = config({ data: { ...config().data, workers: 1, prefetch: 1 } });
    const cfg3 = config({ data: { ...config().data, workers: 3, prefetch: 3 } });
    const [d1, d3] = [await load(cfg1), await load(cfg3)];
    expect(d1.train.n).toBe(24);
    for (const epoch of [0, 1]) {
      const a = await epochBatches(d1.train, d1, epoch, true);
      const b = await epochBatches(d3.train, d3, epoch, true);
      expect(a.map((x) => x.size + x.skipped)).toEqual([8, 8, 8]);
      expect(a.reduce((n, x) => n + x.skipped, 0)).toBe(1);
      expect(b).toEqual(a);
      expect(await epochBatches(d3.train, d3, epoch, true, 1)).toEqual(a.slice(1));
    }
    // Epochs differ (new crops and order); the eval transform is the same on both.
    expect((await epochBatches(d1.train, d1, 0, true))[0]!.x).not.toEqual((await epochBatches(d1.train, d1, 1, true))[0]!.x);
    const e1 = await epochBatches(d1.test, d1, 0, false);
    expect(e1.map((x) => [x.size, x.skipped])).toEqual([[5, 1]]);
    expect(await epochBatches(d3.test, d3, 0, false)).toEqual(e1);
  });

  it('interrupted mid-epoch and resumed gives the uninterrupted weights and metrics, skipped images included', async () => {
    const cfg = config();
    const straight = await runTraining(cfg, await load(cfg));
    expect(straight.outcome.status).toBe('finished');
    const first = await runTraining(cfg, await load(cfg), { stopAfter: 4 }); // 3 steps per epoch: stops inside epoch 2
    expect(first.outcome.status).toBe('interrupted');
    expect(first.outcome.position).toMatchObject({ epoch: 1, stepInEpoch: 1 });
    first.outcome.model.dispose();
    const resumed = await runTraining(cfg, await load(cfg), { resumeDir: first.dir });
    expect(resumed.outcome.status).toBe('finished');
    const w = (o: TrainOutcome) => o.model.weights.map((v) => Array.from(v.read().dataSync()));
    expect(w(resumed.outcome)).toEqual(w(straight.outcome));
    const [a, b] = [metrics(straight.dir), metrics(first.dir)];
    expect(b.map((m) => [m.epoch, m.skipped_images, m.eval_skipped_images, m.test_top1])).toEqual(
      a.map((m) => [m.epoch, m.skipped_images, m.eval_skipped_images, m.test_top1]),
    );
    expect(a.map((m) => m.skipped_images)).toEqual([1, 1]);
    expect(a.every((m) => typeof m.data_wait_s === 'number' && m.data_wait_s >= 0)).toBe(true);
    straight.outcome.model.dispose();
    resumed.outcome.model.dispose();
  });
});

describe('pwlu train over bad images', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
  });
  const MICRO = [
    '--backend',
    'cpu',
    '--set',
    'model.arch=resnet20',
    '--set',
    'model.width=0.125',
    '--set',
    'data.image_size=12',
    '--set',
    'train.epochs=2',
    '--set',
    'train.batch=8',
    '--set',
    'data.workers=2',
  ];

  it('a corrupt JPEG in the folder is skipped, logged once and counted (metrics and summary); on_bad_image: error stops with exit 2 naming it', () => {
    const out = join(tmp, 'cli-folder');
    const ok = pwlu('train', ...MICRO, '--set', 'data.name=imagefolder', '--set', `data.dir=${folder}`, '--out', out);
    expect(ok.stderr).not.toMatch(/error/i);
    expect(ok.code).toBe(0);
    expect(ok.stderr.match(/skipping .*train\/emu\/z-bad\.jpg/g)).toHaveLength(1);
    expect(metrics(out).map((m) => [m.skipped_images, m.eval_skipped_images])).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ status: 'finished', skipped_images: 2 });

    const fatal = pwlu(
      'train',
      ...MICRO,
      '--set',
      'data.name=imagefolder',
      '--set',
      `data.dir=${folder}`,
      '--set',
      'data.on_bad_image=error',
      '--out',
      join(tmp, 'cli-fatal'),
    );
    expect(fatal.code).toBe(2);
    expect(fatal.stderr).toMatch(/train\/emu\/z-bad\.jpg: .*on_bad_image is 'error'/);
    expect(fatal.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a broken shard member is skipped and counted; fatal under on_bad_image: error', () => {
    const dir = join(tmp, 'shards');
    mkdirSync(dir);
    const jpg = (c: string, i: number) => readFileSync(join(folder, 'train', c, `img${i}.jpg`));
    const members: { name: string; data: Uint8Array }[] = [];
    for (let i = 0; i < 16; i++) {
      const k = i % 3;
      members.push(
        { name: `s${i}.jpg`, data: i === 9 ? jpg(CLASSES[k]!, 1).subarray(0, 300) : jpg(CLASSES[k]!, i % 7) },
        { name: `s${i}.cls`, data: Buffer.from(String(k)) },
      );
    }
    writeFileSync(join(dir, 'train-0.tar'), tarBuffer(members.slice(0, 16)));
    writeFileSync(join(dir, 'train-1.tar'), tarBuffer(members.slice(16)));
    writeFileSync(join(dir, 'eval-0.tar'), tarBuffer(members.slice(0, 8)));
    const args = [...MICRO, '--set', 'data.name=shards', '--set', `data.shards.train=${dir}/train-{0..1}.tar`, '--set', `data.shards.eval=${dir}/eval-0.tar`];
    const out = join(tmp, 'cli-shards');
    const ok = pwlu('train', ...args, '--out', out);
    expect(ok.stderr).not.toMatch(/error/i);
    expect(ok.code).toBe(0);
    expect(ok.stderr.match(/skipping train-1\.tar:s9/g)).toHaveLength(1);
    expect(metrics(out).map((m) => m.skipped_images)).toEqual([1, 1]);
    const fatal = pwlu('train', ...args, '--set', 'data.on_bad_image=error', '--out', join(tmp, 'cli-shards-fatal'));
    expect(fatal.code).toBe(2);
    expect(fatal.stderr).toMatch(/train-1\.tar:s9: .*on_bad_image is 'error'/);
  });
});
