#!/usr/bin/env node
// The learned activations' cost in the browser: tfjs exports of one architecture that differ only in their
// activation, timed on tfjs's webgl backend in headless Chromium (SwiftShader's WebGL2). `--help` lists the options.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import '@tensorflow/tfjs-backend-cpu';

import { parseScriptArgs } from '../lib/args.mjs';
import { bundlePage, CHROMIUM, runPage } from '../lib/browser.mjs';
import { importDist, median } from '../lib/pwlu.mjs';

const VARIANTS = {
  relu: { name: 'relu', options: {} },
  pwlu: { name: 'pwlu', options: {} },
  'pwlu-channel': { name: 'pwlu', options: { granularity: 'channel' } },
  swish: { name: 'swish', options: {} },
  pau: { name: 'pau', options: {} },
  apl: { name: 'apl', options: {} },
};

const args = parseScriptArgs({
  description: `Times one architecture's tfjs export per activation on tfjs's webgl backend in headless Chromium (WebGL2
from SwiftShader, Chromium's software GPU, on this machine's CPU): --rounds alternating rounds, each running every
variant --runs times after a warm-up; per variant the median ms per inference, and against ReLU the median of per-round
ratios. Each learned activation is also timed with pwlu/layers' webgl kernel unregistered ("composite": tfjs's own ops),
which shows what the fused kernel saves. All sites take the activation (sites: all). Needs \`npm run build\` and
the chromium package.`,
  options: {
    arch: { type: 'string', default: 'mobilenet_v3_small', help: 'registered architecture' },
    size: { type: 'number', default: 224, help: 'input side in pixels' },
    batch: { type: 'number', default: 1, help: 'images per inference' },
    classes: { type: 'number', default: 1000, help: 'classifier outputs' },
    activations: {
      type: 'list',
      default: ['relu', 'pwlu', 'pwlu-channel', 'swish', 'pau', 'apl'],
      choices: Object.keys(VARIANTS),
      help: 'variants (relu is always included: the reference)',
    },
    rounds: { type: 'number', default: 5, help: 'alternating rounds' },
    runs: { type: 'number', default: 10, help: 'timed inferences per variant per round' },
    out: { type: 'string', help: 'append one JSON line (every timing included) to this file' },
  },
});
if (!CHROMIUM) {
  console.error('webgl-activations: no chromium installed (apt-get install chromium)');
  process.exit(1);
}

const [{ getModel }, { makeActivationFactory }, { ActivationSchema }, { exportTfjs, TFJS_WEIGHTS_FILE }, { codeVersion }] = await Promise.all(
  ['models/registry.js', 'activations/registry.js', 'config/schema.js', 'export/tfjs/model.js', 'util/provenance.js'].map(importDist),
);
const names = ['relu', ...args.activations.filter((a) => a !== 'relu')];
const dir = mkdtempSync(join(tmpdir(), 'pwlu-webgl-'));
try {
  for (const v of names) {
    const { name, options } = VARIANTS[v];
    const model = getModel(args.arch).build({
      inputShape: [args.size, args.size, 3],
      numClasses: args.classes,
      width: 1,
      stem: args.size >= 128 ? 'imagenet' : 'small',
      activation: makeActivationFactory(ActivationSchema.parse({ name, [name]: options }), 0),
      seed: 0,
      sites: 'all',
    });
    const { modelJson, weights } = await exportTfjs(model);
    model.dispose();
    mkdirSync(join(dir, v));
    writeFileSync(join(dir, v, 'model.json'), JSON.stringify(modelJson));
    writeFileSync(join(dir, v, TFJS_WEIGHTS_FILE), weights);
  }
  await bundlePage(
    dir,
    `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import * as tfl from '@tensorflow/tfjs-layers';
import 'pwlu/layers';
const FUSED = { pwlu: 'PwluInfer', 'pwlu-channel': 'PwluInfer', swish: 'PwluSwishForward', pau: 'PauForward', apl: 'AplForward' };
const names = ${JSON.stringify(names)};
try {
  await tf.setBackend('webgl');
  const x = tf.randomNormal([${args.batch}, ${args.size}, ${args.size}, 3], 0, 1, 'float32', 1);
  const models = {};
  for (const n of names) models[n] = await tfl.loadLayersModel('/' + n + '/model.json');
  // A variant: a model, with its fused kernel registered or not.
  const variants = names.flatMap((n) => (FUSED[n] ? [[n, n, true], [n + ' (composite)', n, false]] : [[n, n, true]]));
  const time = async (model, runs) => {
    const ms = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const y = model.predict(x);
      await y.data();
      ms.push(performance.now() - t0);
      y.dispose();
    }
    return ms;
  };
  const run = async ([label, n, fused], runs) => {
    const kernel = FUSED[n];
    const saved = kernel && !fused ? tf.getKernel(kernel, 'webgl') : null;
    if (saved) tf.unregisterKernel(kernel, 'webgl');
    try {
      return await time(models[n], runs);
    } finally {
      if (saved) tf.registerKernel(saved);
    }
  };
  for (const v of variants) await run(v, 3); // compile every shader first
  const rounds = [];
  for (let r = 0; r < ${args.rounds}; r++) {
    const round = {};
    for (const v of variants) round[v[0]] = await run(v, ${args.runs});
    rounds.push(round);
  }
  const gl = tf.backend().gpgpu.gl;
  await report({ rounds, renderer: gl.getParameter(gl.RENDERER), webgl_version: tf.env().getNumber('WEBGL_VERSION'), float32: tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') });
} catch (e) {
  await report({ error: String((e && e.stack) || e) });
}
`,
  );
  const res = await runPage(dir, { timeoutMs: 1_800_000 });
  if (res.error) throw new Error(`the page failed: ${res.error}`);
  const labels = Object.keys(res.rounds[0]);
  const perRound = (label) => res.rounds.map((r) => median(r[label]));
  const ref = perRound('relu');
  const rows = labels.map((l) => {
    const ms = perRound(l);
    return { variant: l, ms: median(ms), vs_relu: median(ms.map((m, i) => m / ref[i])) };
  });
  console.log(
    `${args.arch} @${args.size}, batch ${args.batch}, ${args.classes} classes, webgl in headless Chromium (${CHROMIUM}), ${args.rounds} rounds x ${args.runs} runs`,
  );
  console.log('| activation | ms / inference | vs ReLU |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.variant} | ${r.ms.toFixed(1)} | ${r.vs_relu.toFixed(2)}x |`);
  if (args.out) {
    const line = {
      script: 'webgl-activations',
      ...codeVersion(),
      machine: `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown'}`,
      chromium: spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).stdout.trim(),
      renderer: res.renderer,
      webgl_version: res.webgl_version,
      float32: res.float32,
      arch: args.arch,
      size: args.size,
      batch: args.batch,
      classes: args.classes,
      rounds: args.rounds,
      runs: args.runs,
      rows,
      raw: res.rounds,
      date: new Date().toISOString(),
    };
    appendFileSync(args.out, JSON.stringify(line) + '\n');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
