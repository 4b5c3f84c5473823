/**
 * Object detection as a training task: RetinaNet on a COCO-format dataset, its focal + box loss steps, and COCO's
 * metrics on val (which selects the epoch) and test. Every rank of a data-parallel run evaluates the whole split
 * (the collectives sum numbers; gathering variable-length detection lists is not among them), so each rank's
 * figures are the exact ones.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { makeActivationFactory } from '../../activations/registry.js';
import type { Config } from '../../config/schema.js';
import { shardCount } from '../../data/batches.js';
import { catalogEntry } from '../../data/catalog.js';
import { openDetectionDataset, type DetectionBatch, type DetectionDataset } from '../../data/coco/dataset.js';
import { discoverDataset } from '../../data/discover.js';
import { anchorsPerLocation } from '../../detection/anchors.js';
import { cocoEvaluate, type CocoStats } from '../../detection/coco-eval.js';
import { getDetector } from '../../models/detectors.js';
import { resolveStem } from '../../models/registry.js';
import type { EpochRecord } from '../../run/records.js';
import { DataError, UserError } from '../../util/errors.js';
import type { Optimizer } from '../optimizer.js';
import type { GradientReducer } from '../step.js';
import type { EvalFields, TrainTask } from '../task.js';
import { headOptions } from './options.js';
import { detectSplit, makeDetectionStep, type SplitDetections } from './step.js';

const pct = (v: number | null | undefined) => (v == null || v < 0 ? null : +(100 * v).toFixed(2));

/** Builds the configured detector (the backbone is model.arch) for a dataset's classes. */
export function buildDetectorModel(config: Config, numClasses: number): tfl.LayersModel {
  const d = config.detection;
  const detector = getDetector(d.detector);
  if (!detector) throw new UserError(`unknown detection.detector '${d.detector}'`);
  return detector.build({
    backbone: config.model.arch,
    width: config.model.width,
    channels: 3,
    numClasses,
    activation: makeActivationFactory(config.activation, config.seed),
    sites: config.activation.sites,
    seed: config.seed,
    headWidth: d.head_width,
    headConvs: d.head_convs,
    headInit: d.head_init,
    backboneBn: d.backbone_bn,
    anchorsPerLocation: anchorsPerLocation(),
    priorProb: 0.01,
    stem: resolveStem(config.model.stem, d.min_size),
  });
}

/** COCO's figures of one split: the network's detections scored against the split's annotations. */
export async function evaluateDetectionSplit(
  model: tfl.LayersModel,
  ds: DetectionDataset,
  which: 'test' | 'val',
  config: Config,
  batchSize: number,
  onBatch?: (images: number) => void,
): Promise<SplitDetections & { coco: CocoStats }> {
  const split = which === 'test' ? ds.test : ds.val;
  if (!split) throw new UserError(`the dataset has no ${which} split`);
  const r = await detectSplit(model, split, ds, headOptions(config.detection), batchSize, onBatch);
  return { ...r, coco: cocoEvaluate(split.groundTruth(), r.detections, { imageIds: split.imageIds() }) };
}

/** The detection task over an opened COCO-format dataset. */
export function detectionTask(config: Config, ds: DetectionDataset): TrainTask<DetectionBatch> {
  const model = buildDetectorModel(config, ds.numClasses);
  const head = headOptions(config.detection);
  return {
    model,
    hasVal: ds.val !== null,
    streamed: true,
    trainImages: (shard) => shardCount(ds.train.n, shard),
    trainBatches: (o) => ds.train.batches({ ...o, shuffle: true, train: true, dropLast: true }),
    makeStep: (optimizer: Optimizer, vars: tf.Variable[], reduce?: GradientReducer) => makeDetectionStep(model, optimizer, vars, head, reduce),
    async evaluate(which, evalBatch): Promise<EvalFields> {
      const r = await evaluateDetectionSplit(model, ds, which, config, evalBatch);
      const nulls = { loss: null, top1: null, top5: null };
      return which === 'test'
        ? { test_loss: nulls.loss, test_top1: nulls.top1, test_top5: nulls.top5, test_coco: r.coco, eval_skipped_images: r.skipped }
        : { val_coco: r.coco, eval_skipped_images: r.skipped };
    },
    trainFields: (acc) => ({
      train_top1: null,
      train_cls_loss: (acc.parts?.cls ?? 0) / Math.max(acc.seen, 1),
      train_box_loss: (acc.parts?.box ?? 0) / Math.max(acc.seen, 1),
    }),
    score: (r: EpochRecord) => (r.val_coco ? r.val_coco.AP! : null),
    best: (r, score) => ({ epoch: r.epoch, split: 'val', metric: 'AP', score, test_coco: r.test_coco ?? null }),
    logFields: (r) => ({
      test_AP: pct(r.test_coco?.AP),
      test_AP50: pct(r.test_coco?.AP50),
      ...(r.val_coco ? { val_AP: pct(r.val_coco.AP) } : {}),
    }),
  };
}

/** The split names of a COCO-layout dataset: the config's, else the dataset's own. */
function splitNames(config: Config): { train: string; val: string | null; test: string } {
  const own = config.data.name === 'coco' ? { train: 'train2017', val: null, test: 'val2017' } : { train: 'train', val: 'val', test: 'test' };
  const s = config.detection.splits;
  // With data.val_split set, val is held out of train unless a val split is named.
  const val = s.val ?? (config.data.val_split > 0 ? null : own.val);
  return { train: s.train ?? own.train, val, test: s.test ?? own.test };
}

/** Finds and opens the configured detection dataset; a missing one says how to get it. */
export async function openDetectionData(config: Config, o: { projectRoot: string; threads: number; log?: (m: string) => void }): Promise<DetectionDataset> {
  const entry = catalogEntry(config.data.name);
  const { found, searched } = discoverDataset(entry, { dataDir: config.data.dir, projectRoot: o.projectRoot });
  if (!found) {
    const how =
      config.data.name === 'coco'
        ? 'point data.dir at a COCO download holding annotations/instances_train2017.json, train2017/ and val2017/ (see `pwlu data list`)'
        : 'make it with `pwlu data make fashion-mnist-detection`';
    throw new DataError(`${entry.title} not found (looked in ${searched.map((c) => c.dir).join(', ')}): ${how}`);
  }
  const d = config.detection;
  return openDetectionDataset({
    dir: found.dir,
    name: config.data.name,
    splits: splitNames(config),
    valSplit: config.data.val_split,
    seed: config.seed,
    minSize: d.min_size,
    maxSize: d.max_size,
    padTo: d.pad_to,
    flip: d.flip,
    onBadImage: config.data.on_bad_image,
    workers: config.data.workers,
    prefetch: config.data.prefetch,
    threads: o.threads,
    log: o.log,
  });
}
