#!/usr/bin/env node
// Kernel census: which tfjs kernels does a CNN training step (+ optimizer update + eval) use?
// Usage: node scripts/torch-kernels.mjs [--backend cpu|torch] [--json]
// On 'torch' it also lists the kernels that fell back to the cpu backend (needs `npm run build`).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers all gradients (tfjs-core's node bundle has none)
import { makeResNet, makeMobileNet, trainStep, topK, randn, rng } from './torch-models.mjs';
import { wrapKernels } from './kernel-hooks.mjs';

const args = process.argv.slice(2);
const backend = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'cpu';
const asJson = args.includes('--json');

let torch;
if (backend === 'torch') {
  torch = await import('../dist/backends/torch/index.js');
  await torch.registerTorchBackend({});
}
await tf.setBackend(backend);
tf.enableProdMode();

const used = new Map(); // kernel name -> scenario names
let scenario = '';
wrapKernels(backend, (name, _args, run) => {
  if (!used.has(name)) used.set(name, new Set());
  used.get(name).add(scenario);
  return run();
});

const rand = rng(7);
const N = 4;
const x = tf.tensor(randn([N, 8, 8, 3], rand), [N, 8, 8, 3]);
const labels = tf.tensor1d([1, 3, 0, 7], 'int32');

for (const [name, make] of [
  ['resnet', () => makeResNet({ blocks: 1, widths: [4, 8, 8] })],
  ['mobilenet', () => makeMobileNet({ dropout: 0.2 })],
]) {
  for (const opt of ['sgd', 'momentum', 'adam']) {
    scenario = `${name}/${opt}`;
    const model = make();
    const optimizer =
      opt === 'sgd' ? tf.train.sgd(0.01) : opt === 'momentum' ? tf.train.momentum(0.01, 0.9) : tf.train.adam(1e-3);
    for (let i = 0; i < 2; i++) trainStep(model, optimizer, x, labels, 10).dispose();
    scenario = `${name}/eval`;
    tf.tidy(() => topK(model.forward(x, false), labels, 5));
    optimizer.dispose();
    tf.dispose([...model.vars, ...model.state]);
  }
}

// tfjs-layers model (Conv2D/BN/DepthwiseConv2D/MaxPooling2D/ZeroPadding2D/GAP/Dense).
{
  const tfl = await import('@tensorflow/tfjs-layers');
  scenario = 'layers/fit';
  const m = tfl.sequential();
  m.add(tfl.layers.zeroPadding2d({ padding: 1, inputShape: [8, 8, 3] }));
  m.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 1, padding: 'valid', useBias: false }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 6, kernelSize: 1, activation: 'relu6' }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: 10, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const y = tf.oneHot(labels, 10);
  await m.trainOnBatch(x, y);
  scenario = 'layers/eval';
  tf.dispose(m.predict(x));
  tf.dispose(m.evaluate(x, y, { batchSize: N }));
  tf.dispose(y);
}

// PWLU-style table activation: floor → clip → gather, where, with a hand-written gradient.
{
  scenario = 'pwlu';
  const n = 8;
  const bound = 3;
  const table = tf.variable(tf.relu(tf.linspace(-bound, bound, n + 1)), true, 'pwlu/y');
  const act = tf.customGrad((xs, ys, save) => {
    const d = (2 * bound) / n;
    const u = tf.div(tf.sub(xs, -bound), d);
    const idx = tf.cast(tf.clipByValue(tf.floor(u), 0, n - 1), 'int32');
    const t = tf.sub(u, tf.cast(idx, 'float32'));
    const y0 = tf.gather(ys, idx);
    const y1 = tf.gather(ys, tf.add(idx, tf.scalar(1, 'int32')));
    const inner = tf.add(y0, tf.mul(t, tf.sub(y1, y0)));
    const out = tf.where(tf.less(xs, -bound), tf.zerosLike(xs), tf.where(tf.greaterEqual(xs, bound), xs, inner));
    save([xs, t, idx, y0, y1]);
    return {
      value: out,
      gradFunc: (dy, [sx, st, sidx, sy0, sy1]) => {
        const inside = tf.logicalAnd(tf.greaterEqual(sx, -bound), tf.less(sx, bound));
        const dx = tf.where(inside, tf.mul(dy, tf.div(tf.sub(sy1, sy0), d)), tf.where(tf.less(sx, -bound), tf.zerosLike(dy), dy));
        const m = tf.cast(inside, 'float32');
        const flatI = tf.reshape(sidx, [-1]);
        const g0 = tf.unsortedSegmentSum(tf.reshape(tf.mul(tf.mul(dy, m), tf.sub(1, st)), [-1]), flatI, n + 1);
        const g1 = tf.unsortedSegmentSum(tf.reshape(tf.mul(tf.mul(dy, m), st), [-1]), tf.add(flatI, tf.scalar(1, 'int32')), n + 1);
        return [dx, tf.add(g0, g1)];
      },
    };
  });
  const opt = tf.train.momentum(0.01, 0.9);
  for (let i = 0; i < 2; i++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(act(x, table))), [table]);
      opt.applyGradients(grads);
    });
  }
  tf.dispose([table]);
}

const names = [...used.keys()].sort();
const fallbacks = torch ? torch.fallbackKernelsUsed() : [];
if (asJson) {
  console.log(JSON.stringify({ backend, kernels: names, fallbacks }));
} else {
  console.log(`${names.length} kernels on '${backend}':`);
  for (const n of names) console.log(`  ${n.padEnd(36)} ${[...used.get(n)].join(', ')}`);
  if (torch) console.log(`fallbacks to cpu: ${fallbacks.length ? fallbacks.join(', ') : 'none'}`);
}
