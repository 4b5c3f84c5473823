#!/usr/bin/env node
// Kernel census: which tfjs kernels a pwlu training step (+ optimizer update + eval) uses, per model.
// Needs `npm run build`; `--help` lists the options.
import * as tf from '@tensorflow/tfjs-core';

import { parseScriptArgs } from './lib/args.mjs';
import { wrapKernels } from './lib/kernel-hooks.mjs';
import { importDist, trainableModel } from './lib/pwlu.mjs';

const [{ BACKEND_ORDER, selectBackend }, { topKCorrect }] = await Promise.all(['backends/select.js', 'train/metrics.js'].map(importDist));
const o = parseScriptArgs({
  description: `Kernel census: the tfjs kernels that two training steps and one eval of pwlu's models use (micro scale:
width --width, --size px inputs, batch --batch), per optimizer, and of a tfjs-layers model
(Conv2D/BN/DepthwiseConv2D/MaxPooling2D/ZeroPadding2D/GAP/Dense). On 'torch' it also lists the kernels that fell back
to the cpu backend.`,
  options: {
    backend: { type: 'string', default: 'cpu', choices: BACKEND_ORDER, help: 'tfjs backend' },
    models: {
      type: 'list',
      value: 'ARCH:ACT,...',
      default: ['resnet20:relu', 'mobilenet_v3_small:hardswish', 'efficientnet_b0:swish', 'resnet20:pwlu'],
      help: "registered architecture:activation pairs (the activation at the family's default sites)",
    },
    optimizers: { type: 'list', default: ['sgd', 'adam'], choices: ['sgd', 'adam'], help: 'optimizers' },
    width: { type: 'number', default: 0.25, help: 'channel width multiplier' },
    size: { type: 'number', default: 16, help: 'input side in pixels' },
    batch: { type: 'number', default: 4, help: 'images per step' },
    json: { type: 'boolean', help: 'print one JSON line' },
  },
});

const backend = await selectBackend(o.backend, { threads: 0, device: 'cpu' });
const torch = backend.name === 'torch' ? await importDist('backends/torch/index.js') : null;

const used = new Map(); // kernel name -> scenario names
let scenario = '';
wrapKernels(backend.name, (name, _args, run) => {
  if (!used.has(name)) used.set(name, new Set());
  used.get(name).add(scenario);
  return run();
});

for (const pair of o.models) {
  const [arch, activation = 'relu'] = pair.split(':');
  for (const optimizer of o.optimizers) {
    const m = await trainableModel(
      {
        model: { arch, width: o.width },
        activation: { name: activation, sites: 'default' },
        train: { batch: o.batch, lr: 0.01, label_smoothing: 0.1, optimizer: { name: optimizer } },
      },
      { size: o.size, batch: o.batch },
    );
    scenario = `${pair}/${optimizer}`;
    for (let i = 0; i < 2; i++) m.step();
    scenario = `${pair}/eval`;
    tf.tidy(() => Object.values(topKCorrect(m.logits(), m.yt, 5)).map((t) => t.dataSync()));
    m.dispose();
  }
}

// tfjs-layers' own layers and training loop (model.fit's trainOnBatch, evaluate).
{
  const tfl = await import('@tensorflow/tfjs-layers');
  scenario = 'layers/fit';
  const m = tfl.sequential();
  m.add(tfl.layers.zeroPadding2d({ padding: 1, inputShape: [o.size, o.size, 3] }));
  m.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 1, padding: 'valid', useBias: false }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu6' }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.randomNormal([o.batch, o.size, o.size, 3], 0, 1, 'float32', 7);
  const y = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: o.batch }, (_, i) => i % 10),
      'int32',
    ),
    10,
  );
  await m.trainOnBatch(x, y);
  scenario = 'layers/eval';
  tf.dispose(m.predict(x));
  tf.dispose(m.evaluate(x, y, { batchSize: o.batch }));
  tf.dispose([x, y]);
  m.dispose();
}

const names = [...used.keys()].sort();
const fallbacks = torch ? torch.fallbackKernelsUsed() : [];
if (o.json) {
  console.log(JSON.stringify({ backend: backend.name, kernels: names, fallbacks }));
} else {
  console.log(`${names.length} kernels on '${backend.name}':`);
  for (const n of names) console.log(`  ${n.padEnd(36)} ${[...used.get(n)].join(', ')}`);
  if (torch) console.log(`fallbacks to cpu: ${fallbacks.length ? fallbacks.join(', ') : 'none'}`);
}
