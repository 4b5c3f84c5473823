#!/usr/bin/env node
// The summary of scripts/gpu-check.sh: reads its gpu-check.jsonl and prints a markdown report (medians of the
// per-pair ratios, as every speed figure in pwlu).
import fs from 'node:fs';
import { importDist } from './pwlu.mjs';

const [file] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: gpu-check-summary.mjs GPU_CHECK_JSONL\n');
  process.exit(1);
}
const { median } = await importDist('util/median.js');
const lines = fs
  .readFileSync(file, 'utf8')
  .trim()
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l));
const one = (step) => lines.find((l) => l.step === step);
const out = [];
const torch = one('torch');
const addon = one('addon');
if (torch) out.push(`- PyTorch ${torch.python.torch} (CUDA ${torch.python.cuda ?? 'none'}) on ${torch.python.gpu ?? 'no GPU'}; node ${torch.node}`);
if (addon)
  out.push(
    `- addon: libtorch ${addon.addon.libtorch}, built with CUDA: ${addon.addon.builtWithCuda}, CUDA visible: ${addon.addon.cudaAvailable}, collectives: ${addon.addon.dist.join(', ') || 'none'}`,
  );
const tests = one('kernel-tests');
if (tests) out.push(`- kernel tests on ${tests.device}: ${tests.counts || 'no count'} (exit ${tests.exit})`);
const qs = one('quickstart');
if (qs) out.push(`- quickstart on ${qs.device}: top-1 ${qs.top1.toFixed(2)}% after ${qs.epochs} epochs, ${qs.wall_s} s, ${qs.status}`);

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const speed = lines.filter((l) => l.step === 'speed');
const archs = [...new Set(speed.map((l) => l.result.arch))];
if (archs.length) {
  out.push(
    '',
    '| arch | batch | pwlu train img/s | PyTorch train img/s | train ratio | pwlu infer img/s | PyTorch infer img/s | infer ratio | pairs |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const arch of archs) {
    const pairs = [...new Set(speed.filter((l) => l.result.arch === arch).map((l) => l.pair))];
    const get = (side, pair) => speed.find((l) => l.result.arch === arch && l.side === side && l.pair === pair)?.result;
    const both = pairs.map((p) => [get('pwlu', p), get('pytorch', p)]).filter(([a, b]) => a && b);
    const mine = pairs.map((p) => get('pwlu', p)).filter(Boolean);
    const ref = pairs.map((p) => get('pytorch', p)).filter(Boolean);
    out.push(
      `| ${arch} | ${mine[0]?.batch ?? '—'} | ${fmt(median(mine.map((r) => r.train_img_per_s)))} | ${fmt(median(ref.map((r) => r.train_img_per_s)))} | ` +
        `${fmt(median(both.map(([a, b]) => a.train_img_per_s / b.train_img_per_s)), 2)}× | ${fmt(median(mine.map((r) => r.infer_img_per_s)))} | ` +
        `${fmt(median(ref.map((r) => r.infer_img_per_s)))} | ${fmt(median(both.map(([a, b]) => a.infer_img_per_s / b.infer_img_per_s)), 2)}× | ${both.length} |`,
    );
  }
}
const acts = lines.filter((l) => l.step === 'speed-activation');
if (acts.length) {
  const pairs = [...new Set(acts.map((l) => l.pair))];
  const get = (a, p) => acts.find((l) => l.activation === a && l.pair === p)?.result;
  const both = pairs.map((p) => [get('pwlu', p), get('relu', p)]).filter(([a, b]) => a && b);
  out.push(
    '',
    `- PWLU/ReLU step time, ResNet-18: training ${fmt(median(both.map(([p, r]) => p.train_step_s / r.train_step_s)), 2)}×, ` +
      `inference ${fmt(median(both.map(([p, r]) => p.infer_step_s / r.infer_step_s)), 2)}× (median of ${both.length} pairs)`,
  );
}
process.stdout.write(`${out.join('\n')}\n`);
