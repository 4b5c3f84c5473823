/**
 * What users and machines do to a run directory, in-process with injected faults: a kill between
 * the two checkpoint writes, a full disk, a diverged run. The process-level faults (SIGTERM, two
 * writers, resume of a finished run, --out on a file, data.dir) are in test/cli/faults.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { loadDataset } from '../../src/data/load.js';
import { readCheckpoint, type Checkpoint } from '../../src/run/checkpoint.js';
import type { BestRecord, Summary } from '../../src/run/records.js';
import { createRunDir, RunDir } from '../../src/run/run-dir.js';
import { ExitCode } from '../../src/util/errors.js';
import { createLogger } from '../../src/util/log.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { createProgress } from '../../src/util/progress.js';
import type { TrainPosition } from '../../src/train/checkpoint-contents.js';
import { buildSummary, runTraining, type SummaryBase } from '../../src/train/session.js';
import { DivergedError, Trainer } from '../../src/train/trainer.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

/** Faults the mocks below inject; each test arms one and disarms it. */
const fault = vi.hoisted(() => ({
  /** Throw (as if the process died) at this checkpoint write, counting from 1; 0: never. */
  killAtCheckpoint: 0,
  checkpointWrites: [] as string[],
  /** Fail writes into checkpoint temp files with ENOSPC once this many were opened since arming; 0: never. */
  enospcAfterCheckpoints: 0,
  checkpointOpens: 0,
}));

class Killed extends Error {}

vi.mock('../../src/run/checkpoint.js', async (importOriginal) => {
  const orig = await importOriginal<typeof import('../../src/run/checkpoint.js')>();
  return {
    ...orig,
    writeCheckpoint: <M>(path: string, ckpt: Checkpoint<M>) => {
      fault.checkpointWrites.push(path);
      if (fault.killAtCheckpoint === fault.checkpointWrites.length) throw new Killed(`killed before writing ${path}`);
      orig.writeCheckpoint(path, ckpt);
    },
  };
});

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const paths = new Map<number, string>();
  const openSync = ((path: fs.PathLike, ...rest: unknown[]) => {
    const fd = (real.openSync as (p: fs.PathLike, ...r: unknown[]) => number)(path, ...rest);
    paths.set(fd, String(path));
    if (/\.ckpt\.tmp-\d+$/.test(String(path))) fault.checkpointOpens++;
    return fd;
  }) as typeof real.openSync;
  const writeSync = ((fd: number, buffer: Uint8Array, ...rest: unknown[]) => {
    const p = paths.get(fd) ?? '';
    if (fault.enospcAfterCheckpoints > 0 && fault.checkpointOpens > fault.enospcAfterCheckpoints && /\.ckpt\.tmp-\d+$/.test(p)) {
      // The disk fills part-way through the write: some bytes land, then ENOSPC.
      (real.writeSync as (fd: number, b: Uint8Array, o: number, l: number) => number)(fd, buffer, 0, Math.min(buffer.byteLength, 16));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return (real.writeSync as (fd: number, b: Uint8Array, ...r: unknown[]) => number)(fd, buffer, ...rest);
  }) as typeof real.writeSync;
  return { ...real, default: { ...real, openSync, writeSync }, openSync, writeSync };
});

const tmp = makeTmpDir('pwlu-faults-');
let runCount = 0;

const MICRO = {
  seed: 2,
  backend: 'cpu',
  model: { arch: 'resnet20', width: 0.125 },
  data: { name: 'synthetic', val_split: 0.25, synthetic: { train: 32, test: 8, size: 6, channels: 3, classes: 4 } },
  train: { epochs: 2, batch: 8, lr: 0.05 },
} as const;

function microConfig(): Config {
  return ConfigSchema.parse(structuredClone(MICRO));
}

type Meta = TrainPosition & { optimizer: { step: number } };

async function trainIn(dir: string, cfg: Config, resume: boolean, shouldStop?: () => boolean): Promise<Trainer> {
  const run = resume ? new RunDir(dir) : createRunDir(dir).run;
  const { dataset, val } = await loadDataset(cfg.data, { projectRoot: PROJECT_ROOT, seed: cfg.seed });
  const trainer = new Trainer({
    config: cfg,
    configHash: 'test',
    run,
    log: createLogger({ quiet: true }),
    progress: createProgress(false),
    dataset,
    val,
    resume,
    shouldStop,
  });
  return trainer;
}

function weightsOf(path: string): number[][] {
  return readCheckpoint<Meta>(path).tensors.map((t) => Array.from(t.values));
}

describe('run directory faults (in-process)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => removeDir(tmp));

  it('a kill at any checkpoint write of an epoch leaves a run whose resume ends with the uninterrupted best and last', async () => {
    const cfg = microConfig();
    cfg.train.epochs = 1;
    const straightDir = join(tmp, `run${runCount++}`);
    fault.checkpointWrites = [];
    const straight = await (await trainIn(straightDir, cfg, false)).run();
    straight.model.dispose();
    // Epoch 1 always improves on "no best yet": two writes, best then last.
    expect(fault.checkpointWrites.map((p) => p.split('/').pop())).toEqual(['checkpoint-best.ckpt', 'checkpoint-last.ckpt']);
    const straightBest = readCheckpoint<Meta>(join(straightDir, 'checkpoint-best.ckpt')).meta.best as BestRecord;
    expect(straightBest).toMatchObject({ epoch: 1, split: 'val' });

    for (const killAt of [1, 2]) {
      const dir = join(tmp, `run${runCount++}`);
      fault.checkpointWrites = [];
      fault.killAtCheckpoint = killAt;
      await expect((await trainIn(dir, cfg, false)).run()).rejects.toBeInstanceOf(Killed);
      fault.killAtCheckpoint = 0;
      // Whatever prefix was written, the best checkpoint never claims less than checkpoint-last says it holds.
      if (existsLast(dir)) {
        const lastBest = readCheckpoint<Meta>(join(dir, 'checkpoint-last.ckpt')).meta.best;
        expect(readCheckpoint<Meta>(join(dir, 'checkpoint-best.ckpt')).meta.epoch).toBe(lastBest?.epoch);
      }
      const resumed = await (await trainIn(dir, cfg, true)).run();
      resumed.model.dispose();
      expect(resumed.position.best).toEqual(straightBest);
      const best = readCheckpoint<Meta>(join(dir, 'checkpoint-best.ckpt'));
      expect(best.meta.epoch).toBe(straightBest.epoch);
      expect(weightsOf(join(dir, 'checkpoint-best.ckpt'))).toEqual(weightsOf(join(straightDir, 'checkpoint-best.ckpt')));
      expect(weightsOf(join(dir, 'checkpoint-last.ckpt'))).toEqual(weightsOf(join(straightDir, 'checkpoint-last.ckpt')));
      expect(new RunDir(dir).readMetrics().epochs.map((e) => e.epoch)).toEqual([1]);
    }
  });

  it('a full disk: exit 5 naming the checkpoint and its size, no temp file, the last good checkpoint and a failed summary; resume then finishes', async () => {
    const dir = join(tmp, `run${runCount++}`);
    const config = join(tmp, 'micro.yaml');
    fs.writeFileSync(config, JSON.stringify(MICRO));
    fault.checkpointOpens = 0;
    fault.enospcAfterCheckpoints = 2; // epoch 1's best and last land; epoch 2's writes fail
    const err = await runTraining({ config, sets: [], machineSets: [], out: dir, quiet: true, progressBar: false }).catch((e: unknown) => e);
    fault.enospcAfterCheckpoints = 0;
    expect((err as { exitCode?: number }).exitCode).toBe(ExitCode.io);
    expect((err as Error).message).toMatch(/cannot write .*checkpoint-(best|last)\.ckpt \(\d+\.\d KiB \(\d+ bytes\)\): no space left on the device \[ENOSPC\]/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(readCheckpoint<Meta>(join(dir, 'checkpoint-last.ckpt')).meta.epoch).toBe(1);
    const summary = JSON.parse(fs.readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
    expect(summary.status).toBe('failed');
    expect(summary.error).toContain('ENOSPC');
    expect(summary.epochs_completed).toBe(1);
    expect(summary.best?.epoch).toBe(1);

    await runTraining({ resume: dir, sets: [], machineSets: [], quiet: true, progressBar: false });
    const done = JSON.parse(fs.readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
    expect(done.status).toBe('finished');
    expect(done.epochs_completed).toBe(2);
    expect(new RunDir(dir).readMetrics().epochs.map((e) => e.epoch)).toEqual([1, 2]);
  });

  it('a run that diverges after good epochs records them in its summary', async () => {
    const cfg = microConfig();
    cfg.train.epochs = 3;
    const dir = join(tmp, `run${runCount++}`);
    let steps = 0;
    // Four steps (3 per epoch): the lr becomes absurd in epoch 2, so the weights overflow there.
    const trainer = await trainIn(dir, cfg, false, () => {
      if (++steps > 3) cfg.train.lr = 1e30;
      return false;
    });
    const err = await trainer.run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergedError);
    const progress = (err as DivergedError).progress!;
    const base: SummaryBase = {
      arch: 'resnet20',
      activation: 'relu',
      dataset: 'synthetic',
      seed: 2,
      epochs: 3,
      img_size: 6,
      backend: { name: 'cpu', reason: 'test', detail: {} },
      versions: {},
      git_commit: null,
      git_dirty: null,
      config_hash: 'test',
    };
    const s = buildSummary(base, { status: 'diverged', progress, model: trainer.model, error: (err as Error).message }, new RunDir(dir), 'all');
    expect(s.epochs_completed).toBe(1);
    expect(s.best).toMatchObject({ epoch: 1, split: 'val' });
    expect(s.final?.top1).toBeTypeOf('number');
    expect(s.params).toBeGreaterThan(0);
    trainer.model.dispose();
  });
});

function existsLast(dir: string): boolean {
  return fs.existsSync(join(dir, 'checkpoint-last.ckpt'));
}
