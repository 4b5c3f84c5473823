/** `pwlu eval` on a detection run: the test split's detections (COCO results format) and COCO's figures. */
import { join, resolve } from 'node:path';
import { detectionsFile } from '../run/files.js';
import type { RunDir } from '../run/run-dir.js';
import type { RestoredDetectionRun } from '../train/restore.js';
import { evalBatchSize } from '../train/step.js';
import { writeFileAtomic } from '../util/io.js';
import { createProgress } from '../util/progress.js';

/** The `pwlu eval` options this side reads. */
export interface DetectionEvalOptions {
  json: boolean;
  detections?: string;
}

/** Runs the detector over the test split, writes the detections atomically and prints the twelve figures. */
export async function evaluateDetectionCommand(r: RestoredDetectionRun, run: RunDir, opts: DetectionEvalOptions): Promise<void> {
  const [{ evaluateDetectionSplit }, { COCO_METRICS }] = await Promise.all([import('../train/detection/task.js'), import('../detection/coco-eval.js')]);
  const { dataset, config, model } = r;
  const progress = createProgress(process.stderr.isTTY === true && !opts.json);
  progress.start(dataset.test.n, `detect ${dataset.test.name}`);
  let done = 0;
  let out;
  try {
    out = await evaluateDetectionSplit(model, dataset, 'test', config, evalBatchSize(config.train), (k) => progress.update((done += k), {}));
  } finally {
    progress.stop();
  }
  const file = resolve(opts.detections ?? join(run.dir, detectionsFile(r.checkpoint)));
  writeFileAtomic(file, JSON.stringify(out.detections));
  const coco = out.coco;
  const result = {
    run: run.dir,
    checkpoint: r.checkpoint,
    epoch: r.epoch,
    dataset: dataset.name,
    split: dataset.test.name,
    n: out.n,
    skipped: out.skipped,
    detections: out.detections.length,
    detections_file: file,
    coco,
    backend: r.backend.name,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const figures = COCO_METRICS.map((k) => `${k} ${coco[k] < 0 ? 'n/a' : (100 * coco[k]).toFixed(1)}`).join('  ');
  process.stdout.write(
    `${r.checkpoint} checkpoint (epoch ${r.epoch}) on ${dataset.name} ${dataset.test.name} (${out.n} images, ${out.detections.length} detections) [${r.backend.name}]\n` +
      `${figures}\n` +
      `detections: ${file}\n`,
  );
}
