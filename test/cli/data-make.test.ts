import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { dataListCommand, dataMakeCommand, register } from '../../src/cli/data.js';
import { DETECTION_DEFAULTS } from '../../src/data/coco/make-fashion-mnist-detection.js';
import { UserError } from '../../src/util/errors.js';
import { idxBuffer } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

// A Fashion-MNIST-shaped fixture (60 train, 12 test items: a centred soft square of varied size per item).
let tmp: string;
let fm: string;
beforeAll(() => {
  tmp = makeTmpDir('pwlu-data-make-');
  fm = join(tmp, 'fashion-mnist');
  mkdirSync(fm);
  const items = (n: number) => {
    const px = new Uint8Array(n * 784);
    for (let i = 0; i < n; i++) {
      const r = 4 + (i % 9);
      for (let y = 14 - r; y < 14 + r; y++) for (let x = 14 - r; x < 14 + r; x++) px[i * 784 + y * 28 + x] = 120 + ((x * 7 + y * 3 + i) % 136);
    }
    return px;
  };
  const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 10);
  writeFileSync(join(fm, 'train-images-idx3-ubyte'), idxBuffer(2051, [60, 28, 28], items(60)));
  writeFileSync(join(fm, 'train-labels-idx1-ubyte'), idxBuffer(2049, [60], labels(60)));
  writeFileSync(join(fm, 't10k-images-idx3-ubyte'), idxBuffer(2051, [12, 28, 28], items(12)));
  writeFileSync(join(fm, 't10k-labels-idx1-ubyte'), idxBuffer(2049, [12], labels(12)));
});
afterAll(() => removeDir(tmp));
afterEach(() => vi.restoreAllMocks());

/** Captures what a command prints on stdout (stderr's log lines are dropped). */
function captureStdout(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => lines.push(String(s)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return lines;
}

describe('pwlu data make', () => {
  it('has the documented defaults', () => {
    const program = new Command();
    register(program);
    const make = program.commands.find((c) => c.name() === 'data')!.commands.find((c) => c.name() === 'make')!;
    const defaults = Object.fromEntries(make.options.map((o) => [o.attributeName(), o.defaultValue as unknown]));
    expect(defaults).toMatchObject({ ...DETECTION_DEFAULTS, force: false });
    expect(DETECTION_DEFAULTS).toEqual({ seed: 0, train: 6000, val: 500, test: 1000, size: 128 });
  });

  it('fails with a usage error naming the folder when it holds a set made otherwise, and says when it is already there', async () => {
    const out = join(tmp, 'set');
    const opts = { name: 'fashion-mnist-detection', out, seed: 3, train: 6, val: 2, test: 2, size: 48, fashionMnist: fm, force: false };
    const lines = captureStdout();
    await dataMakeCommand(opts);
    expect(lines.join('')).toMatch(/wrote fashion-mnist-detection \(seed 3, 48x48\) .*train 6 images/);
    await dataMakeCommand(opts);
    expect(lines.join('')).toMatch(/already holds fashion-mnist-detection made with the same arguments/);
    const err = await dataMakeCommand({ ...opts, seed: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(1);
    expect((err as UserError).message).toContain(`${out} already holds a detection dataset made with seed 3`);
    await dataMakeCommand({ ...opts, seed: 5, force: true });
    expect(lines.at(-1)).toMatch(/wrote fashion-mnist-detection \(seed 5, 48x48\)/);
    await expect(dataMakeCommand({ ...opts, name: 'coco' })).rejects.toThrow(/cannot build 'coco'.*downloaded by hand/);
  });
});

describe('pwlu data list', () => {
  it('lists the generated set with how to make it, and says how to point pwlu at a COCO download', async () => {
    const lines = captureStdout();
    await dataListCommand({ json: true });
    const rows = JSON.parse(lines.join('')) as { name: string; found: string | null; how: string }[];
    const coco = rows.find((r) => r.name === 'coco')!;
    expect(coco.how).toMatch(
      /data\.name: coco, data\.dir: \/path\/to\/coco .*annotations\/instances_train2017\.json.*instances_val2017\.json.*train2017\/.*val2017\//,
    );
    const made = rows.find((r) => r.name === 'fashion-mnist-detection')!;
    expect(made.found === null ? made.how : made.found).toMatch(made.found === null ? /^pwlu data make fashion-mnist-detection$/ : /fashion-mnist-detection$/);
  });
});
