#!/usr/bin/env node
// Where a pwlu model's step time goes: wall time inside each tfjs kernel versus outside them (the tfjs
// engine, tfjs-layers, the addon's N-API calls), for one training step and one inference pass.
//
//   node scripts/profile-model.mjs [--arch mobilenet_v2] [--stem imagenet] [--size 32] [--batch 64]
//        [--activation relu] [--backend torch] [--steps 5] [--shapes]
// Needs `npm run build`. Prints to stderr; for throughput figures use `pwlu speed`.
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';

import { ConfigSchema } from '../dist/config/schema.js';
import { selectBackend } from '../dist/backends/select.js';
import { Optimizer } from '../dist/train/optimizer.js';
import { buildModel, makeTrainStep, paramGroups } from '../dist/train/trainer.js';
import { predict } from '../dist/models/infer.js';
import { shapeKey, wrapKernels } from './kernel-hooks.mjs';

const str = { type: 'string' };
const { values: a } = parseArgs({ options: { arch: str, stem: str, size: str, batch: str, activation: str, backend: str, steps: str, shapes: { type: 'boolean' } } });
const size = Number(a.size ?? 32);
const batch = Number(a.batch ?? 64);
const n = Number(a.steps ?? 5);
const config = ConfigSchema.parse({
  backend: a.backend ?? 'torch',
  model: { arch: a.arch ?? 'mobilenet_v2', stem: a.stem ?? 'imagenet' },
  activation: { name: a.activation ?? 'relu' },
  train: { batch, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
});
const backend = await selectBackend(config.backend, { threads: 0, device: 'cpu' });
const model = buildModel(config, { height: size, width: size, channels: 3, numClasses: 10 });
const groups = paramGroups(model, config.train.no_decay);
const optimizer = new Optimizer(config.train, groups);
const step = makeTrainStep(model, optimizer, groups.map((p) => p.variable), [size, size, 3], 0);
const x = new Float32Array(batch * size * size * 3).map(() => Math.random() * 2 - 1);
const y = new Int32Array(batch).map(() => Math.floor(Math.random() * 10));
const xt = tf.tensor4d(x, [batch, size, size, 3]);

const acc = new Map();
wrapKernels(backend.name, (name, args, run) => {
  const t0 = performance.now();
  const r = run();
  const key = a.shapes ? shapeKey(name, args.inputs) : name;
  const e = acc.get(key) ?? { calls: 0, ms: 0 };
  e.calls++;
  e.ms += performance.now() - t0;
  acc.set(key, e);
  return r;
});
function report(label, fn) {
  for (let i = 0; i < 3; i++) fn();
  acc.clear();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  const total = (performance.now() - t0) / n;
  const rows = [...acc.entries()].map(([k, e]) => ({ k, calls: e.calls / n, ms: e.ms / n })).sort((p, q) => q.ms - p.ms);
  const inK = rows.reduce((s, r) => s + r.ms, 0);
  const calls = rows.reduce((s, r) => s + r.calls, 0);
  console.error(`${label}: ${total.toFixed(1)} ms, ${inK.toFixed(1)} ms in ${calls} kernel calls, ${(total - inK).toFixed(1)} ms outside (${(((total - inK) / calls) * 1000).toFixed(0)} us per call)`);
  for (const r of rows.slice(0, 40)) console.error(`  ${r.k.padEnd(a.shapes ? 80 : 36)} ${String(r.calls).padStart(5)} ${r.ms.toFixed(2).padStart(8)} ms`);
}
report('train step', () => step(x, y, batch, 0.01));
report('inference', () => {
  const s = tf.tidy(() => tf.sum(predict(model, xt))); // the folded inference plan, as pwlu eval/speed
  s.dataSync();
  s.dispose();
});
