/**
 * `pwlu export`'s work: a restored run's model written in a deployable format into a folder of its own, with
 * what a deployment needs beside it (labels.json, preprocessing.json) and export.json, which records the
 * run, the checkpoint and the measured agreement of the exported model with the run's own. The folder is
 * written under a temporary name and renamed only when the check passes, so a failed export leaves nothing.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PWLU_ONNX_FORMS, type PwluOnnxForm } from '../activations/specs/pwlu.js';
import type { RestoredRun } from '../train/restore.js';
import { UserError } from '../util/errors.js';
import { tempDirPath } from '../util/io.js';
import type { LogitCheck } from './compare.js';
import { checkOnnx } from './onnx/check.js';
import { checkTfjs } from './tfjs/check.js';
import { exportTfjs, TFJS_WEIGHTS_FILE } from './tfjs/model.js';
import { OPSET } from './onnx/builder.js';
import { exportOnnx } from './onnx/model.js';

/** Formats `pwlu export --format` writes. */
export const EXPORT_FORMATS = ['onnx', 'tfjs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The largest relative logit difference an export may have (to the largest |logit| of the check batch). */
export const EXPORT_TOLERANCE = 1e-4;

/** What export.json says. */
export interface ExportRecord {
  format: ExportFormat;
  file: string;
  run: string;
  checkpoint: 'best' | 'last';
  epoch: number;
  config_hash: string;
  arch: string;
  activation: string;
  batch: number | 'dynamic';
  /** Whether batch norm was folded into the convolutions (ONNX; the tfjs format keeps the layers as trained). */
  fold_bn: boolean;
  opset?: number;
  /** ONNX of a PWLU run: the form PWLU was written in (src/activations/specs/pwlu.ts). */
  pwlu_form?: PwluOnnxForm;
  /** The check: the exported model against the run's model on a fixed random batch. */
  check: LogitCheck & { runtime: string; examples: number; tolerance: number };
  created: string;
}

/** Exports `r` to `out` (a new folder), recording the checkpoint `r` loaded; throws a UserError (and leaves nothing) when the check fails. */
export async function exportRun(
  r: RestoredRun,
  runDir: string,
  opts: { format: ExportFormat; out: string; batch: number | 'dynamic'; foldBn: boolean; pwluForm?: PwluOnnxForm },
): Promise<ExportRecord> {
  if (existsSync(opts.out)) throw new UserError(`${opts.out} exists: pwlu export never overwrites one; remove it or choose another --out`);
  const tmp = tempDirPath(opts.out);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const { dataset: ds, config } = r;
    const examples = opts.batch === 'dynamic' ? 4 : opts.batch;
    const x = tf.randomNormal([examples, ds.height, ds.width, ds.channels], 0, 1, 'float32', 1234) as tf.Tensor4D;
    let file: string;
    let check: LogitCheck;
    let runtime: string;
    try {
      if (opts.format === 'onnx') {
        file = 'model.onnx';
        const bytes = exportOnnx(r.model, {
          batch: opts.batch,
          foldBn: opts.foldBn,
          forms: opts.pwluForm ? { pwlu: opts.pwluForm } : undefined,
          metadata: { run: runDir, config_hash: r.configHash, arch: config.model.arch, activation: config.activation.name },
        });
        writeFileSync(join(tmp, file), bytes);
        check = await checkOnnx(r.model, bytes, x);
        runtime = 'onnxruntime-node (CPU)';
      } else {
        file = 'model.json';
        const { modelJson, weights } = await exportTfjs(r.model);
        writeFileSync(join(tmp, file), `${JSON.stringify(modelJson)}\n`);
        writeFileSync(join(tmp, TFJS_WEIGHTS_FILE), weights);
        check = checkTfjs(r.model, tmp, x);
        runtime = 'tfjs cpu backend with pwlu/layers';
      }
    } finally {
      x.dispose();
    }
    const record: ExportRecord = {
      format: opts.format,
      file,
      run: runDir,
      checkpoint: r.checkpoint,
      epoch: r.epoch,
      config_hash: r.configHash,
      arch: config.model.arch,
      activation: config.activation.name,
      batch: opts.batch,
      fold_bn: opts.format === 'onnx' && opts.foldBn,
      ...(opts.format === 'onnx' ? { opset: OPSET } : {}),
      ...(opts.format === 'onnx' && config.activation.name === 'pwlu' ? { pwlu_form: opts.pwluForm ?? PWLU_ONNX_FORMS[0] } : {}),
      check: { ...check, runtime, examples, tolerance: EXPORT_TOLERANCE },
      created: new Date().toISOString(),
    };
    if (!(check.max_rel_diff <= EXPORT_TOLERANCE)) {
      throw new UserError(
        `the exported model does not match the run's: max |logit difference| ${check.max_abs_diff.toExponential(3)} ` +
          `(${check.max_rel_diff.toExponential(3)} of the largest logit, tolerance ${EXPORT_TOLERANCE}) on ${examples} examples; nothing was written`,
      );
    }
    const classes = ds.classNames ?? Array.from({ length: ds.numClasses }, (_, i) => String(i));
    writeFileSync(join(tmp, 'labels.json'), `${JSON.stringify(classes, null, 2)}\n`);
    const batchDim = opts.batch === 'dynamic' ? 'batch' : opts.batch;
    const preprocessing = {
      input: opts.format === 'onnx' ? 'input' : 'the model input',
      layout: opts.format === 'onnx' ? 'NCHW' : 'NHWC',
      shape: opts.format === 'onnx' ? [batchDim, ds.channels, ds.height, ds.width] : [batchDim, ds.height, ds.width, ds.channels],
      dtype: 'float32',
      normalise: '(pixel / 255 - mean[c]) / std[c], pixels 0..255 per channel',
      mean: ds.mean,
      std: ds.std,
      output: opts.format === 'onnx' ? 'logits' : 'the model output (logits)',
      ...(opts.format === 'tfjs' ? { load: "import '@tensorflow/tfjs'; import 'pwlu/layers'; tf.loadLayersModel('model.json')" } : {}),
      num_classes: ds.numClasses,
    };
    writeFileSync(join(tmp, 'preprocessing.json'), `${JSON.stringify(preprocessing, null, 2)}\n`);
    writeFileSync(join(tmp, 'export.json'), `${JSON.stringify(record, null, 2)}\n`);
    mkdirSync(dirname(opts.out), { recursive: true });
    renameSync(tmp, opts.out);
    return record;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
