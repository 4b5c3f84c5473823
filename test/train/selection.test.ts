import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.js';
import { loadDataset } from '../../src/data/load.js';
import type { BestRecord, EpochRecord } from '../../src/run/records.js';
import { createRunDir } from '../../src/run/run-dir.js';
import { readTrainCheckpoint } from '../../src/train/checkpoint-contents.js';
import { buildSummary, type SummaryBase } from '../../src/train/session.js';
import { Trainer } from '../../src/train/trainer.js';
import { createLogger } from '../../src/util/log.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { createProgress } from '../../src/util/progress.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-select-');

/** The first epoch with the highest value of `key` (what "best" must be: a later tie does not replace it). */
function argmax(epochs: EpochRecord[], key: 'val_top1' | 'test_top1'): EpochRecord {
  return epochs.reduce((b, e) => ((e[key] ?? -1) > (b[key] ?? -1) ? e : b));
}

async function trainRun(name: string, valSplit: number) {
  const cfg = ConfigSchema.parse({
    seed: 4,
    backend: 'cpu',
    model: { arch: 'resnet20', width: 0.125 },
    // Few test images and a high lr: val and test disagree about the best epoch at this seed.
    data: { name: 'synthetic', val_split: valSplit, synthetic: { train: 40, test: 8, size: 6, channels: 3, classes: 4 } },
    train: { epochs: 4, batch: 8, lr: 0.2, max_steps_per_epoch: 3 },
  });
  const { run } = createRunDir(join(tmp, name));
  const { dataset, val } = await loadDataset(cfg.data, { projectRoot: PROJECT_ROOT, seed: cfg.seed });
  const outcome = await new Trainer({
    config: cfg,
    configHash: 'test',
    run,
    log: createLogger({ quiet: true }),
    progress: createProgress(false),
    dataset,
    val,
    resume: false,
  }).run();
  const summary = buildSummary(BASE, { status: outcome.status, progress: outcome, model: outcome.model }, run, cfg.activation.sites);
  outcome.model.dispose();
  return {
    outcome,
    summary,
    epochs: run.readMetrics().epochs,
    bestFile: run.has('best') ? readTrainCheckpoint(run.path('best')).meta : null,
    lastFile: readTrainCheckpoint(run.path('last')).meta,
  };
}

/** The summary fields these tests do not look at. */
const BASE: SummaryBase = {
  arch: 'resnet20',
  activation: 'relu',
  dataset: 'synthetic',
  seed: 4,
  epochs: 4,
  img_size: 6,
  backend: { name: 'cpu', reason: 'test', detail: {} },
  versions: {},
  git_commit: null,
  git_dirty: null,
  config_hash: 'test',
};

describe('model selection', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => removeDir(tmp));

  it("chooses the best checkpoint on val when the run holds one out, and reports that epoch's test top-1", async () => {
    const { outcome, summary, epochs, bestFile } = await trainRun('val', 0.2);
    const byVal = argmax(epochs, 'val_top1');
    expect(outcome.selection).toBe('val');
    expect(summary.selection).toBe('val');
    expect(summary.best).toEqual(outcome.position.best);
    expect(outcome.position.best).toEqual({
      epoch: byVal.epoch,
      split: 'val',
      top1: byVal.val_top1 as number,
      test_top1: byVal.test_top1,
      test_top5: byVal.test_top5,
    } satisfies BestRecord);
    expect(bestFile?.epoch).toBe(byVal.epoch);
    // The test set did not choose it: at this seed the test-best epoch is another one.
    expect(argmax(epochs, 'test_top1').epoch).not.toBe(byVal.epoch);
  });

  it('chooses nothing when there is no val split: no best epoch, no best checkpoint, the last epoch is the result', async () => {
    const { outcome, summary, epochs, bestFile, lastFile } = await trainRun('test', 0);
    expect(epochs.every((e) => e.val_top1 === undefined)).toBe(true);
    expect(outcome.selection).toBe('none');
    expect(outcome.position.best).toBeNull();
    expect(bestFile).toBeNull();
    expect(lastFile.best).toBeNull();
    expect(summary.selection).toBe('none');
    expect(summary.best).toBeNull();
    const last = epochs.at(-1)!;
    expect(summary.final).toEqual({ top1: last.test_top1, top5: last.test_top5, loss: last.test_loss });
  });
});
