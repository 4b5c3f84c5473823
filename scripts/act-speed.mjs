#!/usr/bin/env node
// Per-activation training-step and inference time on a ResNet-20 relative to ReLU. Needs `npm run build`;
// `--help` lists the options.
import { performance } from 'node:perf_hooks';

import { parseScriptArgs } from './lib/args.mjs';
import { importDist, median, trainableModel } from './lib/pwlu.mjs';

const [{ BACKEND_ORDER, selectBackend }, { activationNames }, { activationParamCount }] = await Promise.all(
  ['backends/select.js', 'activations/registry.js', 'models/census.js'].map(importDist),
);
const o = parseScriptArgs({
  description: `Per-activation training-step and inference time on a ResNet-20 (CIFAR shapes, 10 classes) on one backend,
relative to ReLU: what each learnable activation costs (the paper: PWLU trains about 20% slower than ReLU and infers at
about the same speed). The lead's final numbers come from \`pwlu speed --activation X\`; this loops over activations in
one process.`,
  options: {
    backend: { type: 'string', default: 'auto', choices: ['auto', ...BACKEND_ORDER], help: 'tfjs backend' },
    batch: { type: 'number', default: 32, help: 'images per step' },
    size: { type: 'number', default: 32, help: 'input side in pixels' },
    width: { type: 'number', default: 1, help: 'channel width multiplier' },
    steps: { type: 'number', default: 5, help: 'timed steps (median)' },
    warmup: { type: 'number', default: 2, help: 'untimed steps first' },
    acts: { type: 'list', help: 'activations (default: every registered one)' },
    granularity: { type: 'string', default: 'layer', choices: ['layer', 'channel'], help: 'PWLU granularity' },
    json: { type: 'boolean', help: 'print one JSON line' },
  },
});
const BATCH = o.batch;
const SIZE = o.size;
const WIDTH = o.width;
const GRANULARITY = o.granularity;
const acts = o.acts ?? activationNames();
const backend = await selectBackend(o.backend, { threads: 0, device: 'auto' });

const timed = (fn) => {
  for (let i = 0; i < o.warmup; i++) fn();
  const t = [];
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
};

const rows = [];
// The first model on a backend pays one-off costs (kernel setup, JIT): run one untimed round first.
const order = ['relu', ...acts];
for (let k = 0; k < order.length; k++) {
  const name = order[k];
  // PWLU outside the trainer is in phase II (all parameters learn): the cost the paper reports.
  const m = await trainableModel(
    {
      model: { arch: 'resnet20', width: WIDTH },
      activation: { name, pwlu: { granularity: GRANULARITY } },
      train: { batch: BATCH, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
    },
    { size: SIZE, batch: BATCH },
  );
  const trainMs = timed(m.step);
  const inferMs = timed(m.infer);
  if (k > 0)
    rows.push({ activation: name, act_params: activationParamCount(m.model), train_ms: trainMs, train_img_s: (1000 * BATCH) / trainMs, infer_ms: inferMs });
  m.dispose();
}
const base = rows.find((r) => r.activation === 'relu');
for (const r of rows) {
  r.train_vs_relu = base ? r.train_ms / base.train_ms : null;
  r.infer_vs_relu = base ? r.infer_ms / base.infer_ms : null;
}
if (o.json) {
  process.stdout.write(`${JSON.stringify({ backend: backend.name, batch: BATCH, size: SIZE, width: WIDTH, granularity: GRANULARITY, rows })}\n`);
} else {
  console.log(`backend ${backend.name}, ResNet-20 width ${WIDTH}, batch ${BATCH}, ${SIZE}x${SIZE}, median of ${o.steps} steps (${o.warmup} warm-up)`);
  console.log('activation   act params   train ms   img/s   x relu   infer ms   x relu');
  for (const r of rows) {
    const f = (v, d = 2) => (v === null ? 'n/a' : v.toFixed(d));
    console.log(
      `${r.activation.padEnd(12)} ${String(r.act_params).padStart(10)} ${f(r.train_ms, 1).padStart(10)} ${f(r.train_img_s, 1).padStart(7)} ${f(r.train_vs_relu).padStart(8)} ${f(r.infer_ms, 1).padStart(10)} ${f(r.infer_vs_relu).padStart(8)}`,
    );
  }
}
