#!/usr/bin/env node
// Layer-for-layer equivalence of pwlu's ImageNet architectures with torchvision: the same weights
// must give the same logits.
//
// Needs `npm run build`; `--help` lists the options.
//
// Without --from it first runs scripts/check-torchvision.py with Debian's /usr/bin/python3 (torch
// 1.13 / torchvision 0.14) into a temporary folder (--keep DIR: into DIR, kept). Each pwlu model is
// built with `referenceActivation` (ReLU / ReLU6 / hard-swish / SiLU where torchvision has them),
// the torchvision tensors are mapped by name with the mapping model initialisation uses
// (src/models/torchvision-names.ts: every pwlu weight must find its tensor, with its shape and layout,
// and every tensor a weight), and one image is run in inference mode, both through model.apply and
// through pwlu's folded inference plan (src/models/infer.ts: conv + BN folded).
// PASS when max |logit difference| / max |logit| < 1e-3 against torchvision's float64 forward, for both.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

import { parseScriptArgs } from './lib/args.mjs';
import { importDist } from './lib/pwlu.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [{ getModel }, { referenceActivation }, { disposeModel, predict }, { torchvisionKeys }] = await Promise.all(
  ['models/registry.js', 'models/sites.js', 'models/infer.js', 'models/torchvision-names.js'].map(importDist),
);

const ARCHS = ['resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0'];
/** The layout torchvision-names.ts gives each kind of tensor check-torchvision.py writes (already in tfjs layout). */
const LAYOUT_OF_KIND = { conv: 'conv', depthwise: 'depthwise', linear: 'linear', bias: 'same', bn: 'same' };

const o = parseScriptArgs({
  description: `Layer-for-layer equivalence of pwlu's ImageNet architectures with torchvision: the same weights must give
the same logits (max |logit difference| / max |logit| < 1e-3 against torchvision's float64 forward, through
model.apply and through the folded inference plan). Exits 1 when one fails.`,
  options: {
    arch: { type: 'list', default: ARCHS, choices: ARCHS, help: 'architectures' },
    size: { type: 'number', default: 224, help: 'input side in pixels' },
    backend: { type: 'string', default: 'cpu', choices: ['cpu', 'wasm', 'torch'], help: 'tfjs backend' },
    from: { type: 'string', value: 'DIR', help: 'read the torchvision tensors from DIR instead of running check-torchvision.py' },
    keep: { type: 'string', value: 'DIR', help: 'write the torchvision tensors into DIR and keep them' },
    json: { type: 'boolean', help: 'also print the results as one JSON line' },
  },
});
const archs = o.arch;
const size = o.size;
const backend = o.backend;
if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
if (backend === 'torch') await (await importDist('backends/torch/index.js')).registerTorchBackend();
await tf.setBackend(backend);

let dir = o.from;
let temp = null;
if (!dir) {
  dir = o.keep ?? (temp = mkdtempSync(join(tmpdir(), 'pwlu-tv-')));
  execFileSync('/usr/bin/python3', [join(root, 'scripts/check-torchvision.py'), dir, '--size', String(size), '--arch', ...archs], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

let failed = 0;
const rows = [];
for (const arch of archs) {
  const manifest = JSON.parse(readFileSync(join(dir, arch, 'manifest.json'), 'utf8'));
  const buf = readFileSync(join(dir, arch, 'weights.bin'));
  const floats = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const model = getModel(arch).build({
    inputShape: [manifest.size, manifest.size, 3],
    numClasses: 1000,
    width: 1,
    stem: 'imagenet',
    activation: referenceActivation,
    seed: 0,
  });
  // Every weight by its torchvision key (the mapping model initialisation uses), every tensor used once.
  // Seeded dropout's call counters (PwluSeededDropout 'step') are training positions, not weights.
  const ours = model.layers
    .filter((l) => l.getClassName() !== 'PwluSeededDropout')
    .flatMap((l) => l.weights)
    .map((w) => ({ name: w.originalName, shape: w.shape, variable: w }));
  const { family, keys } = torchvisionKeys(ours);
  if (!family) throw new Error(`${arch}: torchvision-names.ts recognises no torchvision family in the model's layers`);
  const byName = new Map(manifest.tensors.map((t) => [t.name, t]));
  const used = new Set();
  for (const w of ours) {
    const k = keys.get(w.name);
    const t = k && byName.get(k.key);
    if (!t) throw new Error(`${arch}: pwlu ${w.name} maps to ${k ? `torchvision ${k.key}, not in the state dict` : 'no torchvision tensor'}`);
    if (used.has(t.name)) throw new Error(`${arch}: torchvision ${t.name} is mapped twice (second: pwlu ${w.name})`);
    used.add(t.name);
    if (LAYOUT_OF_KIND[t.kind] !== k.layout) throw new Error(`${arch}: pwlu ${w.name} -> ${t.name}: layout ${k.layout}, but the tensor is a ${t.kind}`);
    if (w.shape.join('x') !== t.shape.join('x')) throw new Error(`${arch}: pwlu ${w.name} [${w.shape}] vs torchvision ${t.name} [${t.shape}]`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    w.variable.write(tf.tensor(floats.subarray(t.offset, t.offset + n), t.shape));
  }
  const unused = manifest.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (unused.length) throw new Error(`${arch}: ${unused.length} torchvision tensors map to no pwlu weight: ${unused.slice(0, 5).join(', ')}`);
  const n = manifest.input.shape.reduce((a, b) => a * b, 1);
  const x = tf.tensor(floats.subarray(manifest.input.offset, manifest.input.offset + n), manifest.input.shape);
  const ref = manifest.logits;
  let maxRef = 0;
  let maxDiff32 = 0;
  for (let i = 0; i < ref.length; i++) {
    maxDiff32 = Math.max(maxDiff32, Math.abs(manifest.logits32[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  /** Max |logit - torchvision's| of one inference path, and its seconds. */
  const check = async (run) => {
    const t0 = performance.now();
    const y = run();
    const logits = await y.data();
    y.dispose();
    let d = logits.length === ref.length ? 0 : Infinity;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(logits[i] - ref[i]));
    return { maxDiff: d, seconds: (performance.now() - t0) / 1000 };
  };
  const applied = await check(() => model.apply(x, { training: false }));
  const folded = await check(() => predict(model, x));
  const rel = applied.maxDiff / maxRef;
  const relFolded = folded.maxDiff / maxRef;
  const ok = rel < 1e-3 && relFolded < 1e-3;
  if (!ok) failed++;
  const other = manifest.otherImageMaxAbsDiff;
  rows.push({
    arch,
    size: manifest.size,
    tensors: ours.length,
    maxAbsDiff: applied.maxDiff,
    foldedMaxAbsDiff: folded.maxDiff,
    maxAbsLogit: maxRef,
    relative: rel,
    foldedRelative: relFolded,
    torchFloat32MaxAbsDiff: maxDiff32,
    otherImageMaxAbsDiff: other,
    seconds: applied.seconds,
    foldedSeconds: folded.seconds,
    pass: ok,
  });
  console.log(
    `${ok ? 'PASS' : 'FAIL'} ${arch.padEnd(20)} ${manifest.size}px  ${ours.length} tensors  max|diff| ${applied.maxDiff.toExponential(2)} (folded plan ${folded.maxDiff.toExponential(2)})  max|logit| ${maxRef.toPrecision(4)}  rel ${rel.toExponential(2)}  (torch fp32 vs fp64: ${maxDiff32.toExponential(2)}; another image: ${other.toPrecision(3)})  ${applied.seconds.toFixed(1)} s / ${folded.seconds.toFixed(1)} s`,
  );
  x.dispose();
  disposeModel(model);
}
if (temp) rmSync(temp, { recursive: true, force: true });
if (o.json) console.log(JSON.stringify(rows));
process.exit(failed ? 1 : 0);
