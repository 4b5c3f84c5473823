#!/usr/bin/env node
// Times the wasm training kernels on ResNet-20 (CIFAR, 32x32) shapes:
//  1. per layer shape: forward Conv2D, our Conv2DBackpropFilter, our Conv2DBackpropInput and the
//     stock wasm Conv2DBackpropInput (a scalar loop; the stock backend has no filter gradient at all);
//  2. a full ResNet-20 training step (conv, batch-norm from tf.moments, ReLU, residual add, mean pool,
//     dense, log-softmax cross-entropy, SGD) with tf.variableGrads: images/s.
// Needs `npm run build`; `--help` lists the options.
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers tfjs-core's gradients (its Node bundle has none)

import { parseScriptArgs } from './lib/args.mjs';
import { importDist } from './lib/pwlu.mjs';

const o = parseScriptArgs({
  description: `Times the wasm training kernels on ResNet-20 (CIFAR, 32x32) shapes, per conv and depthwise layer shape
(ours against the stock wasm kernels), then a full hand-written ResNet-20 training step (images/s, kernel profile).`,
  options: {
    batch: { type: 'number', default: 32, help: 'images per step' },
    steps: { type: 'number', default: 5, help: 'timed training steps' },
    'no-stock': { type: 'boolean', help: 'skip the stock wasm Conv2DBackpropInput (a slow scalar loop)' },
  },
});
const BATCH = o.batch;
const STEPS = o.steps;
const WITH_STOCK = !o['no-stock'];

const wasm = await importDist('backends/wasm/index.js');
// Keep the stock kernel before ours replaces it.
const stockInput = { ...tf.getKernel('Conv2DBackpropInput', 'wasm') };
tf.enableProdMode();
await wasm.initWasmBackend();
const backend = tf.backend();
// Ours replaced the stock kernel before the backend initialised, so its setup (cwrap) never ran.
stockInput.setupFunc?.(backend);

// Note: fn must not return the typed array from tf.tidy: tidy walks every element of its result.
function timeIt(fn, reps) {
  fn(); // warm-up (also builds XNNPACK operators)
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}

// ---- 1. per layer ----------------------------------------------------------------------------
// [H, Cin, Cout, k, stride]: the distinct conv shapes of ResNet-20 (projection shortcuts).
const LAYERS = [
  [32, 3, 16, 3, 1],
  [32, 16, 16, 3, 1],
  [32, 16, 32, 3, 2],
  [32, 16, 32, 1, 2],
  [16, 32, 32, 3, 1],
  [16, 32, 64, 3, 2],
  [16, 32, 64, 1, 2],
  [8, 64, 64, 3, 1],
];
console.log(`ResNet-20 conv shapes, batch ${BATCH}, ms per call (wasm, 1 thread)`);
console.log('H    Cin Cout k s |  fwd   dFilter  dInput  stock dInput  speed-up');
for (const [h, ci, co, k, s] of LAYERS) {
  const x = tf.randomNormal([BATCH, h, h, ci]);
  const f = tf.randomNormal([k, k, ci, co]);
  const y = tf.conv2d(x, f, s, 'same');
  const dy = tf.randomNormal(y.shape);
  const reps = 3;
  const fwd = timeIt(
    () =>
      tf.tidy(() => {
        tf.conv2d(x, f, s, 'same').dataSync();
      }),
    reps,
  );
  const dF = timeIt(
    () =>
      tf.tidy(() => {
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: s, pad: 'same', dataFormat: 'NHWC', filterShape: f.shape }).dataSync();
      }),
    reps,
  );
  const dI = timeIt(
    () =>
      tf.tidy(() => {
        tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { strides: s, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape }).dataSync();
      }),
    reps,
  );
  let stock = NaN;
  if (WITH_STOCK) {
    stock = timeIt(() => {
      const out = stockInput.kernelFunc({ inputs: { dy, filter: f }, backend, attrs: { strides: s, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } });
      backend.disposeData(out.dataId);
    }, 1);
  }
  const row = [String(h).padEnd(4), String(ci).padStart(3), String(co).padStart(4), String(k).padStart(2), String(s).padStart(2)].join(' ');
  console.log(
    `${row} | ${fwd.toFixed(1).padStart(5)} ${dF.toFixed(1).padStart(8)} ${dI.toFixed(1).padStart(7)} ${stock.toFixed(1).padStart(13)} ${(stock / dI).toFixed(1).padStart(8)}x`,
  );
  tf.dispose([x, f, y, dy]);
}

// ---- 1b. depthwise (MobileNet-V2-like shapes; the stock backend has no depthwise gradients) -------
const DW_LAYERS = [
  [32, 32, 1],
  [32, 96, 2],
  [16, 144, 1],
  [16, 144, 2],
  [8, 192, 1],
  [4, 576, 1],
];
console.log(`\nDepthwise 3x3 shapes, batch ${BATCH}, ms per call`);
console.log('H    C   s |  fwd   dFilter  dInput');
for (const [h, c, s] of DW_LAYERS) {
  const x = tf.randomNormal([BATCH, h, h, c]);
  const f = tf.randomNormal([3, 3, c, 1]);
  const y = tf.depthwiseConv2d(x, f, s, 'same');
  const dy = tf.randomNormal(y.shape);
  const attrs = { strides: s, pad: 'same', dilations: 1 };
  const fwd = timeIt(
    () =>
      tf.tidy(() => {
        tf.depthwiseConv2d(x, f, s, 'same').dataSync();
      }),
    3,
  );
  const dF = timeIt(
    () =>
      tf.tidy(() => {
        tf.engine()
          .runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape })
          .dataSync();
      }),
    3,
  );
  const dI = timeIt(
    () =>
      tf.tidy(() => {
        tf.engine()
          .runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape })
          .dataSync();
      }),
    3,
  );
  console.log(
    `${String(h).padEnd(4)} ${String(c).padStart(3)} ${String(s).padStart(2)} | ${fwd.toFixed(1).padStart(5)} ${dF.toFixed(1).padStart(8)} ${dI.toFixed(1).padStart(7)}`,
  );
  tf.dispose([x, f, y, dy]);
}

// ---- 2. full training step ---------------------------------------------------------------------
const vars = [];
const v = (t) => {
  const x = tf.variable(t);
  vars.push(x);
  return x;
};
const he = (k, ci, co) => v(tf.mul(tf.randomNormal([k, k, ci, co]), Math.sqrt(2 / (k * k * ci))));
function convBn(ci, co, k, s) {
  const w = he(k, ci, co);
  const gamma = v(tf.ones([co]));
  const beta = v(tf.zeros([co]));
  return (x) => {
    const y = tf.conv2d(x, w, s, 'same');
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    return tf.add(tf.mul(tf.mul(tf.sub(y, mean), tf.rsqrt(tf.add(variance, 1e-5))), gamma), beta);
  };
}
const stem = convBn(3, 16, 3, 1);
const blocks = [];
for (const [ci, co, s] of [
  [16, 16, 1],
  [16, 32, 2],
  [32, 64, 2],
]) {
  for (let b = 0; b < 3; b++) {
    const cin = b === 0 ? ci : co;
    const stride = b === 0 ? s : 1;
    const c1 = convBn(cin, co, 3, stride);
    const c2 = convBn(co, co, 3, 1);
    const sc = cin !== co || stride !== 1 ? convBn(cin, co, 1, stride) : null;
    blocks.push((x) => tf.relu(tf.add(c2(tf.relu(c1(x))), sc ? sc(x) : x)));
  }
}
const dense = v(tf.mul(tf.randomNormal([64, 10]), 0.1));
const forward = (x) => {
  let h = tf.relu(stem(x));
  for (const b of blocks) h = b(h);
  return tf.matMul(tf.mean(h, [1, 2]), dense);
};
const xs = tf.randomNormal([BATCH, 32, 32, 3]);
const labels = tf.oneHot(
  tf.tensor1d(
    Array.from({ length: BATCH }, (_, i) => i % 10),
    'int32',
  ),
  10,
);
const step = () =>
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(forward(xs))), 1))), vars);
    for (const w of vars) w.assign(tf.sub(w, tf.mul(grads[w.name], 0.05)));
    return value.dataSync()[0];
  });
const losses = [step()];
const t0 = performance.now();
for (let i = 0; i < STEPS; i++) losses.push(step());
const ms = (performance.now() - t0) / STEPS;
console.log(
  `\nResNet-20 training step, batch ${BATCH}: ${ms.toFixed(0)} ms/step = ${((BATCH * 1000) / ms).toFixed(1)} img/s (losses ${losses.map((l) => l.toFixed(3)).join(' ')}; tensors ${tf.memory().numTensors})`,
);

const prof = await tf.profile(() => step());
const byKernel = new Map();
for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + k.kernelTimeMs);
const total = [...byKernel.values()].reduce((a, b) => a + b, 0);
console.log(`profile of one step (${total.toFixed(0)} ms in kernels), top 10:`);
for (const [name, t] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
  console.log(`  ${name.padEnd(36)} ${t.toFixed(1).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%`);
}
