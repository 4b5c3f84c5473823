/**
 * What users and machines do to `pwlu train` as a process: SIGTERM, repeated Ctrl-C, two processes
 * on one run directory, resuming a finished run, --out on a file, a data.dir without the data (no run directory left).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stopOnSignals } from '../../src/cli/train.js';
import { readCheckpoint } from '../../src/run/checkpoint.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pwlu.js');
const tmp = makeTmpDir('pwlu-cli-faults-');

const MICRO = [
  '--set',
  'data.name=synthetic',
  '--set',
  'model.width=0.125',
  '--set',
  'data.synthetic.size=6',
  '--set',
  'data.synthetic.train=16',
  '--set',
  'data.synthetic.test=8',
  '--set',
  'train.batch=8',
  '--backend',
  'cpu',
];

function pwlu(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PWLU_DEBUG: '' }, timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `pwlu train` for many epochs; resolves once it has finished `epochs` epochs. */
function startLong(args: string[], epochs = 1): { child: ChildProcess; stderr: () => string; trained: Promise<void>; closed: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'train', ...MICRO, '--set', 'train.epochs=500', ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let mark: () => void = () => {};
  const trained = new Promise<void>((r) => (mark = r));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.includes(`epoch ${epochs}/500`)) mark();
  });
  const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  return { child, stderr: () => err, trained, closed };
}

describe('pwlu train under faults', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
  });
  afterAll(() => removeDir(tmp));

  it('SIGTERM saves a checkpoint, writes the summary and a log line, and exits 130', async () => {
    const out = join(tmp, 'term');
    const run = startLong(['--out', out]);
    await run.trained;
    run.child.kill('SIGTERM');
    expect(await run.closed).toBe(130);
    expect(run.stderr()).toMatch(/interrupt \(SIGTERM\)/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { status: string; epochs_completed: number };
    expect(summary.status).toBe('interrupted');
    expect(summary.epochs_completed).toBeGreaterThanOrEqual(1);
    expect(readFileSync(join(out, 'train.log'), 'utf8')).toMatch(/interrupted: checkpoint saved/);
    expect(readCheckpoint<{ epoch: number }>(join(out, 'checkpoint-last.ckpt')).meta.epoch).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(out, 'run.lock'))).toBe(false);
  });

  it('a second Ctrl-C does not cut the checkpoint short', async () => {
    const out = join(tmp, 'int2');
    const run = startLong(['--out', out]);
    await run.trained;
    run.child.kill('SIGINT');
    run.child.kill('SIGINT');
    expect(await run.closed).toBe(130);
    expect(run.stderr()).toMatch(/interrupted: checkpoint saved/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ status: 'interrupted' });
    expect(() => readCheckpoint(join(out, 'checkpoint-last.ckpt'))).not.toThrow();
  });

  it('the signal handler never exits the process: a repeated signal only says the save is under way', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const signals = stopOnSignals();
    try {
      expect(signals.stopped()).toBe(false);
      process.emit('SIGTERM', 'SIGTERM');
      expect(signals.stopped()).toBe(true);
      process.emit('SIGINT', 'SIGINT');
      expect(exit).not.toHaveBeenCalled();
      expect(write.mock.calls.map((c) => String(c[0])).join('')).toMatch(/interrupt \(SIGTERM\)[\s\S]*SIGINT again: still saving the checkpoint/);
    } finally {
      signals.dispose();
      exit.mockRestore();
      write.mockRestore();
    }
    expect(process.listenerCount('SIGTERM')).toBe(0);
  });

  it('two processes on one run directory: the second is refused, naming the first; nothing is overwritten', async () => {
    const out = join(tmp, 'two');
    const first = startLong(['--out', out]);
    await first.trained;
    const again = pwlu('train', ...MICRO, '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`in use by pwlu train \\(pid ${first.child.pid}`));
    const resume = pwlu('train', '--resume', out);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toMatch(new RegExp(`in use by pwlu train \\(pid ${first.child.pid}`));
    first.child.kill('SIGINT');
    expect(await first.closed).toBe(130);
    const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    expect(epochs).toEqual(epochs.map((_, i) => i + 1));
  });

  it('two processes started together on one new directory: exactly one trains it', async () => {
    const out = join(tmp, 'race');
    const args = [BIN, 'train', ...MICRO, '--set', 'train.epochs=2', '--out', out];
    const start = () =>
      new Promise<{ code: number | null; stderr: string }>((r) => {
        const c = spawn(process.execPath, args, { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        c.on('close', (code) => r({ code, stderr }));
      });
    const results = await Promise.all([start(), start()]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)!.stderr).toMatch(/in use by pwlu train|already exists and is not empty/);
    const epochs = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    expect(epochs).toEqual([1, 2]);
  });

  it('--resume of a finished run says so and changes nothing', () => {
    const out = join(tmp, 'done');
    expect(pwlu('train', ...MICRO, '--set', 'train.epochs=1', '--out', out).code).toBe(0);
    const before = new Map(readdirSync(out).map((f) => [f, { text: readFileSync(join(out, f)).toString('base64'), mtime: statSync(join(out, f)).mtimeMs }]));
    const r = pwlu('train', '--resume', out);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/has finished already \(1\/1 epochs\); nothing to do/);
    const after = new Map(readdirSync(out).map((f) => [f, { text: readFileSync(join(out, f)).toString('base64'), mtime: statSync(join(out, f)).mtimeMs }]));
    expect(after).toEqual(before);
  });

  it('--out naming an existing file: exit 1 with the path, the file untouched', () => {
    const file = join(tmp, 'not-a-dir');
    writeFileSync(file, 'keep');
    const r = pwlu('train', ...MICRO, '--out', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file} exists and is not a directory`);
    expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });

  it('an explicit data.dir without the dataset fails with exit 2, downloads nothing elsewhere and leaves no run directory', () => {
    const empty = join(tmp, 'empty-data');
    mkdirSync(empty, { recursive: true });
    const r = pwlu(
      'train',
      '--set',
      'data.name=fashion-mnist',
      '--set',
      `data.dir=${empty}`,
      '--set',
      'data.download=true',
      '--backend',
      'cpu',
      '--out',
      join(tmp, 'fm-bad'),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(empty);
    expect(r.stderr).toMatch(/data\.dir/);
    expect(readdirSync(empty)).toEqual([]);
    expect(existsSync(join(ROOT, 'datasets', 'fashion-mnist', 'downloading'))).toBe(false);
    // Nothing was trained: the run directory this attempt created is gone again (no config.yaml + train.log husk).
    expect(existsSync(join(tmp, 'fm-bad'))).toBe(false);
    expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
  });
});
