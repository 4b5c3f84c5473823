#!/usr/bin/env node
// Where a pwlu model's step time goes, per tfjs kernel. Needs `npm run build`; `--help` lists the options.
import { parseScriptArgs } from './lib/args.mjs';
import { kernelProfiler } from './lib/kernel-hooks.mjs';
import { importDist, trainableModel } from './lib/pwlu.mjs';

const { BACKEND_ORDER, selectBackend } = await importDist('backends/select.js');
const a = parseScriptArgs({
  description: `Where a pwlu model's step time goes: wall time inside each tfjs kernel versus outside them (the tfjs
engine, tfjs-layers, the addon's N-API calls), for one training step and one inference pass (the folded plan).
Prints to stderr; for throughput figures use \`pwlu speed\`.`,
  options: {
    arch: { type: 'string', default: 'mobilenet_v2', help: 'registered architecture' },
    stem: { type: 'string', default: 'imagenet', choices: ['auto', 'imagenet', 'small'], help: 'model stem' },
    width: { type: 'number', default: 1, help: 'channel width multiplier' },
    size: { type: 'number', default: 32, help: 'input side in pixels' },
    channels: { type: 'number', default: 3, help: 'input channels (1: Fashion-MNIST)' },
    batch: { type: 'number', default: 64, help: 'images per step' },
    activation: { type: 'string', default: 'relu', help: 'registered activation' },
    backend: { type: 'string', default: 'torch', choices: BACKEND_ORDER, help: 'tfjs backend' },
    steps: { type: 'number', default: 5, help: 'profiled steps (after 3 warm-up steps)' },
    top: { type: 'number', default: 40, help: 'kernels listed per pass' },
    shapes: { type: 'boolean', help: 'one row per kernel and input shapes' },
  },
});
const backend = await selectBackend(a.backend, { threads: 0, device: 'cpu' });
const m = await trainableModel(
  {
    model: { arch: a.arch, stem: a.stem, width: a.width },
    activation: { name: a.activation },
    train: { batch: a.batch, lr: 0.01, weight_decay: 0, optimizer: { name: 'sgd', momentum: 0.9 } },
  },
  { size: a.size, batch: a.batch, channels: a.channels },
);
const report = kernelProfiler(backend.name, { shapes: a.shapes, n: a.steps, limit: a.top });
report('train step', m.step);
report('inference', m.infer);
m.dispose();
