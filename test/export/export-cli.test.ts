import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { onnx } from '../helpers/onnx-form.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pwlu.js');
const tmp = makeTmpDir('pwlu-export-');
const run = join(tmp, 'run');

function pwlu(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pwlu export (CLI)', () => {
  beforeAll(() => {
    const config = join(tmp, 'micro.yaml');
    writeFileSync(
      config,
      `seed: 0
backend: cpu
model: { arch: resnet20, width: 0.25 }
activation: { name: pwlu, pwlu: { phase1_epochs: 1, n: 8, granularity: channel } }
data: { name: synthetic, synthetic: { size: 8, train: 16, test: 8 } }
train: { epochs: 2, batch: 8 }
`,
    );
    const r = pwlu('train', '--config', config, '--out', run, '--quiet');
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);
  afterAll(() => removeDir(tmp));

  it('writes ONNX and tfjs exports with labels, preprocessing and the measured check, and never overwrites one', () => {
    for (const format of ['onnx', 'tfjs']) {
      const r = pwlu('export', '--run', run, '--format', format, '--checkpoint', 'last', '--json');
      expect(r.code, r.stderr).toBe(0);
      const out = join(run, 'exports', `${format}-last`);
      const record = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as {
        format: string;
        epoch: number;
        activation: string;
        config_hash: string;
        check: { max_rel_diff: number; same_top1: boolean };
      };
      expect(record).toMatchObject({ format, epoch: 2, activation: 'pwlu' });
      expect(record.config_hash).toMatch(/^[0-9a-f]{12}$/);
      expect(record.check.max_rel_diff).toBeLessThan(1e-4);
      expect(JSON.parse(readFileSync(join(out, 'labels.json'), 'utf8'))).toEqual(['class0', 'class1', 'class2', 'class3']);
      expect(JSON.parse(readFileSync(join(out, 'preprocessing.json'), 'utf8'))).toMatchObject({ layout: format === 'onnx' ? 'NCHW' : 'NHWC' });
      expect(readdirSync(out).sort()).toEqual(
        ['export.json', 'labels.json', 'preprocessing.json', ...(format === 'onnx' ? ['model.onnx'] : ['model.json', 'weights.bin'])].sort(),
      );
      const before = readFileSync(join(out, 'export.json'), 'utf8');
      const again = pwlu('export', '--run', run, '--format', format, '--checkpoint', 'last');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/exists: pwlu export never overwrites/);
      expect(readFileSync(join(out, 'export.json'), 'utf8')).toBe(before);
    }
  }, 180_000);

  it('--checkpoint best on a run without a validation split exports the last checkpoint, names the folder after it and says so', () => {
    const out = join(run, 'exports', 'onnx-last');
    rmSync(out, { recursive: true, force: true });
    const r = pwlu('export', '--run', run, '--format', 'onnx', '--checkpoint', 'best');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^pwlu export: .* holds out no validation split, so nothing was selected: loading the last checkpoint/m);
    expect(r.stdout).toMatch(/\(last checkpoint, epoch 2\) to .*onnx-last\/model\.onnx/);
    expect(existsSync(join(run, 'exports', 'onnx-best'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'export.json'), 'utf8'))).toMatchObject({ checkpoint: 'last', epoch: 2 });
  }, 180_000);

  it("--pwlu-form writes PWLU's body in that form and records it; it refuses the tfjs format", () => {
    const ops = (dir: string) => {
      const model = onnx.ModelProto.decode(readFileSync(join(dir, 'model.onnx')));
      return new Set(model.functions.flatMap((f) => (f.node ?? []).map((nd) => nd.opType)));
    };
    const table = join(tmp, 'onnx-table');
    const r = pwlu('export', '--run', run, '--checkpoint', 'last', '--pwlu-form', 'table', '--out', table);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(table, 'export.json'), 'utf8'))).toMatchObject({ pwlu_form: 'table' });
    expect(ops(table).has('Gather')).toBe(true);
    const chain = join(tmp, 'onnx-default');
    expect(pwlu('export', '--run', run, '--checkpoint', 'last', '--out', chain).code).toBe(0);
    expect(JSON.parse(readFileSync(join(chain, 'export.json'), 'utf8'))).toMatchObject({ pwlu_form: 'chain' });
    expect(ops(chain).has('Gather')).toBe(false);
    const tfjs = pwlu('export', '--run', run, '--format', 'tfjs', '--pwlu-form', 'table', '--out', join(tmp, 'y'));
    expect(tfjs.code).toBe(1);
    expect(tfjs.stderr).toMatch(/--pwlu-form applies to ONNX/);
    expect(pwlu('export', '--run', run, '--pwlu-form', 'spline').stderr).toMatch(/'spline' is invalid. Allowed choices are chain, table, hinge/);
    expect(existsSync(join(tmp, 'y'))).toBe(false);
  }, 180_000);

  it('names the bad value: an unknown format, a bad batch, a run without checkpoints', () => {
    expect(pwlu('export', '--run', run, '--format', 'tflite').stderr).toMatch(/tflite.*invalid|Allowed choices/);
    const bad = pwlu('export', '--run', run, '--batch', '0', '--out', join(tmp, 'x'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--batch must be a positive integer or 'dynamic' \(got '0'\)/);
    expect(existsSync(join(tmp, 'x'))).toBe(false);
    const none = pwlu('export', '--run', join(tmp, 'nowhere'));
    expect(none.code).not.toBe(0);
    expect(none.stderr).not.toMatch(/internal error/);
  });

  it("'pwlu/layers' resolves by package name to the browser-safe module", () => {
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('pwlu/layers'); console.log(m.LAYER_CLASSES.map((c) => c.className).join(','))"],
      { encoding: 'utf8', cwd: ROOT },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split(',')).toContain('PwluPWLU');
  });
});
