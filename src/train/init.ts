/**
 * Model initialisation from a file (config `model.init`): a torchvision state_dict saved with torch.save, or a pwlu
 * run's checkpoint. The paper's detection backbones start from an ImageNet classifier trained with their own learned
 * activations; fine-tuning a classifier with another activation swapped in starts from a checkpoint the same way.
 *
 * Rules, checked before any weight is written (an error leaves the model as it was):
 * - A torchvision file maps onto the model by layer name (src/models/torchvision-names.ts), a pwlu checkpoint by
 *   weight name; both bring batch norm's running statistics, a pwlu checkpoint also the activations' parameters.
 * - A weight whose source has another shape is an error listing the first few (name, model's shape, file's shape).
 * - Source tensors with no weight in the model (torchvision's `fc.*` for a detector, a PWLU checkpoint's breakpoints
 *   for a ReLU model) are reported, not an error.
 * - A model weight with no source keeps its initial value only when it belongs to an activation layer (a ReLU
 *   checkpoint into a PWLU model leaves the PWLU parameters at their initialisation) or matches `exclude` (the
 *   parts that are not the initialised network: a detector's `fpn.*` and `head.*`, a classifier of another class
 *   count); any other is an error listing them.
 * - Seeded dropout's call counters are training positions, not weights: never loaded (a new run restarts them) and
 *   not reported.
 * - A file of which nothing, or almost nothing (under a quarter of its tensors), lands in the model is an error: it
 *   is the wrong file.
 */
import { openSync, readSync, closeSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { isActivationLayer } from '../activations/types.js';
import { loadAddon, loadStateDict } from '../backends/torch/addon.js';
import { SeededDropout } from '../nn/fixed-layers.js';
import { pwluShape, toPwluLayout, torchvisionKeys, type TorchLayout } from '../models/torchvision-names.js';
import { RUN_FILES } from '../run/files.js';
import { UserError } from '../util/errors.js';
import { readTrainCheckpoint } from './checkpoint-contents.js';

/** Where initFromFile reports what it loaded and left out (a pino Logger fits). */
export interface InitLog {
  info(message: string): void;
}

/** What the caller decides: which weights are not part of the initialised network, and where to report. */
export interface InitOptions {
  /**
   * Model weights that keep their initial value whatever the file holds, by their `layer/weight` names (e.g.
   * `/^(fpn|head)\./` for a detector initialised from a classifier, `/^fc\//` for a classifier of another class count).
   */
  exclude?: RegExp[];
  log?: InitLog;
}

/** What initFromFile did. */
export interface InitReport {
  /** The file read (a run directory's checkpoint-best, else checkpoint-last). */
  file: string;
  format: 'torchvision' | 'pwlu';
  /** Model weights written. */
  loaded: number;
  /** The file's tensors that found no weight in the model (or only an excluded one), by their names in the file. */
  skippedSource: string[];
  /** Model weights left at their initial value: excluded ones and activation parameters the file does not have. */
  missingTarget: string[];
}

/** One tensor of the source file under the name it is matched by. */
interface SourceTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** One weight of the model. */
interface Target {
  variable: tfl.LayerVariable;
  name: string;
  shape: number[];
  activation: boolean;
  /** A seeded dropout's call counter: a training position, not a weight; every run restarts it. */
  counter: boolean;
}

const SHOWN = 5;

/** The first few of a list, for a message. */
function firstFew(items: readonly string[], n = SHOWN): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}

/** Every weight of the model with what kind of layer holds it (nested models walked into, shared layers once). */
function targetsOf(model: tfl.LayersModel): Target[] {
  const out: Target[] = [];
  const seen = new Set<number>();
  const visit = (layers: readonly tfl.layers.Layer[]): void => {
    for (const layer of layers) {
      if (layer instanceof tfl.LayersModel) {
        visit(layer.layers);
        continue;
      }
      const activation = isActivationLayer(layer);
      const counter = layer instanceof SeededDropout;
      for (const w of layer.weights) {
        if (seen.has(w.id)) continue;
        seen.add(w.id);
        out.push({ variable: w, name: w.originalName, shape: [...w.shape] as number[], activation, counter });
      }
    }
  };
  visit(model.layers);
  return out;
}

/** The checkpoint file a path names: itself, or a run directory's best checkpoint (else its last). */
function resolveFile(file: string): string {
  if (!existsSync(file)) throw new UserError(`${file}: no such file or run directory to initialise the model from`);
  if (!statSync(file).isDirectory()) return file;
  for (const name of [RUN_FILES.best, RUN_FILES.last]) {
    const p = path.join(file, name);
    if (existsSync(p)) return p;
  }
  throw new UserError(`${file}: a directory without ${RUN_FILES.best} or ${RUN_FILES.last} (not a pwlu run directory, or no epoch of it has finished)`);
}

/** Whether a file starts with a pwlu checkpoint's magic (src/run/checkpoint.ts); everything else is read as a torch.save file. */
function isPwluCheckpoint(file: string): boolean {
  const magic = Buffer.from('PWLUCKP1', 'latin1');
  const head = Buffer.alloc(magic.length);
  const fd = openSync(file, 'r');
  try {
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(magic);
  } finally {
    closeSync(fd);
  }
}

/** The tensors of a torch.save file through the native addon, without BN's num_batches_tracked (pwlu keeps no step count). */
function readTorchFile(file: string): SourceTensor[] {
  try {
    loadAddon();
  } catch (e) {
    throw new UserError(`${file}: reading a torch.save file needs pwlu's native torch addon: ${(e as Error).message}`);
  }
  let entries;
  try {
    entries = loadStateDict(file);
  } catch (e) {
    const msg = (e as Error).message;
    throw new UserError(msg.startsWith(file) ? msg : `${file}: ${msg}`);
  }
  return entries.filter((t) => !t.name.endsWith('.num_batches_tracked')).map((t) => ({ name: t.name, shape: t.shape, values: t.data }));
}

/**
 * Initialises `model`'s weights from `file`: a torchvision state_dict (`.pth`/`.pt`, read by the native addon), a pwlu
 * checkpoint, or a pwlu run directory (its checkpoint-best, else checkpoint-last), following the rules at the top of
 * this file. Throws a UserError naming the file when the file does not fit the model; then no weight is written.
 */
export function initFromFile(model: tfl.LayersModel, file: string, o: InitOptions = {}): InitReport {
  const source = resolveFile(file);
  const format: InitReport['format'] = isPwluCheckpoint(source) ? 'pwlu' : 'torchvision';
  const tensors: SourceTensor[] = format === 'pwlu' ? readTrainCheckpoint(source).weights : readTorchFile(source);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const targets = targetsOf(model);
  const exclude = o.exclude ?? [];

  // Where each weight's values are in the file: the same name (pwlu), or the torchvision key and layout.
  let keyOf: (t: Target) => { key: string; layout: TorchLayout } | null = (t) => ({ key: t.name, layout: 'same' });
  if (format === 'torchvision') {
    const { family, keys } = torchvisionKeys(targets);
    if (!family) {
      throw new UserError(
        `${source}: a torchvision state_dict, but the model's layers follow none of the torchvision architectures pwlu maps (ResNet, MobileNet-V2, MobileNet-V3, EfficientNet)`,
      );
    }
    keyOf = (t) => keys.get(t.name) ?? null;
  }

  const writes: { target: Target; values: Float32Array }[] = [];
  const used = new Set<string>();
  const mismatched: string[] = [];
  const missing: string[] = [];
  const kept: string[] = [];
  for (const t of targets) {
    if (t.counter) {
      used.add(t.name); // a checkpoint's dropout counter: consumed, not loaded, not reported
      continue;
    }
    if (exclude.some((re) => re.test(t.name))) {
      kept.push(t.name);
      continue;
    }
    const where = keyOf(t);
    const src = where ? byName.get(where.key) : undefined;
    if (!where || !src) {
      if (t.activation) kept.push(t.name);
      else missing.push(where ? t.name : `${t.name} (no torchvision counterpart)`);
      continue;
    }
    used.add(src.name);
    const shape = pwluShape(where.layout, src.shape);
    if (!shape || shape.join('x') !== t.shape.join('x')) {
      const found = where.layout === 'same' || !shape ? `[${src.shape}]` : `[${shape}] (${src.name} [${src.shape}])`;
      mismatched.push(`${t.name}: model [${t.shape}], file ${found}`);
      continue;
    }
    writes.push({ target: t, values: toPwluLayout(where.layout, src.shape, src.values) });
  }
  const skipped = tensors.filter((t) => !used.has(t.name)).map((t) => t.name);

  if (mismatched.length > 0) {
    throw new UserError(
      `${source}: ${mismatched.length} weight(s) have another shape in the file than in the model (another architecture, width or class count?): ${firstFew(mismatched)}`,
    );
  }
  if (writes.length === 0 || writes.length * 4 < tensors.length) {
    throw new UserError(
      `${source}: only ${writes.length} of its ${tensors.length} tensors match a weight of the model (is it a ${format === 'pwlu' ? 'checkpoint' : 'state_dict'} of another architecture?)` +
        (skipped.length > 0 ? `; unmatched: ${firstFew(skipped)}` : ''),
    );
  }
  if (missing.length > 0) {
    throw new UserError(
      `${source}: the file has no tensor for ${missing.length} weight(s) of the model: ${firstFew(missing)} (only activation parameters and excluded weights may keep their initial value)`,
    );
  }

  tf.tidy(() => {
    for (const w of writes) w.target.variable.write(tf.tensor(w.values, w.target.shape));
  });
  const what = format === 'pwlu' ? 'pwlu checkpoint' : 'torchvision state_dict';
  o.log?.info(
    `model initialised from ${what} ${source}: ${writes.length} weights loaded` +
      (skipped.length > 0 ? `; ${skipped.length} file tensors unused: ${firstFew(skipped)}` : '') +
      (kept.length > 0 ? `; ${kept.length} model weights keep their initial value: ${firstFew(kept)}` : ''),
  );
  return { file: source, format, loaded: writes.length, skippedSource: skipped, missingTarget: kept };
}
