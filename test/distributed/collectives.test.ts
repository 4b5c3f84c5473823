/**
 * The c10d process group of the torch addon (native/src/dist.cc) with 2 Gloo ranks on 127.0.0.1:
 * allreduce (sum, mean, buckets), broadcast, the differentiable allreduce-sum, and a peer that dies or
 * hangs failing the other rank within the timeout instead of hanging it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { distSupport } from '../../src/backends/torch/dist.js';
import { freePort } from '../../src/distributed/launch.js';
import { optionalPart } from '../helpers/optional-parts.js';

const ROOT = resolve(__dirname, '..', '..');
const WORKER = join(__dirname, 'fixtures', 'collective-worker.mjs');
const support = distSupport();
optionalPart('dist', support.available, support.reason);

interface RankResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the worker as `world` ranks; once rank 0 has exited, the others get `graceS` seconds before a SIGKILL (a hung rank). */
async function runRanks(world: number, env: Record<string, string> = {}, graceS = 30): Promise<RankResult[]> {
  const port = await freePort();
  const t0 = performance.now();
  const children: ReturnType<typeof spawn>[] = [];
  return Promise.all(
    Array.from(
      { length: world },
      (_, rank) =>
        new Promise<RankResult>((res) => {
          const child = spawn(process.execPath, [WORKER], {
            env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), MASTER_PORT: String(port), ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          children.push(child);
          child.on('close', (code) => {
            if (rank === 0) setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), graceS * 1000).unref();
            res({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
          });
        }),
    ),
  );
}

describe.skipIf(!support.available)('torch.distributed (gloo, 2 ranks on 127.0.0.1)', () => {
  it('allreduce sums and averages across ranks in buckets, broadcast copies the root, allReduceSum back-propagates the global sum', async () => {
    if (!existsSync(join(ROOT, 'dist', 'ops', 'collectives.js'))) throw new Error('run `npm run build` first (npm test does)');
    const ranks = await runRanks(2);
    for (const r of ranks) expect(r.stderr).toBe('');
    const out = ranks.map((r) => JSON.parse(r.stdout) as { rank: number; sum: number[][]; mean: number[][]; bcast: number[][]; grad: number[] });
    for (const o of out) {
      expect(o.sum).toEqual([[3, 6, 9, 12], [21, 41, 61], [1]]);
      expect(o.mean).toEqual([
        [1.5, 3, 4.5, 6],
        [10.5, 20.5, 30.5],
      ]);
      expect(o.bcast).toEqual([[1, 1.5]]);
      // The objective is the sum of every rank's loss: each rank's dL/ds is 1, so its x gets w_rank * 2.
      expect(o.grad).toEqual([2 * (o.rank + 1), 4 * (o.rank + 1)]);
    }
  });

  it('a rank that dies makes the other fail (exit non-zero, naming its rank), never hang', async () => {
    const [r0, r1] = await runRanks(2, { MODE: 'die', TIMEOUT_S: '20' });
    expect(r1!.code).toBe(7);
    expect(r0!.code).toBe(3);
    expect(r0!.stderr).toMatch(/rank 0: .*allreduce failed on rank 0 of 2 \(gloo, timeout 20 s\): .*peer rank/);
    expect(r0!.seconds).toBeLessThan(20);
  });

  it('a rank that hangs makes the other fail after the timeout', async () => {
    const [r0] = await runRanks(2, { MODE: 'hang', TIMEOUT_S: '2' }, 0);
    expect(r0!.code).toBe(3);
    expect(r0!.seconds).toBeLessThan(20);
    expect(r0!.stderr).toMatch(/allreduce failed on rank 0 of 2 \(gloo, timeout 2 s\)/);
  }, 60_000);
});
