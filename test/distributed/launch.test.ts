import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { launchLocal, withoutOptions, worstExitCode } from '../../src/distributed/launch.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-launch-');
afterAll(() => removeDir(tmp));

/**
 * A stand-in rank: records its environment and arguments in OUT/rank<R>.json, then exits with the code
 * given for its rank ("0,3" = rank 0 exits 0, rank 1 exits 3); "sleep" stays up until killed.
 */
const RANK_SCRIPT = join(tmp, 'rank.mjs');
writeFileSync(
  RANK_SCRIPT,
  `import { writeFileSync } from 'node:fs';
const [out, codes, ...rest] = process.argv.slice(2);
const rank = Number(process.env.RANK);
const keys = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'PWLU_LAUNCHER'];
writeFileSync(out + '/rank' + rank + '.json', JSON.stringify({ env: Object.fromEntries(keys.map((k) => [k, process.env[k]])), args: rest }));
const code = codes.split(',')[rank];
if (code === 'sleep') {
  setTimeout(() => writeFileSync(out + '/finished' + rank, ''), 60000);
} else {
  if (code !== '0') process.stderr.write('rank ' + rank + ' went wrong\\n');
  process.exit(Number(code));
}
`,
);

async function launch(name: string, codes: string, extra: Partial<Parameters<typeof launchLocal>[0]> = {}) {
  const out = join(tmp, name);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out);
  const reports: string[] = [];
  const t0 = performance.now();
  const code = await launchLocal({
    nproc: codes.split(',').length,
    args: ['train', '--config', 'x.yaml'],
    threads: 5,
    command: [process.execPath, RANK_SCRIPT, out, codes],
    report: (t) => reports.push(t),
    ...extra,
  });
  const ranks = codes.split(',').map((_, r) => JSON.parse(readFileSync(join(out, `rank${r}.json`), 'utf8')) as { env: Record<string, string>; args: string[] });
  return { code, ranks, reports: reports.join(''), seconds: (performance.now() - t0) / 1000, out };
}

describe('pwlu --nproc launcher', () => {
  it('gives every rank torchrun’s variables, one free port, and its share of the threads', async () => {
    const r = await launch('ok', '0,0');
    expect(r.code).toBe(0);
    r.ranks.forEach((rank, i) => {
      expect(rank.env).toEqual({
        RANK: String(i),
        WORLD_SIZE: '2',
        LOCAL_RANK: String(i),
        LOCAL_WORLD_SIZE: '2',
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: r.ranks[0]!.env.MASTER_PORT,
        PWLU_LAUNCHER: 'pwlu',
      });
      expect(rank.args).toEqual(['train', '--config', 'x.yaml', '--threads', '2']); // floor(5 / 2)
    });
    expect(Number(r.ranks[0]!.env.MASTER_PORT)).toBeGreaterThan(0);
    expect(r.reports).toBe('');
  });

  it('returns the failing rank’s code and shows its stderr', async () => {
    const r = await launch('fail', '0,3');
    expect(r.code).toBe(3);
    expect(r.reports).toContain('[rank 1] rank 1 went wrong');
    expect(r.reports).toContain('rank 1 of 2 exited with code 3');
  });

  it('stops the ranks still running once the grace period after a failure is over', async () => {
    const r = await launch('hang', '4,sleep', { graceS: 1 });
    expect(r.code).toBe(4);
    expect(r.seconds).toBeLessThan(15);
    expect(existsSync(join(r.out, 'finished1'))).toBe(false);
  });

  it('ranks the exit codes: a real failure, then an interruption, then success', () => {
    expect(worstExitCode([0, 0], null)).toBe(0);
    expect(worstExitCode([130, 0], null)).toBe(130);
    expect(worstExitCode([130, 3], 1)).toBe(3);
    expect(worstExitCode([143, 3], 1)).toBe(3); // the first to fail, not the one killed afterwards
    expect(worstExitCode([143, 3], null)).toBe(143);
  });

  it('drops the options it sets itself, in every spelling', () => {
    expect(
      withoutOptions(
        ['train', '--nproc', '2', '-c', 'a.yaml', '--threads', '4', '--set', 'x=1', '-t', '3', '--threads=2', '--nproc=4', '--out', 'o'],
        [{ long: '--nproc' }, { long: '--threads', short: '-t' }],
      ),
    ).toEqual(['train', '-c', 'a.yaml', '--set', 'x=1', '--out', 'o']);
  });
});
