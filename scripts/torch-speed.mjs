#!/usr/bin/env node
// Throughput of a pwlu model on the native 'torch' backend, with an optional per-kernel profile, long-run
// memory marks and PyTorch reference. Needs `npm run build` and the native addon; `--help` lists the options.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

import * as tf from '@tensorflow/tfjs-core';

import { parseScriptArgs } from './lib/args.mjs';
import { kernelProfiler } from './lib/kernel-hooks.mjs';
import { importDist, median, trainableModel } from './lib/pwlu.mjs';

const { BACKEND_ORDER, selectBackend } = await importDist('backends/select.js');
const o = parseScriptArgs({
  description: `Training-step and inference throughput of one of pwlu's models (default ResNet-20, 1x1 projection
shortcuts, as shared/bench/pytorch_reference.py), built and trained as \`pwlu speed\` does, plus what that command
does not give: process CPU time, a per-kernel profile, memory marks over a long run, the PyTorch reference.
Prints one JSON line at the end (profiles to stderr).`,
  options: {
    arch: { type: 'string', default: 'resnet20', help: 'registered architecture' },
    activation: { type: 'string', default: 'relu', help: 'registered activation' },
    batch: { type: 'number', default: 64, help: 'images per step' },
    size: { type: 'number', default: 32, help: 'input side in pixels' },
    warmup: { type: 'number', default: 3, help: 'untimed steps first' },
    steps: { type: 'number', default: 10, help: 'timed steps (median)' },
    threads: { type: 'number', help: "libtorch intra-op threads (default: libtorch's)" },
    backend: { type: 'string', default: 'torch', choices: BACKEND_ORDER, help: 'tfjs backend' },
    profile: { type: 'boolean', help: 'print where a training step and an inference pass spend their time' },
    'profile-shapes': { type: 'boolean', help: 'as --profile, one row per kernel and input shapes' },
    long: { type: 'number', default: 0, help: 'then train this many steps, recording tensor counts and memory' },
    reference: { type: 'boolean', help: 'also run ../shared/bench/pytorch_reference.py and give the ratio' },
  },
});
const classes = 10;

const backend = await selectBackend(o.backend, { threads: o.threads ?? 0, device: 'cpu' });
const torch = backend.name === 'torch' ? await importDist('backends/torch/index.js') : null;
const m = await trainableModel(
  {
    model: { arch: o.arch },
    activation: { name: o.activation },
    train: { batch: o.batch, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
  },
  { size: o.size, batch: o.batch, classes, seed: 3 },
);

/** Median wall seconds per call, and the least process CPU seconds (all threads) per call. */
function timed(fn, w, n) {
  for (let i = 0; i < w; i++) fn();
  const t = [];
  let cpu = Infinity;
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return [median(t) / 1000, cpu];
}

let profile;
if (o.profile || o['profile-shapes']) {
  const report = kernelProfiler(backend.name, { shapes: o['profile-shapes'], warmup: o.warmup });
  profile = { train: report('train step', m.step), infer: report('inference', m.infer) };
}

const [trainS, trainCpu] = timed(m.step, o.warmup, o.steps);
const [inferS, inferCpu] = timed(m.infer, o.warmup, o.steps);
const result = {
  framework: `tfjs-${backend.name}`,
  libtorch: backend.detail.libtorch,
  threads: backend.detail.threads,
  arch: o.arch,
  act: o.activation,
  size: o.size,
  batch: o.batch,
  params: m.params,
  train_step_s: +trainS.toFixed(5),
  train_img_per_s: +(o.batch / trainS).toFixed(2),
  infer_step_s: +inferS.toFixed(5),
  infer_img_per_s: +(o.batch / inferS).toFixed(2),
  train_cpu_s: +trainCpu.toFixed(5),
  infer_cpu_s: +inferCpu.toFixed(5),
};
if (profile) result.profile = profile;

if (o.long > 0) {
  const mib = (bytes) => Math.round(bytes / 2 ** 20);
  const marks = [];
  const t0 = performance.now();
  for (let i = 1; i <= o.long; i++) {
    m.step();
    if (i === 1 || i % Math.max(1, Math.floor(o.long / 6)) === 0 || i === o.long) {
      const mark = {
        step: i,
        tensors: tf.memory().numTensors,
        dataIds: tf.engine().backend.numDataIds(),
        rssMiB: mib(process.memoryUsage().rss),
        heapMiB: mib(process.memoryUsage().heapUsed),
      };
      if (torch) {
        const a = tf.engine().backend.addon;
        Object.assign(mark, { nativeTensors: a.live(), allocatorCachedMiB: mib(a.allocatorStats().cachedBytes) });
      }
      marks.push(mark);
    }
  }
  result.long = { steps: o.long, seconds: +((performance.now() - t0) / 1000).toFixed(1), marks };
  if (torch) result.long.fallbacks = torch.fallbackKernelsUsed();
}
m.dispose();

if (o.reference) {
  const script = new URL('../../shared/bench/pytorch_reference.py', import.meta.url).pathname;
  const py = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(
    py,
    [script, '--arch', o.arch, '--size', String(o.size), '--batch', String(o.batch), '--threads', String(backend.detail.threads ?? os.availableParallelism())],
    { encoding: 'utf8' },
  );
  try {
    const ref = JSON.parse(r.stdout.trim().split('\n').pop());
    result.pytorch = { train_img_per_s: ref.train_img_per_s, infer_img_per_s: ref.infer_img_per_s, threads: ref.threads };
    result.ratio = { train: +(result.train_img_per_s / ref.train_img_per_s).toFixed(3), infer: +(result.infer_img_per_s / ref.infer_img_per_s).toFixed(3) };
  } catch {
    result.pytorch = { error: (r.stderr || r.stdout || 'no output').trim().split('\n').pop() };
  }
}
console.log(JSON.stringify(result));
