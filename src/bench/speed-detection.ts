/**
 * The detection side of the speed engine: a RetinaNet set up for training exactly as `pwlu train --task detection`
 * sets it up, on one seeded random batch with random boxes drawn as shared/bench/detection_reference.py draws them.
 * Inference includes what the reference's eval-mode forward includes: sigmoid, per-level top-k, decoding and NMS.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Config } from '../config/schema.js';
import type { DetectionBatch } from '../data/coco/dataset.js';
import { anchorsPerLevel, headAnchors, postprocessImage } from '../detection/retinanet-head.js';
import { countTrainable } from '../models/census.js';
import { disposeModel } from '../models/infer.js';
import { headOptions } from '../train/detection/options.js';
import { makeDetectionStep } from '../train/detection/step.js';
import { buildDetectorModel } from '../train/detection/task.js';
import { Optimizer } from '../train/optimizer.js';
import { paramGroups } from '../train/step.js';
import { Rng } from '../util/rng.js';
import type { BenchInput, BenchModel, BenchModelOptions } from './bench-model.js';

/** A detector with `inp.classes` logits per anchor and a random batch of `inp.batch` images holding 1-5 boxes each. */
export function benchDetector(config: Config, inp: BenchInput, opts: BenchModelOptions = {}): BenchModel {
  const { size, batch: n, classes: k } = inp;
  const model = buildDetectorModel(config, k);
  const groups = paramGroups(model, config.train.no_decay);
  const optimizer = new Optimizer(config.train, groups);
  opts.prepare?.(model);
  const head = headOptions(config.detection);
  const step = makeDetectionStep(
    model,
    optimizer,
    groups.map((g) => g.variable),
    head,
    opts.reduce,
  );
  const rng = new Rng(inp.seed ?? 0);
  const x = new Float32Array(n * size * size * 3);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const targets = Array.from({ length: n }, () => {
    const m = 1 + rng.int(5);
    const boxes = new Float32Array(4 * m);
    const labels = new Int32Array(m);
    for (let j = 0; j < m; j++) {
      const x1 = rng.uniform() * size * 0.7;
      const y1 = rng.uniform() * size * 0.7;
      boxes.set([x1, y1, Math.min(x1 + 8 + rng.uniform() * size * 0.3, size), Math.min(y1 + 8 + rng.uniform() * size * 0.3, size)], 4 * j);
      labels[j] = rng.int(k);
    }
    return { boxes, labels };
  });
  const images = targets.map((_, i) => ({
    id: i,
    file: `random-${i}`,
    scale: [1, 1] as [number, number],
    height: size,
    width: size,
    origHeight: size,
    origWidth: size,
    flipped: false,
  }));
  const b: DetectionBatch = { x, height: size, width: size, size: n, index: 0, skipped: 0, targets, images };
  let xt: tf.Tensor4D | null = null;
  // Kept: the first call may come from inside a tidy (infer), which must not dispose the cached batch.
  const input = () => (xt ??= tf.keep(tf.tensor4d(x, [n, size, size, 3])));
  const anchors = headAnchors(size, size, head);
  const levels = anchorsPerLevel(size, size);
  return {
    model,
    optimizer,
    params: countTrainable(model),
    x,
    y: new Int32Array(0),
    step: (lr) => step(b, lr, false),
    input,
    logits: () => (model.apply(input(), { training: false }) as tf.Tensor[])[0]!,
    infer: () => {
      const [scores, deltas] = tf.tidy(() => {
        const [cls, box] = model.apply(input(), { training: false }) as [tf.Tensor3D, tf.Tensor3D];
        return [tf.sigmoid(cls), box];
      });
      const s = scores.dataSync() as Float32Array;
      const d = deltas.dataSync() as Float32Array;
      tf.dispose([scores, deltas]);
      const a = anchors.length / 4;
      for (let i = 0; i < n; i++)
        postprocessImage(s.subarray(i * a * k, (i + 1) * a * k), d.subarray(i * a * 4, (i + 1) * a * 4), anchors, levels, k, images[i]!, head);
    },
    dispose: () => {
      xt?.dispose();
      optimizer.dispose();
      disposeModel(model);
    },
  };
}
