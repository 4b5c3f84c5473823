/**
 * Model initialisation from a file (src/train/init.ts): a pwlu checkpoint or run directory by weight name, activation
 * parameters included; the rules on shapes, missing and unused tensors; and a torchvision ResNet-18 state_dict saved
 * by Debian's python3-torch, read by the native addon, giving PyTorch's logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadStateDict } from '../../src/backends/torch/addon.js';
import { registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { referenceActivation } from '../../src/models/sites.js';
import type { ModelBuildOptions } from '../../src/models/types.js';
import { RUN_FILES } from '../../src/run/files.js';
import { writeTrainCheckpoint, type CheckpointMeta } from '../../src/train/checkpoint-contents.js';
import { initFromFile } from '../../src/train/init.js';
import { modelTensors } from '../../src/train/state.js';
import { UserError } from '../../src/util/errors.js';
import { optionalPart } from '../helpers/optional-parts.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { buildArch, factory } from '../helpers/zoo.js';

const tmp = makeTmpDir('pwlu-init-');
afterAll(() => removeDir(tmp));

const META = { epoch: 1, stepInEpoch: 0, globalStep: 1, optimizer: { step: 1 } } as unknown as CheckpointMeta;

/** A micro ResNet-18 (width 1/16: 4..32 channels) on 16x16 images. */
function micro(o: Partial<ModelBuildOptions> = {}): tfl.LayersModel {
  return buildArch('resnet18', { width: 0.0625, inputShape: [16, 16, 3], numClasses: 5, ...o });
}

/** A model's weights as checkpoint file `name` in the temporary folder (what the trainer writes). */
function save(model: tfl.LayersModel, name: string): string {
  const file = join(tmp, name);
  writeTrainCheckpoint(file, { meta: META, weights: modelTensors(model), slots: [] });
  return file;
}

/** Every weight's values by name. */
function values(model: tfl.LayersModel): Map<string, Float32Array> {
  return new Map(modelTensors(model).map((t) => [t.name, t.values]));
}

/** The error a call throws (fails the test when it does not throw). */
function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('initFromFile: pwlu checkpoints', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('a checkpoint into a model of another seed: every weight (PWLU parameters, BN statistics) equal to the source', () => {
    const a = micro({ seed: 1, activation: factory('pwlu') });
    const file = save(a, 'a.ckpt');
    const b = micro({ seed: 2, activation: factory('pwlu') });
    const before = values(b);
    const report = initFromFile(b, file);
    const want = values(a);
    const got = values(b);
    expect(got.size).toBe(want.size);
    // the seeds differ, so every weight that is random at initialisation changed: the stem conv at least
    expect(before.get('stem.conv/kernel')).not.toEqual(want.get('stem.conv/kernel'));
    const pwluNames = [...want.keys()].filter((n) => n.startsWith('stem.act/'));
    expect(pwluNames.length).toBeGreaterThan(0);
    for (const [name, v] of want) expect(got.get(name), name).toEqual(v);
    expect(report).toEqual({ file, format: 'pwlu', loaded: want.size, skippedSource: [], missingTarget: [] });
  });

  it('a run directory: checkpoint-best when present, else checkpoint-last', () => {
    const dir = join(tmp, 'run');
    mkdirSync(dir);
    const best = micro({ seed: 3 });
    const last = micro({ seed: 4 });
    save(best, join('run', RUN_FILES.best));
    save(last, join('run', RUN_FILES.last));
    const m = micro({ seed: 5 });
    expect(initFromFile(m, dir).file).toBe(join(dir, RUN_FILES.best));
    expect(values(m).get('fc/kernel')).toEqual(values(best).get('fc/kernel'));
    const onlyLast = join(tmp, 'run-last');
    mkdirSync(onlyLast);
    save(last, join('run-last', RUN_FILES.last));
    expect(initFromFile(m, onlyLast).file).toBe(join(onlyLast, RUN_FILES.last));
    expect(values(m).get('fc/kernel')).toEqual(values(last).get('fc/kernel'));
    const empty = join(tmp, 'run-empty');
    mkdirSync(empty);
    expect(errorOf(() => initFromFile(m, empty)).message).toContain(`${empty}: a directory without ${RUN_FILES.best} or ${RUN_FILES.last}`);
  });

  it('a ReLU checkpoint into a PWLU model: the PWLU parameters keep their initial values, everything else loads', () => {
    const relu = micro({ seed: 1 });
    const file = save(relu, 'relu.ckpt');
    const m = micro({ seed: 2, activation: factory('pwlu') });
    const before = values(m);
    const logged: string[] = [];
    const report = initFromFile(m, file, { log: { info: (s) => logged.push(s) } });
    const after = values(m);
    const src = values(relu);
    const act = [...after.keys()].filter((n) => /\.act\d?\//.test(n));
    expect(act.length).toBeGreaterThan(0);
    for (const n of act) expect(after.get(n), n).toEqual(before.get(n));
    for (const [n, v] of src) expect(after.get(n), n).toEqual(v);
    expect(report.loaded).toBe(src.size);
    expect(report.missingTarget.sort()).toEqual(act.sort());
    expect(report.skippedSource).toEqual([]);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(`${src.size} weights loaded`);
    expect(logged[0]).toContain(`${act.length} model weights keep their initial value`);
  });

  it('a PWLU checkpoint into a ReLU model: its activation parameters are reported as unused', () => {
    const p = micro({ seed: 1, activation: factory('pwlu') });
    const file = save(p, 'pwlu.ckpt');
    const m = micro({ seed: 2 });
    const report = initFromFile(m, file);
    const act = [...values(p).keys()].filter((n) => /\.act\d?\//.test(n));
    expect(report.skippedSource.sort()).toEqual(act.sort());
    expect(report.loaded).toBe(values(m).size);
  });

  it('another shape under the same name is an error listing the first few (name, model, file) and writes nothing', () => {
    const file = save(micro({ width: 0.0625 }), 'narrow.ckpt');
    const m = micro({ width: 0.125, seed: 7 });
    const before = values(m);
    const e = errorOf(() => initFromFile(m, file));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain(file);
    // width 1/16: 4 stem channels; width 1/8: 8 (small stem: 3x3 conv on RGB)
    expect(e.message).toContain('stem.conv/kernel: model [3,3,3,8], file [3,3,3,4]');
    expect(e.message).toContain('stem.bn/gamma: model [8], file [4]');
    expect(e.message).toMatch(/and \d+ more/);
    for (const [n, v] of values(m)) expect(v, n).toEqual(before.get(n));
  });

  it('exclude: a classifier of another class count keeps its initial head; the file head is reported unused', () => {
    const file = save(micro({ numClasses: 5 }), 'c5.ckpt');
    const m = micro({ numClasses: 3, seed: 9 });
    expect(errorOf(() => initFromFile(m, file)).message).toContain('fc/kernel: model [32,3], file [32,5]');
    const head = values(m).get('fc/kernel');
    const report = initFromFile(m, file, { exclude: [/^fc\//] });
    expect(values(m).get('fc/kernel')).toEqual(head);
    expect(report.skippedSource).toEqual(['fc/kernel', 'fc/bias']);
    expect(report.missingTarget).toEqual(['fc/kernel', 'fc/bias']);
  });

  it("seeded dropout's call counter is a training position: not loaded (a new run restarts it), not reported", () => {
    const o = { width: 0.1, inputShape: [16, 16, 3] as [number, number, number], numClasses: 5 };
    const tensors = modelTensors(buildArch('mobilenet_v2', { ...o, seed: 1 }));
    const step = tensors.find((t) => t.name === 'classifier.dropout/step');
    expect(step).toBeDefined();
    step!.values = Float32Array.of(41);
    const file = join(tmp, 'mbv2.ckpt');
    writeTrainCheckpoint(file, { meta: META, weights: tensors, slots: [] });
    const m = buildArch('mobilenet_v2', { ...o, seed: 2 });
    const report = initFromFile(m, file);
    expect(values(m).get('classifier.dropout/step')).toEqual(Float32Array.of(0));
    expect(report.loaded).toBe(tensors.length - 1);
    expect(report.skippedSource).toEqual([]);
    expect(report.missingTarget).toEqual([]);
  });

  it('model weights the file lacks are an error unless excluded; a file of another architecture matches nothing', () => {
    const small = buildArch('resnet18', { width: 0.0625, inputShape: [16, 16, 3], numClasses: 5 });
    const t = modelTensors(small).filter((x) => !x.name.startsWith('layer4.'));
    const partial = join(tmp, 'partial.ckpt');
    writeTrainCheckpoint(partial, { meta: META, weights: t, slots: [] });
    const m = micro();
    const e = errorOf(() => initFromFile(m, partial));
    expect(e.message).toContain(`${partial}: the file has no tensor for `);
    expect(e.message).toContain('layer4.0.conv1/kernel');
    expect(initFromFile(m, partial, { exclude: [/^layer4\./] }).loaded).toBe(t.length);

    const other = save(buildArch('mobilenet_v2', { width: 0.1, inputShape: [16, 16, 3], numClasses: 5 }), 'other.ckpt');
    expect(errorOf(() => initFromFile(m, other)).message).toMatch(/only 0 of its \d+ tensors match a weight of the model/);
  });

  it('a missing path and a file that is neither a pwlu checkpoint nor a torch.save file are errors naming them', () => {
    const m = micro();
    const nowhere = join(tmp, 'nowhere.pth');
    expect(errorOf(() => initFromFile(m, nowhere)).message).toContain(`${nowhere}: no such file`);
    const junk = join(tmp, 'junk.pth');
    writeFileSync(junk, 'not a checkpoint at all\n');
    const e = errorOf(() => initFromFile(m, junk));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message.startsWith(junk)).toBe(true);
    // with the addon: its reader's verdict; without: that reading a torch.save file needs it
    expect(e.message).toMatch(torchAvailability().available ? /not a torch\.save file/ : /needs pwlu's native torch addon/);
  });
});

// ---- torchvision: a state_dict written by Debian's python3-torch --------------------------------------------------
const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);
const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
const hasTorchvision = optionalPart(
  'torchvision',
  probe.status === 0,
  `/usr/bin/python3 cannot import torch and torchvision (apt-get install python3-torch python3-torchvision): ${(probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? '').trim()}`,
);

interface Reference {
  shape: [number, number, number, number];
  input: number[];
  logits: number[];
  logits32: number[];
}

describe.skipIf(!avail.available || !hasTorchvision)('initFromFile: a torchvision state_dict (torch.save by python3-torch)', () => {
  const dir = join(tmp, 'tv');
  let ref: Reference;
  const pth = join(dir, 'resnet18.pth');

  beforeAll(async () => {
    mkdirSync(dir);
    const r = spawnSync('/usr/bin/python3', [fileURLToPath(new URL('../fixtures/torchvision-resnet18.py', import.meta.url)), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`torchvision-resnet18.py failed: ${r.stderr}`);
    ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
    await registerTorchBackend({ threads: 2, device: 'cpu' });
    await tf.setBackend('torch');
  }, 60_000);
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  /** pwlu's ResNet-18 as torchvision builds it (ReLU sites, 'imagenet' stem, 64x64, 10 classes). */
  const resnet18 = (numClasses = 10): tfl.LayersModel =>
    buildArch('resnet18', { inputShape: [64, 64, 3], numClasses, stem: 'imagenet', activation: referenceActivation, seed: 0 });

  /** max |logit - PyTorch's float64 logit| and max |PyTorch logit| of a model on the reference image. */
  const compare = (m: tfl.LayersModel): { diff: number; scale: number } => {
    const y = tf.tidy(() => (m.apply(tf.tensor(ref.input, ref.shape), { training: false }) as tf.Tensor).dataSync());
    expect(y.length).toBe(ref.logits.length);
    let diff = 0;
    let scale = 0;
    ref.logits.forEach((l, i) => {
      diff = Math.max(diff, Math.abs(y[i]! - l));
      scale = Math.max(scale, Math.abs(l));
    });
    return { diff, scale };
  };

  it('loads into pwlu resnet18 and gives PyTorch logits within 1e-4 (absolute); without the BN statistics they differ', () => {
    const m = resnet18();
    const logged: string[] = [];
    const report = initFromFile(m, pth, { log: { info: (s) => logged.push(s) } });
    // 20 convs + 20 BNs x 4 + fc x 2 = 102 tensors; torchvision's 20 num_batches_tracked are not tensors of the model
    expect(report).toEqual({ file: pth, format: 'torchvision', loaded: 102, skippedSource: [], missingTarget: [] });
    const { diff, scale } = compare(m);
    console.log(`torchvision resnet18 -> pwlu: max |logit diff| ${diff.toExponential(2)} (max |logit| ${scale.toPrecision(3)})`);
    expect(diff).toBeLessThan(1e-4);
    // the logits are not trivially small, and the running statistics matter: left at their defaults, far off
    expect(scale).toBeGreaterThan(0.5);
    const noStats = resnet18();
    initFromFile(noStats, pth, { exclude: [/\/moving_(mean|variance)$/] });
    expect(compare(noStats).diff).toBeGreaterThan(1e-2);
  });

  it('a classifier of another class count: the fc shapes are an error in pwlu and torchvision terms; excluded, the rest loads', () => {
    const m = resnet18(7);
    const e = errorOf(() => initFromFile(m, pth));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain(pth);
    expect(e.message).toContain('fc/kernel: model [512,7], file [512,10] (fc.weight [10,512])');
    expect(e.message).toContain('fc/bias: model [7], file [10]');
    const report = initFromFile(m, pth, { exclude: [/^fc\//] });
    expect(report.loaded).toBe(100);
    expect(report.skippedSource).toEqual(['fc.weight', 'fc.bias']);
  });

  it('the reader: dtypes and strided tensors converted to contiguous float32, zip and legacy formats; not a dict of tensors is an error', () => {
    for (const name of ['small.pth', 'small-legacy.pth']) {
      const got = loadStateDict(join(dir, name)).map((t) => ({ ...t, data: Array.from(t.data) }));
      expect(got, name).toEqual([
        { name: 't', shape: [3, 2], dtype: 'float64', data: [0, 3, 1, 4, 2, 5] },
        { name: 'slice', shape: [3], dtype: 'float32', data: [2, 3, 4] },
        { name: 'half', shape: [2], dtype: 'float16', data: [1.5, -2] },
        { name: 'long', shape: [2], dtype: 'int64', data: [3, 4] },
        { name: 'bool', shape: [2], dtype: 'bool', data: [1, 0] },
        { name: 'empty', shape: [0, 3], dtype: 'float32', data: [] },
      ]);
    }
    expect(() => loadStateDict(join(dir, 'list.pth'))).toThrow(`${join(dir, 'list.pth')}: holds a list, not a dict of tensors`);
    expect(() => loadStateDict(join(dir, 'mixed.pth'))).toThrow(`${join(dir, 'mixed.pth')}: entry 'epoch' is a float, not a tensor`);
  });

  it('a torchvision file into a model with no torchvision counterpart is an error naming the file', () => {
    const m = buildArch('resnet20', { width: 0.25, inputShape: [16, 16, 3], numClasses: 10 });
    const e = errorOf(() => initFromFile(m, pth));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message.startsWith(pth)).toBe(true);
  });
});
