#!/usr/bin/env node
// ResNet-20 (CIFAR, 1x1 projection shortcuts) throughput on the native 'torch' backend, built from
// tfjs-core ops with the fused batch-norm kernels; same layout as shared/bench/pytorch_reference.py.
//
//   node scripts/torch-speed.mjs [--batch 64] [--size 32] [--warmup 3] [--steps 10] [--threads N]
//                                [--profile] [--long 300] [--reference] [--backend torch|cpu]
// Needs `npm run build` (dist/) and the native addon. Prints one JSON line at the end.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients (tfjs-core's node bundle has none)

import { makeResNet, trainStep, randn, rng } from './torch-models.mjs';
import { shapeKey, wrapKernels } from './kernel-hooks.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const flag = (name) => argv.includes(`--${name}`);
const batch = Number(opt('batch', 64));
const size = Number(opt('size', 32));
const warmup = Number(opt('warmup', 3));
const steps = Number(opt('steps', 10));
const longSteps = Number(opt('long', 0));
const backend = opt('backend', 'torch');
const classes = 10;

let torch;
let torchInfo = {};
if (backend === 'torch') {
  torch = await import('../dist/backends/torch/index.js');
  torchInfo = await torch.registerTorchBackend({ threads: opt('threads') ? Number(opt('threads')) : undefined, device: 'cpu' });
}
await tf.setBackend(backend);
tf.enableProdMode();

const rand = rng(3);
const x = tf.tensor(randn([batch, size, size, 3], rand), [batch, size, size, 3]);
const labels = tf.tensor1d(Array.from({ length: batch }, () => Math.floor(rand() * classes)), 'int32');
// eval BN through tf.batchNorm (the FusedBatchNorm kernel: one native pass, like PyTorch's eval BN)
const model = makeResNet({ blocks: 3, widths: [16, 32, 64], classes, torchPads: true, useBatchNormKernel: true });
const optimizer = tf.train.momentum(0.01, 0.9);
const params = model.vars.reduce((n, v) => n + v.size, 0);

const now = () => performance.now();
const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function train() {
  const loss = trainStep(model, optimizer, x, labels, classes, 0);
  const v = loss.dataSync()[0];
  loss.dispose();
  return v;
}
function infer() {
  tf.tidy(() => tf.sum(model.forward(x, false)).dataSync());
}
/** Median wall seconds per call, and the least process CPU seconds (all threads) per call. */
function timed(fn, w, n) {
  for (let i = 0; i < w; i++) fn();
  const t = [];
  let cpu = Infinity;
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = now();
    fn();
    t.push(now() - t0);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return [median(t) / 1000, cpu];
}

// Optional per-kernel profile of one training step: wall time inside each kernelFunc.
let profile;
if (flag('profile') || flag('profile-shapes')) {
  const acc = new Map();
  wrapKernels(backend, (name, a, run) => {
    const c0 = torch ? a.backend.addon.relayouts() : 0;
    const t0 = now();
    const r = run();
    const key = flag('profile-shapes') ? shapeKey(name, a.inputs) : name;
    const e = acc.get(key) ?? { calls: 0, ms: 0, relayouts: 0 };
    e.calls++;
    e.ms += now() - t0;
    if (torch) e.relayouts += a.backend.addon.relayouts() - c0;
    acc.set(key, e);
    return r;
  });
  const report = (label, fn) => {
    for (let i = 0; i < warmup; i++) fn();
    acc.clear();
    const relayouts0 = torch ? tf.backend().addon.relayouts() : 0;
    const t0 = now();
    const n = 5;
    for (let i = 0; i < n; i++) fn();
    const total = (now() - t0) / n;
    const rows = [...acc.entries()].map(([k, e]) => ({ kernel: k, calls: e.calls / n, ms: e.ms / n, relayouts: e.relayouts / n })).sort((p, q) => q.ms - p.ms);
    const inKernels = rows.reduce((s, r) => s + r.ms, 0);
    const calls = rows.reduce((s, r) => s + r.calls, 0);
    console.error(`${label} profile: ${total.toFixed(1)} ms total, ${inKernels.toFixed(1)} ms in ${calls} kernel calls, ${(total - inKernels).toFixed(1)} ms outside kernels`);
    if (torch) console.error(`  results copied to row-major layout per step: ${(tf.backend().addon.relayouts() - relayouts0) / n}`);
    for (const r of rows) {
      const copies = r.relayouts ? `  (${r.relayouts} results copied to row-major)` : '';
      console.error(`  ${r.kernel.padEnd(flag('profile-shapes') ? 72 : 36)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(2).padStart(8)} ms${copies}`);
    }
    return { stepMs: total, kernelMs: inKernels, kernelCalls: calls };
  };
  const trainProfile = report('train step', train);
  const inferProfile = report('inference', infer);
  profile = { train: trainProfile, infer: inferProfile };
}

const [trainS, trainCpu] = timed(train, warmup, steps);
const [inferS, inferCpu] = timed(infer, warmup, steps);
const result = {
  framework: `tfjs-${backend}`,
  libtorch: torchInfo.version,
  threads: torchInfo.threads,
  arch: 'resnet20',
  size,
  batch,
  params,
  train_step_s: +trainS.toFixed(5),
  train_img_per_s: +(batch / trainS).toFixed(2),
  infer_step_s: +inferS.toFixed(5),
  infer_img_per_s: +(batch / inferS).toFixed(2),
  train_cpu_s: +trainCpu.toFixed(5),
  infer_cpu_s: +inferCpu.toFixed(5),
};
if (profile) result.profile = profile;

if (longSteps > 0) {
  const rss = () => Math.round(process.memoryUsage().rss / 2 ** 20);
  const marks = [];
  const t0 = now();
  for (let i = 1; i <= longSteps; i++) {
    train();
    if (i === 1 || i % Math.max(1, Math.floor(longSteps / 6)) === 0 || i === longSteps) {
      const mark = { step: i, tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds(), rssMiB: rss(), heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20) };
      if (torch) {
        const a = tf.engine().backend.addon;
        Object.assign(mark, { nativeTensors: a.live(), allocatorCachedMiB: Math.round(a.allocatorStats().cachedBytes / 2 ** 20) });
      }
      marks.push(mark);
    }
  }
  result.long = { steps: longSteps, seconds: +((now() - t0) / 1000).toFixed(1), marks };
  if (torch) result.long.fallbacks = torch.fallbackKernelsUsed();
}

if (flag('reference')) {
  const script = new URL('../../shared/bench/pytorch_reference.py', import.meta.url).pathname;
  const py = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(py, [script, '--arch', 'resnet20', '--size', String(size), '--batch', String(batch), '--threads', String(torchInfo.threads ?? os.availableParallelism())], { encoding: 'utf8' });
  try {
    const ref = JSON.parse(r.stdout.trim().split('\n').pop());
    result.pytorch = { train_img_per_s: ref.train_img_per_s, infer_img_per_s: ref.infer_img_per_s, threads: ref.threads };
    result.ratio = { train: +(result.train_img_per_s / ref.train_img_per_s).toFixed(3), infer: +(result.infer_img_per_s / ref.infer_img_per_s).toFixed(3) };
  } catch {
    result.pytorch = { error: (r.stderr || r.stdout || 'no output').trim().split('\n').pop() };
  }
}
console.log(JSON.stringify(result));
