import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pwlu.js');
const tmp = makeTmpDir('pwlu-cli-');

function pwlu(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PWLU_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A user-facing failure: one message, no JavaScript stack frames. */
function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)/m);
}

const MICRO = [
  '--set',
  'data.name=synthetic',
  '--set',
  'model.width=0.25',
  '--set',
  'data.synthetic.size=8',
  '--set',
  'data.synthetic.train=32',
  '--set',
  'data.synthetic.test=16',
  '--set',
  'train.batch=8',
  '--set',
  'train.epochs=1',
  '--backend',
  'cpu',
];

describe('pwlu CLI', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
  });
  afterAll(() => removeDir(tmp));

  it('prints its version and help with exit 0', () => {
    const v = pwlu('--version');
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = pwlu('train', '--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--resume <run_dir>');
  });

  it('doctor names the native build: libtorch version and its CUDA, NCCL, Gloo and JPEG features', () => {
    const r = pwlu('doctor', '--json');
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { build: { libtorch: string; cuda: boolean; nccl: boolean; gloo: boolean; jpeg: boolean } | null };
    const file = join(ROOT, 'native', 'build', 'libtorch.json');
    if (!existsSync(file)) {
      expect(d.build).toBeNull();
      return;
    }
    const info = JSON.parse(readFileSync(file, 'utf8')) as {
      version: string;
      cuda: boolean;
      jpeg: { available: boolean };
      dist: { backends?: string[] };
      oneDnn1x1?: { ok: boolean };
    };
    expect(d.build).toEqual({
      libtorch: info.version,
      source: expect.any(String) as unknown,
      cuda: info.cuda,
      nccl: info.dist.backends?.includes('nccl') ?? false,
      gloo: info.dist.backends?.includes('gloo') ?? false,
      jpeg: info.jpeg.available,
      oneDnn1x1: info.oneDnn1x1 ? (info.oneDnn1x1.ok ? 'ok' : 'routed') : 'unchecked',
    });
    expect(pwlu('doctor').stdout).toMatch(
      new RegExp(
        `native build: libtorch ${info.version.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*; CUDA (yes|no), NCCL (yes|no), Gloo (yes|no), JPEG (yes|no)`,
      ),
    );
  });

  it('doctor says a missing tfjs-node is optional and what installing it gives, not a resolver error with a path', () => {
    const d = JSON.parse(pwlu('doctor', '--json').stdout) as { backends: { name: string; available: boolean; why: string }[] };
    const tf = d.backends.find((b) => b.name === 'tensorflow');
    expect(tf).toBeDefined();
    expect(tf!.why).not.toMatch(/Cannot find (package|module)|imported from/);
    if (!tf!.available && tf!.why.startsWith('not installed')) expect(tf!.why).toMatch(/^not installed \(optional; @tensorflow\/tfjs-node adds libtensorflow/);
  });

  it('exits 1 on an unknown command or option', () => {
    expect(pwlu('trian').code).toBe(1);
    expect(pwlu('train', '--bogus').code).toBe(1);
  });

  it('exits 1 naming the file when the config is missing', () => {
    const r = pwlu('train', '--config', 'nope.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('nope.yaml');
    expectNoStack(r.stderr);
  });

  it('exits 1 with file, line, key path and a suggestion for a bad key', () => {
    writeFileSync(join(tmp, 'bad.yaml'), 'model:\n  arch: resnet20\ntrain:\n  epoch: 3\n');
    const r = pwlu('train', '--config', 'bad.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:4: train\.epoch: .*did you mean 'epochs'/);
    expectNoStack(r.stderr);
  });

  it('exits 1 for an unknown architecture or activation, listing the choices', () => {
    const r = pwlu('train', '--set', 'model.arch=resnet21', '--set', 'activation.name=relu2');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model\.arch: unknown architecture 'resnet21'; choose one of: .*resnet20/);
    expect(r.stderr).toMatch(/activation\.name: unknown activation 'relu2'; choose one of: .*relu/);
  });

  it('exits 2 on a corrupt dataset file, naming it', () => {
    const dir = join(tmp, 'fm');
    mkdirSync(dir);
    const header = Buffer.alloc(16);
    header.writeUInt32BE(2051, 0);
    header.writeUInt32BE(60000, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    for (const f of ['train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz']) writeFileSync(join(dir, f), gzipSync(header)); // truncated: no pixels
    const labels = Buffer.alloc(8);
    labels.writeUInt32BE(2049, 0);
    for (const f of ['train-labels-idx1-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) writeFileSync(join(dir, f), gzipSync(labels));
    const r = pwlu('train', '--set', `data.dir=${dir}`, '--set', 'pwlu.n=8', '--backend', 'cpu', '--out', join(tmp, 'r-data'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/idx3-ubyte\.gz/);
    // A deprecated key path is logged as a warning before anything else fails.
    expect(r.stderr).toContain("pwlu WARN: --set pwlu.n: 'pwlu.n' is deprecated; use 'activation.pwlu.n'");
    expectNoStack(r.stderr);
  });

  it('exits 3 when a forced backend is not available', () => {
    const r = pwlu('train', ...MICRO, '--backend', 'tensorflow', '--out', join(tmp, 'r-tf'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/backend 'tensorflow' is not usable/);
    expectNoStack(r.stderr);
  });

  it('warns in one line when automatic selection falls back from a missing torch addon, and not when the backend is named', () => {
    const noAddon = { ...process.env, PWLU_DEBUG: '', PWLU_TORCH_ADDON: join(tmp, 'missing', 'pwlu_torch.node') };
    const run = (backend: string, out: string) =>
      spawnSync(process.execPath, [BIN, 'train', ...MICRO, '--backend', backend, '--set', 'train.max_steps_per_epoch=1', '--out', join(tmp, out)], {
        encoding: 'utf8',
        cwd: tmp,
        env: noAddon,
        timeout: 120_000,
      });
    const auto = run('auto', 'r-auto');
    expect(auto.status).toBe(0);
    const warned = auto.stderr.split('\n').filter((l) => l.includes('native torch backend is unavailable'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/not built .*missing.*running on 'wasm'/);
    const named = run('wasm', 'r-wasm');
    expect(named.status).toBe(0);
    expect(named.stderr).not.toContain('native torch backend is unavailable');
  });

  it('trains, writes the run directory, evaluates, and never overwrites a run', () => {
    const out = join(tmp, 'run');
    const r = pwlu('train', ...MICRO, '--out', out, '--json');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { status: string; final: { top1: number }; backend: { name: string }; config_hash: string };
    expect(summary.status).toBe('finished');
    expect(summary.backend.name).toBe('cpu');
    // No validation split here: nothing is selected, so there is no best checkpoint.
    expect(existsSync(join(out, 'checkpoint-best.ckpt'))).toBe(false);
    for (const f of ['config.yaml', 'metrics.jsonl', 'summary.json', 'checkpoint-last.ckpt', 'train.log']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(summary);

    const e = pwlu('eval', '--run', out, '--checkpoint', 'last', '--json', '--backend', 'cpu');
    expect(e.code).toBe(0);
    expect((JSON.parse(e.stdout) as { top1: number }).top1).toBeCloseTo(summary.final.top1, 6);

    const before = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const again = pwlu('train', ...MICRO, '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe(before);
  });

  it('saves a checkpoint and exits 130 on Ctrl-C; --resume continues the run', async () => {
    const out = join(tmp, 'run-int');
    const args = [BIN, 'train', ...MICRO, '--set', 'train.epochs=200', '--out', out];
    const child = spawn(process.execPath, args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('epoch 2/200')) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted: checkpoint saved/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { status: string; epochs_completed: number };
    expect(summary.status).toBe('interrupted');
    expect(summary.epochs_completed).toBeGreaterThanOrEqual(2);
    // Resume with a shorter horizon is not allowed (same config); resuming a finished run is a no-op.
    const r = pwlu('train', '--resume', out, '--set', 'train.epochs=3');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--resume continues a run with the config saved in it/);
  });
});
