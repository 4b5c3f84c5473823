/**
 * Data-parallel `pwlu train` on 2 Gloo ranks on 127.0.0.1 (the ranks started as torchrun would start
 * them: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), against one process over the same global batch:
 * weights equal within 1e-5 relative after k steps with SyncBatchNorm, PWLU's realigned bounds equal,
 * sharded evaluation equals the single-process one, only rank 0 writes the run's files, a distributed
 * run resumes, and a killed rank makes the other exit within the timeout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distSupport } from '../../src/backends/torch/dist.js';
import { readCheckpoint } from '../../src/run/checkpoint.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { freePort } from '../../src/distributed/launch.js';
import { optionalPart } from '../helpers/optional-parts.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pwlu.js');
const tmp = makeTmpDir('pwlu-ddp-');
const support = distSupport();
optionalPart('dist', support.available, support.reason);

/** A micro ResNet-20 with PWLU on synthetic 8x8 images, no augmentation (so both sides see the same pixels), plain SGD. */
const BASE = [
  '--backend',
  'torch',
  '--threads',
  '1',
  '--set',
  'seed=11',
  '--set',
  'data.name=synthetic',
  '--set',
  'data.synthetic.size=8',
  '--set',
  'data.synthetic.train=64',
  '--set',
  'data.synthetic.test=20',
  '--set',
  'data.augment.crop_padding=0',
  '--set',
  'data.augment.flip=false',
  '--set',
  'model.arch=resnet20',
  '--set',
  'model.width=0.125',
  '--set',
  'activation.name=pwlu',
  '--set',
  'activation.pwlu.phase1_epochs=1',
  '--set',
  'train.epochs=2',
  '--set',
  'train.max_steps_per_epoch=3',
  '--set',
  'train.lr=0.05',
  '--set',
  'train.schedule.name=constant',
  '--set',
  'dist.timeout_s=30',
];

interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function pwlu(args: string[], env: Record<string, string> = {}): Promise<Proc> {
  const t0 = performance.now();
  return new Promise((res) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: { ...process.env, PWLU_DEBUG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => res({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 }));
  });
}

/** `pwlu train` as `world` ranks with torchrun's environment. */
async function ranks(world: number, args: string[], env: (rank: number) => Record<string, string> = () => ({})): Promise<Proc[]> {
  const port = String(await freePort());
  return Promise.all(
    Array.from({ length: world }, (_, rank) =>
      pwlu(['train', ...args], {
        RANK: String(rank),
        WORLD_SIZE: String(world),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(world),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: port,
        ...env(rank),
      }),
    ),
  );
}

function weights(dir: string): Map<string, Float32Array> {
  return new Map(readCheckpoint(join(dir, 'checkpoint-last.ckpt')).tensors.map((t) => [t.name, t.values]));
}

function expectClose(got: Map<string, Float32Array>, want: Map<string, Float32Array>, rel: number): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, w] of want) {
    const g = got.get(name)!;
    let worst = 0;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!) / Math.max(1, Math.abs(w[i]!)));
    expect(worst, name).toBeLessThanOrEqual(rel);
  }
}

type Line = Record<string, unknown>;
const lines = (dir: string): Line[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

describe.skipIf(!support.available)('data-parallel pwlu train (2 gloo ranks)', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
  });
  afterAll(() => removeDir(tmp));

  it('with sync_bn equals one process over the global batch: weights, PWLU bounds, sharded eval; rank 0 alone writes', async () => {
    const single = await pwlu(['train', ...BASE, '--set', 'train.batch=8', '--out', 'single']);
    expect(single.stderr).not.toMatch(/error/i);
    expect(single.code).toBe(0);
    const dist = await ranks(2, [...BASE, '--set', 'train.batch=4', '--set', 'train.sync_bn=true', '--set', 'dist.check_every=1', '--out', 'dist']);
    for (const r of dist) expect(r.stderr, r.stderr).not.toMatch(/error/i);
    expect(dist.map((r) => r.code)).toEqual([0, 0]);
    const [s, d] = [join(tmp, 'single'), join(tmp, 'dist')];
    expectClose(weights(d), weights(s), 1e-5);
    // PWLU realigned at the start of epoch 2 to the global statistics.
    const realign = (dir: string) =>
      lines(dir)
        .filter((l) => l.event === 'realign')
        .map((l) => [l.layer, l.bl, l.br]);
    expect(realign(d).length).toBeGreaterThan(0);
    const [rs, rd] = [realign(s), realign(d)];
    rd.forEach((r, i) => {
      expect(r[0]).toBe(rs[i]![0]);
      for (const k of [1, 2]) [r[k]].flat().forEach((v, j) => expect(v as number).toBeCloseTo([rs[i]![k]].flat()[j] as number, 4));
    });
    // Sharded evaluation over the whole test split: the same counts.
    const epochs = (dir: string) => lines(dir).filter((l) => 'test_top1' in l);
    expect(epochs(d).map((l) => l.test_top1)).toEqual(epochs(s).map((l) => l.test_top1));
    // Rank 0's files only; rank 1 has its own log.
    const files = readdirSync(d).sort();
    expect(files).toEqual(expect.arrayContaining(['checkpoint-last.ckpt', 'config.yaml', 'metrics.jsonl', 'summary.json', 'train.log', 'train.rank1.log']));
    expect(files.filter((f) => f.includes('rank'))).toEqual(['train.rank1.log']);
    const summary = JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8')) as Record<string, unknown>;
    expect(summary.distributed).toEqual({ world_size: 2, backend: 'gloo', launcher: 'torchrun', per_rank_batch: 4, global_batch: 8, sync_bn: true });
    expect(dist[1]!.stdout).toBe(''); // rank 0 prints the summary
  }, 120_000);

  it('on a BN-free model equals one process without sync_bn (gradient averaging alone); a BN model without it does not', async () => {
    const plain = [...BASE, '--set', 'model.arch=plainnet', '--set', 'model.width=0.25'];
    const single = await pwlu(['train', ...plain, '--set', 'train.batch=8', '--out', 'plain-single']);
    expect(single.code, single.stderr).toBe(0);
    const dist = await ranks(2, [...plain, '--set', 'train.batch=4', '--out', 'plain-dist']);
    expect(
      dist.map((r) => r.code),
      dist[0]!.stderr,
    ).toEqual([0, 0]);
    expectClose(weights(join(tmp, 'plain-dist')), weights(join(tmp, 'plain-single')), 1e-5);
    // The control: ResNet-20's batch norm without sync_bn normalises each rank's half-batch on its own.
    if (!existsSync(join(tmp, 'single', 'checkpoint-last.ckpt')))
      expect((await pwlu(['train', ...BASE, '--set', 'train.batch=8', '--out', 'single'])).code).toBe(0);
    const perRankBn = await ranks(2, [...BASE, '--set', 'train.batch=4', '--out', 'bn-local']);
    expect(perRankBn.map((r) => r.code)).toEqual([0, 0]);
    expect(() => expectClose(weights(join(tmp, 'bn-local')), weights(join(tmp, 'single')), 1e-5)).toThrow();
  }, 120_000);

  it('resumes a distributed run: stopped by SIGTERM on one rank, both stop after the same step, and the resumed run ends where an uninterrupted one does', async () => {
    const args = [...BASE, '--set', 'train.batch=4', '--set', 'train.sync_bn=true', '--set', 'train.epochs=6'];
    const straight = await ranks(2, [...args, '--out', 'straight']);
    expect(straight.map((r) => r.code)).toEqual([0, 0]);
    const port = String(await freePort());
    const env = (rank: number) => ({ ...process.env, RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port });
    const children = [0, 1].map((rank) =>
      spawn(process.execPath, [BIN, 'train', ...args, '--out', 'stopped'], { cwd: tmp, env: env(rank), stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    let err0 = '';
    children[0]!.stderr.on('data', (d: Buffer) => {
      err0 += d.toString();
      if (/epoch 1\/6/.test(err0)) children[0]!.kill('SIGTERM');
    });
    const codes = await Promise.all(children.map((c) => new Promise<number | null>((r) => c.on('close', (code) => r(code)))));
    expect(codes).toEqual([130, 130]);
    const stoppedAt = readCheckpoint<{ epoch: number; stepInEpoch: number }>(join(tmp, 'stopped', 'checkpoint-last.ckpt')).meta;
    expect(stoppedAt.epoch).toBeLessThan(6);
    const resumed = await ranks(2, ['--resume', 'stopped']);
    expect(resumed.map((r) => r.code)).toEqual([0, 0]);
    expectClose(weights(join(tmp, 'stopped')), weights(join(tmp, 'straight')), 1e-6);
  }, 120_000);

  it('a killed rank makes the other exit non-zero within the timeout, naming its rank; the last checkpoint stays', async () => {
    const args = [...BASE, '--set', 'train.batch=4', '--set', 'train.epochs=500', '--set', 'dist.timeout_s=10', '--out', 'killed'];
    const port = String(await freePort());
    const env = (rank: number) => ({ ...process.env, RANK: String(rank), WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port });
    const c0 = spawn(process.execPath, [BIN, 'train', ...args], { cwd: tmp, env: env(0), stdio: ['ignore', 'ignore', 'pipe'] });
    const c1 = spawn(process.execPath, [BIN, 'train', ...args], { cwd: tmp, env: env(1), stdio: ['ignore', 'ignore', 'ignore'] });
    let err = '';
    const t0 = { at: 0 };
    c0.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/epoch 2\/500/.test(err) && !t0.at) {
        t0.at = performance.now();
        c1.kill('SIGKILL');
      }
    });
    const code = await new Promise<number | null>((r) => c0.on('close', (c) => r(c)));
    expect(code).toBe(3);
    expect((performance.now() - t0.at) / 1000).toBeLessThan(15);
    expect(err).toMatch(/failed on rank 0 of 2/);
    expect(readCheckpoint<{ epoch: number }>(join(tmp, 'killed', 'checkpoint-last.ckpt')).meta.epoch).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('refuses a bad launcher environment and a backend without collectives (exit 3)', () => {
    const bad = spawnSync(process.execPath, [BIN, 'train', ...BASE, '--out', 'bad'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29999' },
    });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/RANK/);
    const wasm = spawnSync(process.execPath, [BIN, 'train', ...BASE, '--backend', 'wasm', '--out', 'wasm'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29999' },
    });
    expect(wasm.status).toBe(3);
    expect(wasm.stderr).toMatch(/needs the torch backend/);
  });

  it('an unreachable master is exit 3 after dist.timeout_s, naming the address', async () => {
    const port = String(await freePort()); // nothing listens there
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, 'train', ...BASE, '--set', 'dist.timeout_s=2', '--out', 'orphan'], {
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: port },
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`rank 1 of 2 \\(torchrun\\) could not join the process group at 127\\.0\\.0\\.1:${port}`));
    expect((performance.now() - t0) / 1000).toBeLessThan(30);
  }, 60_000);

  // Debian's torchrun (torch 1.13 on Python 3.11) fails to parse its default --redirects 0; any single stream works.
  // torchrun's agent serves the store as a TCPStore with torch's defaults. Debian 13's python3-torch 2.6 asks for its
  // libuv server by default but was built without libuv, so torchrun cannot start there (USE_LIBUV=0 does not reach
  // that constructor): a TCPStore made as the agent makes it tells whether torchrun can run at all.
  const torchrun = spawnSync(
    '/usr/bin/python3',
    ['-c', 'import datetime, torch.distributed.run as _, torch.distributed as d; d.TCPStore("127.0.0.1", 0, 1, True, datetime.timedelta(seconds=10))'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const torchrunWhy = /No module named/.test(torchrun.stderr)
    ? '/usr/bin/python3 has no torch.distributed.run (apt-get install python3-torch)'
    : `/usr/bin/python3's torch cannot start torchrun's store here: ${torchrun.stderr.trim().split('\n').pop() ?? `exit ${torchrun.status}`}`;
  optionalPart('torchrun', torchrun.status === 0, torchrunWhy);
  it.skipIf(torchrun.status !== 0)(
    'launches unchanged under torchrun --no_python (its agent serves the rendezvous store)',
    async () => {
      const port = String(await freePort());
      const r = spawnSync(
        '/usr/bin/python3',
        [
          '-m',
          'torch.distributed.run',
          '--no_python',
          '--nnodes',
          '1',
          '--nproc_per_node',
          '2',
          '--master_addr',
          '127.0.0.1',
          '--master_port',
          port,
          '--redirects',
          '1',
          '--tee',
          '1',
          '--log_dir',
          join(tmp, 'torchrun-logs'),
          BIN,
          'train',
          ...BASE,
          '--set',
          'train.batch=4',
          '--out',
          'torchrun',
          '--json',
        ],
        { cwd: tmp, encoding: 'utf8', timeout: 120_000 },
      );
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      const summary = JSON.parse(readFileSync(join(tmp, 'torchrun', 'summary.json'), 'utf8')) as {
        status: string;
        distributed: { world_size: number; launcher: string };
      };
      expect(summary.status).toBe('finished');
      expect(summary.distributed).toMatchObject({ world_size: 2, launcher: 'torchrun' });
    },
    120_000,
  );
});
