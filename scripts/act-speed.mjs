#!/usr/bin/env node
// Per-activation training-step and inference time on a ResNet-20 (CIFAR shapes, 32x32x3, 10 classes)
// on one backend, relative to ReLU: what each learnable activation costs (the paper: PWLU trains
// about 20% slower than ReLU and infers at about the same speed). The lead's final numbers come
// from `pwlu speed --activation X`; this script loops over activations in one process.
// Usage: npm run build && node scripts/act-speed.mjs [--backend auto|cpu|wasm|tensorflow|torch]
//        [--batch 32] [--size 32] [--width 1] [--steps 5] [--warmup 2] [--acts relu,pwlu,...]
//        [--granularity layer|channel] [--dist DIR] [--json]
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (its Node bundle has none)

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const dist = new URL(`${opt('dist', '../dist')}/`, import.meta.url);
const BATCH = Number(opt('batch', 32));
const SIZE = Number(opt('size', 32));
const WIDTH = Number(opt('width', 1));
const STEPS = Number(opt('steps', 5));
const WARMUP = Number(opt('warmup', 2));
const BACKEND = opt('backend', 'auto');
const GRANULARITY = opt('granularity', 'layer');
const JSON_OUT = args.includes('--json');

async function load(path) {
  try {
    return await import(new URL(path, dist).href);
  } catch (e) {
    console.error(`cannot load ${new URL(path, dist).pathname} (run \`npm run build\` first): ${e.message}`);
    process.exit(1);
  }
}
const { ConfigSchema } = await load('config/schema.js');
const { selectBackend } = await load('backends/select.js');
const { activationNames } = await load('activations/registry.js');
const { Optimizer } = await load('train/optimizer.js');
const { buildModel, makeTrainStep, paramGroups } = await load('train/trainer.js');
const { activationParamCount } = await load('train/state.js');

const acts = (opt('acts', '') || activationNames().join(',')).split(',').filter(Boolean);
const backend = await selectBackend(BACKEND, { threads: 0, device: 'auto' });
tf.enableProdMode();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const timed = (fn) => {
  for (let i = 0; i < WARMUP; i++) fn();
  const t = [];
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
};

const shape = [SIZE, SIZE, 3];
const x = new Float32Array(BATCH * SIZE * SIZE * 3).map((_, i) => Math.sin(i * 0.37));
const y = new Int32Array(BATCH).map((_, i) => i % 10);
const rows = [];
// The first model on a backend pays one-off costs (kernel setup, JIT): run one untimed round first.
const order = ['relu', ...acts];
for (let k = 0; k < order.length; k++) {
  const name = order[k];
  const warmupOnly = k === 0;
  const config = ConfigSchema.parse({
    model: { arch: 'resnet20', width: WIDTH },
    activation: { name, pwlu: { granularity: GRANULARITY } },
    train: { batch: BATCH, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
  });
  const model = buildModel(config, { height: SIZE, width: SIZE, channels: 3, numClasses: 10 });
  const params = paramGroups(model, config.train.no_decay);
  const optimizer = new Optimizer(config.train, params);
  // PWLU outside the trainer is in phase II (all parameters learn): the cost the paper reports.
  const step = makeTrainStep(model, optimizer, params.map((p) => p.variable), shape, 0);
  const trainMs = timed(() => step(x, y, BATCH, 0.01));
  const xt = tf.tensor4d(x, [BATCH, ...shape]);
  const inferMs = timed(() => {
    const s = tf.tidy(() => tf.sum(model.apply(xt, { training: false })));
    s.dataSync();
    s.dispose();
  });
  xt.dispose();
  if (warmupOnly) {
    optimizer.dispose();
    model.dispose();
    continue;
  }
  rows.push({ activation: name, act_params: activationParamCount(model), train_ms: trainMs, train_img_s: (1000 * BATCH) / trainMs, infer_ms: inferMs });
  optimizer.dispose();
  model.dispose();
}
const base = rows.find((r) => r.activation === 'relu');
for (const r of rows) {
  r.train_vs_relu = base ? r.train_ms / base.train_ms : null;
  r.infer_vs_relu = base ? r.infer_ms / base.infer_ms : null;
}
if (JSON_OUT) {
  process.stdout.write(`${JSON.stringify({ backend: backend.name, batch: BATCH, size: SIZE, width: WIDTH, granularity: GRANULARITY, rows })}\n`);
} else {
  console.log(`backend ${backend.name}, ResNet-20 width ${WIDTH}, batch ${BATCH}, ${SIZE}x${SIZE}, median of ${STEPS} steps (${WARMUP} warm-up)`);
  console.log('activation   act params   train ms   img/s   x relu   infer ms   x relu');
  for (const r of rows) {
    const f = (v, d = 2) => (v === null ? 'n/a' : v.toFixed(d));
    console.log(
      `${r.activation.padEnd(12)} ${String(r.act_params).padStart(10)} ${f(r.train_ms, 1).padStart(10)} ${f(r.train_img_s, 1).padStart(7)} ${f(r.train_vs_relu).padStart(8)} ${f(r.infer_ms, 1).padStart(10)} ${f(r.infer_vs_relu).padStart(8)}`,
    );
  }
}
