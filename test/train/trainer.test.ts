import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { makeSynthetic } from '../../src/data/synthetic.js';
import type { Dataset } from '../../src/data/types.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { RunDir, trimMetricsToCheckpoint } from '../../src/run/run-dir.js';
import { buildModel, makeTrainStep, paramGroups } from '../../src/train/step.js';
import { DivergedError, type TrainOutcome } from '../../src/train/trainer.js';
import { ExitCode } from '../../src/util/errors.js';
import { runTraining as trainIn } from '../helpers/run-training.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-trainer-');
let runCount = 0;

function microConfig(over: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    seed: 3,
    backend: 'cpu',
    model: { arch: 'resnet20', width: 0.25 },
    data: { name: 'synthetic', augment: { crop_padding: 1, flip: false }, synthetic: { train: 48, test: 16, size: 8, channels: 3, classes: 4 } },
    train: { epochs: 2, batch: 8, lr: 0.05, schedule: { name: 'cosine', warmup_epochs: 0.5 } },
    ...over,
  });
}

function dataset(cfg: Config): Dataset {
  return makeSynthetic(cfg.data.synthetic);
}

/** Trains (or resumes, with resumeDir) in a fresh run directory under tmp. */
function runTraining(cfg: Config, opts: { resumeDir?: string; stopAfter?: number; ds?: Dataset } = {}): Promise<{ outcome: TrainOutcome; dir: string }> {
  return trainIn(cfg, opts.ds ?? dataset(cfg), opts.resumeDir ?? join(tmp, `run${runCount++}`), { resume: Boolean(opts.resumeDir), stopAfter: opts.stopAfter });
}

function weights(outcome: TrainOutcome): number[][] {
  return outcome.model.weights.map((w) => Array.from(w.read().dataSync()));
}

describe('training loop', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => removeDir(tmp));

  it('interrupted mid-epoch and resumed gives the same final weights as uninterrupted', async () => {
    const cfg = microConfig();
    const straight = await runTraining(cfg);
    expect(straight.outcome.status).toBe('finished');
    const first = await runTraining(cfg, { stopAfter: 8 }); // 6 steps per epoch: stops inside epoch 2
    expect(first.outcome.status).toBe('interrupted');
    expect(first.outcome.position.epoch).toBe(1);
    expect(first.outcome.position.stepInEpoch).toBe(2);
    first.outcome.model.dispose();
    const resumed = await runTraining(cfg, { resumeDir: first.dir });
    expect(resumed.outcome.status).toBe('finished');
    expect(weights(resumed.outcome)).toEqual(weights(straight.outcome));
    // metrics.jsonl has one line per epoch, and the resumed epoch's train loss matches too.
    const lines = (d: string) =>
      readFileSync(join(d, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { epoch: number; train_loss: number; test_top1: number });
    const a = lines(straight.dir);
    const b = lines(first.dir);
    expect(b.map((l) => l.epoch)).toEqual([1, 2]);
    expect(b[1].train_loss).toBeCloseTo(a[1].train_loss, 6);
    expect(b[1].test_top1).toBe(a[1].test_top1);
    straight.outcome.model.dispose();
    resumed.outcome.model.dispose();
  });

  it('keeps the tensor count flat across steps', () => {
    const cfg = microConfig();
    const ds = dataset(cfg);
    const model = buildModel(cfg, ds);
    const params = paramGroups(model, cfg.train.no_decay);
    const opt = new Optimizer(cfg.train, params);
    const step = makeTrainStep(
      model,
      opt,
      params.map((p) => p.variable),
      [8, 8, 3],
      0.1,
    );
    const x = new Float32Array(8 * 8 * 8 * 3).map((_, i) => Math.sin(i));
    const y = new Int32Array(8).map((_, i) => i % 4);
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) {
      step(x, y, 8, 0.01);
      counts.push(tf.memory().numTensors);
    }
    // The first step creates the momentum buffers; after that nothing may accumulate.
    expect(new Set(counts.slice(1)).size).toBe(1);
    opt.dispose();
    model.dispose();
  });

  it('separates the no-decay group: BN and biases', () => {
    const cfg = microConfig();
    const model = buildModel(cfg, dataset(cfg));
    const groups = paramGroups(model, cfg.train.no_decay);
    const decayed = groups.filter((g) => g.decay).map((g) => g.name);
    expect(decayed.every((n) => n.endsWith('/kernel'))).toBe(true);
    expect(groups.some((g) => !g.decay && g.name.endsWith('/gamma'))).toBe(true);
    expect(groups.some((g) => !g.decay && g.name === 'fc/bias')).toBe(true);
    const all = paramGroups(model, { bn: false, bias: false, activation: false });
    expect(all.every((g) => g.decay)).toBe(true);
    model.dispose();
  });

  it('stops with exit code 4 and names the step when the loss is not finite', async () => {
    const cfg = microConfig({ train: { epochs: 1, batch: 8, lr: 0.05 } });
    cfg.train.lr = 1e30; // beyond what the schema allows: the weights overflow after one update
    const err = await runTraining(cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergedError);
    expect((err as DivergedError).exitCode).toBe(ExitCode.diverged);
    expect((err as Error).message).toMatch(/loss is (NaN|-?Infinity) at epoch 1, step [2-6]/);
  });
});

describe('metrics after a crash', () => {
  it('drops records the checkpoint does not cover, so each epoch appears once', () => {
    const dir = makeTmpDir('pwlu-trim-');
    const run = new RunDir(dir);
    const lines = [
      { epoch: 1, test_top1: 10 },
      { event: 'realign', layer: 'a', epoch: 1 },
      { epoch: 2, test_top1: 20 },
      { epoch: 3, test_top1: 30 }, // written just before a kill -9; the checkpoint says 2 epochs
    ];
    for (const l of lines) appendFileSync(run.path('metrics'), `${JSON.stringify(l)}\n`);
    expect(trimMetricsToCheckpoint(run, { epoch: 2, epochStarted: false })).toBe(1);
    const left = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(left).toEqual(lines.slice(0, 3));
    // A checkpoint taken after epoch index 1 started (Ctrl-C) covers its realignment event...
    expect(trimMetricsToCheckpoint(run, { epoch: 1, epochStarted: true })).toBe(1);
    // ...one from the end of epoch 1 does not: the realignment is replayed on resume.
    expect(trimMetricsToCheckpoint(run, { epoch: 1, epochStarted: false })).toBe(1);
    removeDir(dir);
  });
});
