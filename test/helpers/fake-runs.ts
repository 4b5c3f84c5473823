/** Writes fake run directories (the files pwlu train leaves) for report tests; no training involved. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface FakeRun {
  arch: string;
  activation: string;
  seed: number;
  /** Final top-1; the curve ends at it. */
  top1: number;
  status?: 'finished' | 'interrupted' | 'diverged' | 'none';
  epochs?: number;
  /** Epochs completed (default: all). */
  completed?: number;
  dataset?: string;
  lr?: number;
  imgPerS?: number;
  actParams?: number;
  pwluLayers?: number;
  /** Write bench-error.txt with this text. */
  benchError?: string;
  /** summary.memory.peak_tensor_bytes. */
  peakBytes?: number;
  /** The run's `activation.pwlu` options (a sweep cell's). */
  pwlu?: Record<string, unknown>;
  /** Repeat the line of this epoch (as a resume after a crash can). */
  duplicateEpoch?: number;
}

/** A resolved config like the one pwlu train saves, with the fields the report reads. */
export function fakeConfig(r: FakeRun): Record<string, unknown> {
  return {
    name: null,
    seed: r.seed,
    backend: 'cpu',
    threads: 0,
    device: 'auto',
    model: { arch: r.arch, width: 1, stem: 'auto' },
    activation: { name: r.activation, sites: 'all', ...(r.pwlu ? { pwlu: r.pwlu } : {}) },
    data: { name: r.dataset ?? 'cifar10', dir: null, image_size: null, synthetic: { size: 32 } },
    train: { epochs: r.epochs ?? 4, batch: 64, lr: r.lr ?? 0.1 },
  };
}

/** Writes one run directory and returns its path. */
export function writeRun(dir: string, r: FakeRun): string {
  mkdirSync(dir, { recursive: true });
  const epochs = r.epochs ?? 4;
  const completed = r.completed ?? epochs;
  writeFileSync(join(dir, 'config.yaml'), `# fake\n${stringify(fakeConfig(r))}`);
  const lines: string[] = [];
  for (let e = 1; e <= completed; e++) {
    const top1 = r.top1 - (completed - e) * 2;
    const line = JSON.stringify({
      epoch: e,
      lr: 0.1 / e,
      train_loss: 2 / e,
      train_top1: top1 - 1,
      test_loss: 1.5 / e,
      test_top1: top1,
      test_top5: Math.min(100, top1 + 10),
      seconds: 1,
      img_per_s: r.imgPerS ?? 1000,
    });
    lines.push(line);
    if (e === r.duplicateEpoch) lines.push(line.replace(`"test_top1":${top1}`, `"test_top1":${top1 + 0.5}`));
    if (e === 1 && r.activation === 'pwlu') lines.push(JSON.stringify({ event: 'realign', layer: 'stem.act', epoch: 1 }));
  }
  if (completed > 0) writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  if (completed > 0) writeFileSync(join(dir, 'checkpoint-last.ckpt'), 'x');
  const status = r.status ?? 'finished';
  if (status !== 'none') {
    const summary = {
      status,
      arch: r.arch,
      activation: r.activation,
      dataset: r.dataset ?? 'cifar10',
      seed: r.seed,
      epochs,
      epochs_completed: completed,
      final: status === 'diverged' ? null : { top1: r.top1, top5: Math.min(100, r.top1 + 10), loss: 0.3 },
      best: status === 'diverged' ? null : { top1: r.top1, epoch: completed },
      params: status === 'diverged' ? 0 : 272_474 + (r.actParams ?? 0),
      act_params: status === 'diverged' ? 0 : (r.actParams ?? 0),
      img_size: 32,
      wall_s: 100,
      train_img_per_s: status === 'diverged' ? 0 : (r.imgPerS ?? 1000),
      backend: { name: 'torch', reason: 'requested', detail: {} },
      versions: {},
      git_commit: null,
      config_hash: 'abc',
      ...(r.peakBytes !== undefined ? { memory: { peak_tensor_bytes: r.peakBytes, peak_rss_bytes: 2 * r.peakBytes } } : {}),
      ...(status === 'diverged' ? { error: 'training diverged: loss is NaN at epoch 2, step 3' } : {}),
    };
    writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
  }
  if (r.pwluLayers) {
    const n = 4;
    const layers = Array.from({ length: r.pwluLayers }, (_, i) => ({
      name: `layer${i}.act`,
      type: 'pwlu',
      n,
      granularity: 'layer',
      phase: 'learning',
      stat_steps: 40,
      realigned: true,
      instances: [{ bl: -2, br: 2, kl: 0.1, kr: 1, breakpoints: [-2, -1, 0, 1, 2], heights: [0.2, 0.1, 0, 1.2, 2], running_mean: 0.1 * i, running_std: 0.66 }],
    }));
    writeFileSync(join(dir, 'activations.json'), JSON.stringify({ epoch: completed, layers }));
  }
  if (r.benchError) writeFileSync(join(dir, 'bench-error.txt'), `pwlu bench: cell failed (exit code 2)\n--- last lines of its stderr ---\n${r.benchError}\n`);
  return dir;
}
