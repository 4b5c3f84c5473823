#!/usr/bin/env node
// pwlu vs PyTorch throughput, measured side by side in one run on this machine.
//
// `--help` lists the options.
//
// For each architecture it runs `pwlu speed --json` and ../shared/bench/pytorch_reference.py (or
// $PWLU_PYTORCH_REFERENCE) alternately, `--repeats` times each, and prints the median training and
// inference images/s of both and the median of per-pair ratios (--pytorch-modes: against each PyTorch mode). `--task detection` compares RetinaNet with the architecture as its
// backbone against ../shared/bench/detection_reference.py (torchvision's RetinaNet; ReLU only). Needs `npm run build` and, for PyTorch, Debian's
// python3-torch (+ python3-torchvision for the torchvision architectures).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parseScriptArgs } from './lib/args.mjs';
import { median } from './lib/pwlu.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = parseScriptArgs({
  description: `pwlu vs PyTorch throughput, measured side by side in one run on this machine: \`pwlu speed --json\` and
../shared/bench/pytorch_reference.py (or $PWLU_PYTORCH_REFERENCE) alternately, --repeats times each; prints the median
training and inference images/s of both and their ratio. Needs \`npm run build\` and, for PyTorch, Debian's python3-torch
(+ python3-torchvision for the torchvision architectures).`,
  options: {
    arch: { type: 'list', default: ['resnet20'], help: 'registered architectures' },
    size: { type: 'number', default: 32, help: 'input side in pixels' },
    batch: { type: 'number', default: 64, help: 'images per step' },
    activation: { type: 'string', default: 'relu', choices: ['relu', 'swish', 'pwlu'], help: 'activation (the ones the PyTorch reference knows)' },
    backend: { type: 'string', help: "pwlu's backend (default: pwlu speed's)" },
    threads: { type: 'number', help: 'threads for both' },
    repeats: { type: 'number', default: 3, help: 'runs of each, alternating' },
    python: { type: 'string', default: '/usr/bin/python3', help: 'python with torch' },
    'memory-format': { type: 'string', choices: ['channels_last', 'contiguous'], help: "PyTorch's memory format (default: the reference's, channels_last)" },
    'pytorch-modes': {
      type: 'list',
      choices: ['channels_last', 'contiguous', 'compile'],
      help: 'PyTorch modes, each run once per repeat after pwlu (compile: torch.compile in channels_last); replaces --memory-format. Ratios are medians of per-pair ratios; "best eager" is the eager mode with the higher median img/s, per metric',
    },
    out: { type: 'string', help: 'append one JSON line per architecture (every run included) to this file' },
    json: { type: 'boolean', help: 'also print one JSON line per architecture' },
    task: {
      type: 'string',
      default: 'classification',
      choices: ['classification', 'detection'],
      help: 'detection: RetinaNet over the architecture vs torchvision RetinaNet (shared/bench/detection_reference.py, 11 classes incl. background)',
    },
  },
});
const archs = args.arch;
const size = String(args.size);
const batch = String(args.batch);
const act = args.activation;
const repeats = args.repeats;
const python = args.python;
const detection = args.task === 'detection';
if (detection && act !== 'relu') {
  console.error('--task detection: the torchvision reference has ReLU only');
  process.exit(1);
}
const reference = process.env.PWLU_PYTORCH_REFERENCE ?? join(root, '..', 'shared', 'bench', detection ? 'detection_reference.py' : 'pytorch_reference.py');
if (!existsSync(reference)) {
  console.error(`PyTorch reference script not found at ${reference} (set PWLU_PYTORCH_REFERENCE)`);
  process.exit(1);
}
const pytorchAct = { relu: 'relu', swish: 'silu', pwlu: 'pwlu' }[act];

function runJson(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop();
  return JSON.parse(line);
}

// A mode is one way of running the PyTorch reference: eager in a memory format, or torch.compile.
const modes = detection ? ['default'] : (args['pytorch-modes'] ?? [args['memory-format'] ?? 'default']);
const modeArgs = (m) => (m === 'compile' ? ['--compile'] : m === 'default' ? [] : ['--memory-format', m]);
const ratios = (ours, theirs, key) => +median(ours.map((o, i) => o[key] / theirs[i][key])).toFixed(3);

const rows = [];
for (const arch of archs) {
  const ours = [];
  const theirs = Object.fromEntries(modes.map((m) => [m, []]));
  for (let i = 0; i < repeats; i++) {
    // torchvision's models keep their ImageNet stem at every size: build ours the same way (resnet20 has one stem).
    const stem = arch.startsWith('resnet') && ['resnet20', 'resnet56'].includes(arch) ? 'auto' : 'imagenet';
    const pwluArgs = [join(root, 'bin', 'pwlu.js'), 'speed', '--arch', arch, '--size', size, '--batch', batch, '--activation', act, '--stem', stem, '--json'];
    if (args.backend) pwluArgs.push('--backend', args.backend);
    if (args.threads) pwluArgs.push('--threads', String(args.threads));
    // torchvision's RetinaNet counts the background among its 11 classes and gives each anchor 11 logits: so do we.
    if (detection) pwluArgs.push('--task', 'detection', '--classes', '11');
    ours.push(runJson(process.execPath, pwluArgs));
    for (const m of modes) {
      const refArgs = detection
        ? [reference, '--backbone', arch, '--size', size, '--batch', batch]
        : [reference, '--arch', arch, '--size', size, '--batch', batch, '--act', pytorchAct, ...modeArgs(m)];
      if (args.threads) refArgs.push('--threads', String(args.threads));
      theirs[m].push(runJson(python, refArgs));
    }
  }
  const perMode = Object.fromEntries(
    modes.map((m) => {
      const t = theirs[m];
      return [
        m,
        {
          train_img_per_s: median(t.map((r) => r.train_img_per_s)),
          infer_img_per_s: median(t.map((r) => r.infer_img_per_s)),
          train_ratio: ratios(ours, t, 'train_img_per_s'),
          infer_ratio: ratios(ours, t, 'infer_img_per_s'),
          runs: t.map((r) => [r.train_img_per_s, r.infer_img_per_s]),
        },
      ];
    }),
  );
  // The eager mode PyTorch is fastest in, per metric ("PyTorch at its best" without compiling).
  const eager = modes.filter((m) => m !== 'compile');
  const best = (key) => eager.reduce((a, b) => (perMode[b][key] > perMode[a][key] ? b : a));
  const bt = best('train_img_per_s');
  const bi = best('infer_img_per_s');
  const first = theirs[modes[0]][0];
  rows.push({
    task: args.task,
    arch,
    size: Number(size),
    batch: Number(batch),
    activation: act,
    backend: ours[0].backend,
    threads: ours[0].threads,
    params: ours[0].params,
    pytorch_params: first.params ?? null,
    pytorch_version: first.torch ?? first.version ?? null,
    train_img_per_s: median(ours.map((r) => r.train_img_per_s)),
    pytorch_train_img_per_s: perMode[bt].train_img_per_s,
    train_ratio: perMode[bt].train_ratio,
    pytorch_train_mode: bt,
    infer_img_per_s: median(ours.map((r) => r.infer_img_per_s)),
    pytorch_infer_img_per_s: perMode[bi].infer_img_per_s,
    infer_ratio: perMode[bi].infer_ratio,
    pytorch_infer_mode: bi,
    pytorch_modes: perMode,
    runs: { pwlu: ours.map((r) => [r.train_img_per_s, r.infer_img_per_s]) },
  });
}
if (args.json) for (const r of rows) console.log(JSON.stringify(r));
if (args.out)
  for (const r of rows)
    appendFileSync(args.out, `${JSON.stringify({ ...r, pytorch_reference: relative(root, reference), measured_at: new Date().toISOString() })}\n`);
const compiled = modes.includes('compile');
console.log(
  `| model | backend | train img/s pwlu / PyTorch (mode) | ratio | infer img/s pwlu / PyTorch (mode) | ratio |${compiled ? ' train / infer vs torch.compile |' : ''}`,
);
console.log(`|---|---|---|---|---|---|${compiled ? '---|' : ''}`);
for (const r of rows) {
  const c = r.pytorch_modes.compile;
  console.log(
    `| ${detection ? `RetinaNet ${r.arch}` : r.arch} @${r.size}, batch ${r.batch}, ${r.activation} | ${r.backend} (${r.threads} threads) | ${r.train_img_per_s.toFixed(1)} / ${r.pytorch_train_img_per_s.toFixed(1)} (${r.pytorch_train_mode}) | ${r.train_ratio.toFixed(2)}x | ${r.infer_img_per_s.toFixed(1)} / ${r.pytorch_infer_img_per_s.toFixed(1)} (${r.pytorch_infer_mode}) | ${r.infer_ratio.toFixed(2)}x |${c ? ` ${c.train_ratio.toFixed(2)}x / ${c.infer_ratio.toFixed(2)}x |` : ''}`,
  );
}
