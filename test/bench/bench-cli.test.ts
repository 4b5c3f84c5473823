import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activationNames } from '../../src/activations/registry.js';
import { parse as parseYaml } from 'yaml';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pwlu.js');
const tmp = makeTmpDir('pwlu-bench-');
const CONFIG = join(tmp, 'micro.yaml');
const EPOCHS = 3;

/** A micro synthetic run on the cpu backend: 8x8 images, width 0.25, 4 steps an epoch. */
const MICRO = `seed: 0
backend: cpu
model:
  arch: resnet20
  width: 0.25
activation:
  name: relu
  pwlu:
    phase1_epochs: 1
    n: 8
data:
  name: synthetic
  synthetic: { size: 8, train: 16, test: 16 }
train:
  epochs: ${EPOCHS}
  batch: 8
`;

function pwlu(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PWLU_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function epochLines(dir: string): number[] {
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch?: number; event?: string })
    .filter((r) => r.event === undefined)
    .map((r) => r.epoch!);
}

describe('pwlu bench (CLI)', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'bench.js'))) throw new Error('run `npm run build` first (npm test does)');
    writeFileSync(CONFIG, MICRO);
  });
  afterAll(() => removeDir(tmp));

  it('resumes after kill -9 of the whole bench: the killed cell continues, every cell finishes', async () => {
    const out = join(tmp, 'killed');
    const args = [BIN, 'bench', '--config', CONFIG, '--activations', 'relu,pwlu', '--out', out];
    const killedCell = join(out, 'cells', 'resnet20-relu-s0');
    // Its own process group, so that SIGKILL takes the bench and its children at once (as kill -9 -PGID).
    const bench = spawn(process.execPath, args, { cwd: tmp, detached: true, stdio: 'ignore' });
    const closed = new Promise<void>((res) => bench.on('close', () => res()));
    const deadline = Date.now() + 90_000;
    while (!existsSync(join(killedCell, 'checkpoint-last.ckpt')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    // Right after a checkpoint: the furthest point from the next epoch's end.
    process.kill(-bench.pid!, 'SIGKILL');
    await closed;
    // No child survived the kill (a killed child may stay a zombie until it is reaped: give it a moment).
    const groupAlive = () => {
      try {
        process.kill(-bench.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(groupAlive()).toBe(false);
    expect(existsSync(join(killedCell, 'checkpoint-last.ckpt'))).toBe(true);
    expect(existsSync(join(killedCell, 'summary.json'))).toBe(false);
    const before = epochLines(killedCell);
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.length).toBeLessThan(EPOCHS);

    const again = pwlu(...args.slice(1));
    expect(again.stderr).toMatch(/1 to resume/);
    expect(again.code).toBe(0);
    for (const act of ['relu', 'pwlu']) {
      const dir = join(out, 'cells', `resnet20-${act}-s0`);
      const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { status: string; epochs_completed: number };
      expect(s.status).toBe('finished');
      expect(s.epochs_completed).toBe(EPOCHS);
      expect(epochLines(dir)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
      // Swapping the activation keeps the base config's activation options.
      const saved = parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as { activation: { name: string; pwlu: { n: number } } };
      expect(saved.activation).toMatchObject({ name: act, pwlu: { n: 8, phase1_epochs: 1 } });
    }
    expect(readFileSync(join(killedCell, 'train.log'), 'utf8')).toContain('resumed from checkpoint');
    const manifest = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as {
      cells: { name: string; status: string; attempts: { mode: string }[] }[];
      base_config_hash: string;
    };
    const relu = manifest.cells.find((c) => c.name === 'resnet20-relu-s0')!;
    expect(relu.attempts.map((a) => a.mode)).toEqual(['new', 'resume']);
    expect(relu.status).toBe('finished');
    // The comparison table ends the bench; the report files are in the folder.
    expect(again.stdout).toContain('| arch | relu | pwlu |');
    for (const f of ['results.csv', 'report.md', 'report.html']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(3);

    // Once more: nothing to do. With another base config: refused, nothing touched.
    const third = pwlu(...args.slice(1));
    expect(third.code).toBe(0);
    expect(third.stderr).toMatch(/2 already done/);
    const changed = pwlu(...args.slice(1), '--set', 'train.lr=0.05');
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/another base config/);
  }, 180_000);

  it('a sweep resumes after kill -9 like any grid: each cell keeps its overrides', async () => {
    const out = join(tmp, 'sweep');
    const args = [BIN, 'bench', '--config', CONFIG, '--activations', 'pwlu', '--sweep', 'activation.pwlu.n=4,6', '--out', out];
    const first = join(out, 'cells', 'resnet20-pwlu-n4-s0');
    const bench = spawn(process.execPath, args, { cwd: tmp, detached: true, stdio: 'ignore' });
    const closed = new Promise<void>((res) => bench.on('close', () => res()));
    const deadline = Date.now() + 90_000;
    while (!existsSync(join(first, 'checkpoint-last.ckpt')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    process.kill(-bench.pid!, 'SIGKILL');
    await closed;
    expect(existsSync(join(first, 'summary.json'))).toBe(false);
    const again = pwlu(...args.slice(1));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/× 2 activation\.pwlu\.n × /);
    for (const n of [4, 6]) {
      const dir = join(out, 'cells', `resnet20-pwlu-n${n}-s0`);
      expect((JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { status: string }).status).toBe('finished');
      expect(epochLines(dir)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
      const saved = parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as { activation: { pwlu: { n: number } } };
      expect(saved.activation.pwlu.n).toBe(n);
    }
    const manifest = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as {
      cells: { name: string; overrides: string[]; attempts: { mode: string }[] }[];
    };
    expect(manifest.cells.map((c) => [c.name, c.overrides])).toEqual([
      ['resnet20-pwlu-n4-s0', ['activation.pwlu.n=4']],
      ['resnet20-pwlu-n6-s0', ['activation.pwlu.n=6']],
    ]);
    expect(manifest.cells[0]!.attempts.map((a) => a.mode)).toEqual(['new', 'resume']);
  }, 180_000);

  it('records a failed cell (stderr tail in bench-error.txt), goes on, and exits with its code', () => {
    const fm = join(tmp, 'fm');
    mkdirSync(fm);
    const header = Buffer.alloc(16);
    header.writeUInt32BE(2051, 0);
    header.writeUInt32BE(60000, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    for (const f of ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz']) writeFileSync(join(fm, f), gzipSync(header));
    const labels = Buffer.alloc(8);
    labels.writeUInt32BE(2049, 0);
    for (const f of ['train-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) writeFileSync(join(fm, f), gzipSync(labels));
    const out = join(tmp, 'failing');
    const r = pwlu('bench', '--config', CONFIG, '--set', 'data.name=fashion-mnist', '--set', `data.dir=${fm}`, '--activations', 'relu,swish', '--out', out);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/FAILED \(exit code 2\)/);
    expect(r.stderr).toMatch(/2 cells failed/);
    const err = readFileSync(join(out, 'cells', 'resnet20-swish-s0', 'bench-error.txt'), 'utf8');
    expect(err).toMatch(/idx3-ubyte\.gz/);
    expect(r.stdout).toMatch(/seed 0 failed/);
  });

  it('checks every cell config before running anything', () => {
    const r = pwlu('bench', '--config', CONFIG, '--activations', 'relu,nope', '--out', join(tmp, 'bad'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cell resnet20 × nope/);
    expect(r.stderr).toMatch(/unknown activation 'nope'/);
    expect(existsSync(join(tmp, 'bad'))).toBe(false);
  });

  it('one --sweep per invocation grows one folder into a one-factor-at-a-time ablation; the base cell is one cell', () => {
    const out = join(tmp, 'ablation');
    // The base config has n=8 (MICRO) and realign on by default: those values name no override.
    expect(pwlu('bench', '--config', CONFIG, '--activations', 'pwlu', '--sweep', 'activation.pwlu.n=4,8', '--emit', 'slurm', '--out', out).code).toBe(0);
    expect(
      pwlu('bench', '--config', CONFIG, '--activations', 'pwlu', '--sweep', 'activation.pwlu.realign=true,false', '--emit', 'slurm', '--out', out).code,
    ).toBe(0);
    const m = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as {
      cells: { name: string; overrides?: string[]; attempts: unknown[] }[];
      commands: string[][];
    };
    // The n=4 cell of the first invocation never ran (only emitted), so the second manifest does not carry it;
    // a cell that ran stays listed (mergeCells). Both invocations are on record.
    expect(m.cells.map((c) => [c.name, c.overrides])).toEqual([
      ['resnet20-pwlu-s0', undefined],
      ['resnet20-pwlu-realignfalse-s0', ['activation.pwlu.realign=false']],
    ]);
    expect(m.commands.map((c) => c[c.indexOf('--sweep') + 1])).toEqual(['activation.pwlu.n=4,8', 'activation.pwlu.realign=true,false']);
  });

  it('--emit slurm writes the job array script, the manifest and a config snapshot', () => {
    const out = join(tmp, 'slurm');
    const r = pwlu('bench', '--config', CONFIG, '--all-activations', '--seeds', '2', '--emit', 'slurm', '--out', out, '--sbatch', 'partition=gpu');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`sbatch ${join(out, 'bench.sbatch')}`);
    const script = readFileSync(join(out, 'bench.sbatch'), 'utf8');
    const cells = 2 * activationNames().length; // --all-activations × 2 seeds
    expect(script).toContain(`#SBATCH --array=0-${cells - 1}`);
    expect(script).toContain('#SBATCH --partition=gpu');
    expect(readFileSync(join(out, 'base-config.yaml'), 'utf8')).toBe(MICRO);
    const m = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as { cells: unknown[] };
    expect(m.cells).toHaveLength(cells);
    // pwlu report reads the same folder: nothing has run, every cell is reported missing.
    const rep = pwlu('report', out, '--format', 'csv');
    expect(rep.code).toBe(0);
    expect(
      rep.stdout
        .trim()
        .split('\n')
        .slice(1)
        .every((l) => l.includes(',missing,')),
    ).toBe(true);
  });

  it('the commands as first typed: a config by name, bench without --config (the default base), report without a folder', () => {
    const named = pwlu('bench', '--config', 'quickstart.yaml', '--emit', 'slurm', '--out', join(tmp, 'named'));
    expect(named.code, named.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'named', 'base-config.yaml'), 'utf8')).toContain('arch: resnet20');
    const out = join(tmp, 'default-base');
    const r = pwlu('bench', '--all-activations', '--emit', 'slurm', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no --config: using the default bench base .*configs\/fashion-mnist\/resnet20-5ep\.yaml/);
    expect(readFileSync(join(out, 'base-config.yaml'), 'utf8')).toContain('epochs: 5');
    const missing = pwlu('bench', '--config', 'no-such-config', '--emit', 'slurm', '--out', join(tmp, 'nothing'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/config file no-such-config does not exist, here or under configs\//);
    const rep = pwlu('report', '--format', 'csv');
    expect(rep.stderr).toMatch(/reporting on .*results/);
  });
});
