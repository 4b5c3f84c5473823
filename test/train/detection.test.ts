/**
 * Detection training end to end on a micro RetinaNet and a tiny generated COCO-format set: the loss falls, a run
 * stopped mid-epoch and resumed ends bit-identical to an uninterrupted one, evaluation gives COCO's figures, and
 * the step holds no tensors across steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { makeFashionMnistDetection } from '../../src/data/coco/make-fashion-mnist-detection.js';
import type { DetectionBatch } from '../../src/data/coco/dataset.js';
import { RunDir } from '../../src/run/run-dir.js';
import { detectionTask, openDetectionData } from '../../src/train/detection/task.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { paramGroups } from '../../src/train/step.js';
import { opaqueTask } from '../../src/train/task.js';
import type { TrainOutcome } from '../../src/train/trainer.js';
import { writeIdxDataset } from '../helpers/fixtures.js';
import { runTraining } from '../helpers/run-training.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { optionalPart } from '../helpers/optional-parts.js';

// tfjs's cpu backend takes minutes for these steps (its convolution gradients); the torch addon, seconds. One thread:
// the same arithmetic order in every run, so resumed and uninterrupted runs can be compared bit for bit.
const avail = torchAvailability();
const torch = optionalPart('native', avail.available, avail.reason);

const tmp = makeTmpDir('pwlu-detection-');
const data = join(tmp, 'fmd');
let runs = 0;

beforeAll(async () => {
  if (torch) {
    await registerTorchBackend({ threads: 1, device: 'cpu' });
    await tf.setBackend('torch');
  }
  const fm = join(tmp, 'fashion-mnist');
  writeIdxDataset(fm, { nTrain: 60, nTest: 20 });
  await makeFashionMnistDetection({ out: data, source: fm, force: false, seed: 0, train: 8, val: 4, test: 4, size: 128 });
}, 60_000);
afterAll(async () => {
  await tf.setBackend('cpu');
  removeDir(tmp);
});

function microConfig(over: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    task: 'detection',
    seed: 1,
    backend: 'torch',
    model: { arch: 'resnet18', width: 0.125, stem: 'imagenet' },
    data: { name: 'fashion-mnist-detection', dir: data },
    detection: { head_width: 8, head_convs: 1, backbone_bn: 'train', min_size: 128, max_size: 128, anchor_sizes: [16, 32, 64, 128, 256] },
    train: { epochs: 3, batch: 4, lr: 0.02, eval_batch: 4, schedule: { name: 'constant' }, weight_decay: 1e-4 },
    ...over,
  });
}

async function train(cfg: Config, opts: { resumeDir?: string; stopAfter?: number } = {}): Promise<{ outcome: TrainOutcome; dir: string }> {
  const ds = await openDetectionData(cfg, { projectRoot: tmp, threads: 1 });
  return runTraining(cfg, { task: opaqueTask(detectionTask(cfg, ds)) }, opts.resumeDir ?? join(tmp, `run${runs++}`), {
    resume: Boolean(opts.resumeDir),
    stopAfter: opts.stopAfter,
  });
}

function weights(o: TrainOutcome): number[][] {
  return o.model.weights.map((w) => Array.from(w.read().dataSync()));
}

describe.skipIf(!torch)('RetinaNet training (micro)', () => {
  it('lowers the loss and records COCO figures each epoch', async () => {
    const { outcome, dir } = await train(microConfig());
    expect(outcome.status).toBe('finished');
    const epochs = new RunDir(dir).readMetrics().epochs;
    expect(epochs).toHaveLength(3);
    expect(epochs[2]!.train_loss).toBeLessThan(epochs[0]!.train_loss);
    for (const e of epochs) {
      expect(e.train_top1).toBeNull();
      expect(e.train_cls_loss! + e.train_box_loss!).toBeCloseTo(e.train_loss, 4);
      expect(Object.keys(e.test_coco!)).toHaveLength(12);
      expect(e.val_coco!.AP).toBeGreaterThanOrEqual(0);
    }
    outcome.model.dispose();
  }, 120_000);

  it('stopped mid-epoch and resumed, ends with the weights of an uninterrupted run', async () => {
    const cfg = microConfig({ train: { epochs: 2, batch: 4, lr: 0.02, eval_batch: 4, schedule: { name: 'constant' } } });
    const straight = await train(cfg);
    const first = await train(cfg, { stopAfter: 1 });
    expect(first.outcome.status).toBe('interrupted');
    first.outcome.model.dispose();
    const resumed = await train(cfg, { resumeDir: first.dir });
    expect(resumed.outcome.status).toBe('finished');
    expect(weights(resumed.outcome)).toEqual(weights(straight.outcome));
    const a = new RunDir(straight.dir).readMetrics().epochs.map((e) => [e.train_loss, e.test_coco]);
    const b = new RunDir(resumed.dir).readMetrics().epochs.map((e) => [e.train_loss, e.test_coco]);
    expect(b).toEqual(a);
    straight.outcome.model.dispose();
    resumed.outcome.model.dispose();
  }, 180_000);

  it('holds no tensors across steps', async () => {
    const cfg = microConfig();
    const ds = await openDetectionData(cfg, { projectRoot: tmp, threads: 1 });
    const task = detectionTask(cfg, ds);
    const groups = paramGroups(task.model, cfg.train.no_decay);
    const optimizer = new Optimizer(cfg.train, groups);
    const step = task.makeStep(
      optimizer,
      groups.map((g) => g.variable),
    );
    const batches: DetectionBatch[] = [];
    for await (const b of task.trainBatches({ seed: 0, epoch: 0, batchSize: 4, startBatch: 0 })) batches.push(b);
    step(batches[0]!, 0.01, false); // creates the optimizer's slots
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step(batches[i % batches.length]!, 0.01, false);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    task.model.dispose();
  }, 60_000);
});
