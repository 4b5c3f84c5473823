import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';

const ROOT = resolve(__dirname, '..', '..');

describe('pwlu speed --all-activations', () => {
  it('prints one JSON line per registered activation with the ratio to ReLU', () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'speed.js'))) throw new Error('run `npm run build` first (npm test does)');
    const args = [
      'speed',
      '--all-activations',
      '--arch',
      'resnet20',
      '--size',
      '8',
      '--batch',
      '2',
      '--warmup',
      '0',
      '--steps',
      '1',
      '--backend',
      'wasm',
      '--json',
    ];
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'pwlu.js'), ...args], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            act: string;
            arch: string;
            train_img_per_s: number;
            train_vs_relu: number;
            infer_vs_relu: number;
            train_peak_bytes: number;
            infer_peak_bytes: number;
            peak_source: string;
            train_peak_vs_relu: number;
            train_peak_rss_bytes: number | null;
          },
      );
    expect(rows.map((x) => x.act)).toEqual(['relu', ...activationNames().filter((a) => a !== 'relu')]);
    expect(rows[0]).toMatchObject({ train_vs_relu: 1, infer_vs_relu: 1, train_peak_vs_relu: 1, peak_source: 'tfjs' });
    for (const x of rows) {
      expect(x.arch).toBe('resnet20');
      expect(x.train_img_per_s).toBeGreaterThan(0);
      expect(x.train_vs_relu).toBeGreaterThan(0);
      // A training step holds the forward activations and the gradients: more than inference's peak.
      expect(x.train_peak_bytes).toBeGreaterThan(x.infer_peak_bytes);
      expect(x.infer_peak_bytes).toBeGreaterThan(0);
      expect(x.train_peak_rss_bytes).toBeGreaterThan(x.train_peak_bytes);
    }
    // FReLU adds a depthwise conv and BN per site: its step holds more tensors than ReLU's.
    expect(rows.find((x) => x.act === 'frelu')!.train_peak_vs_relu).toBeGreaterThan(1);
  });
});
