import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellSets, expandGrid } from '../../src/bench/grid.js';
import { renderSlurmScript, shellQuote } from '../../src/bench/slurm.js';
import { commandLine } from '../../src/run/lock.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-slurm-');
const out = join(tmp, 'res');
const script = join(out, 'bench.sbatch');
const cells = expandGrid(['resnet20', 'resnet56'], ['relu', 'pwlu'], [0, 1]);

const ROOT = join(__dirname, '..', '..');
const wrapper = join(tmp, 'pwlu.sh');

/**
 * $PWLU for a task: `pwlu bench --cell` runs the real pwlu (the script asks it what the cell needs), and `train`
 * plays `fake`: 'echo' prints the command as `PWLU …`, 'false' fails, else a bash script to run.
 */
function pwluAs(fake: string): string {
  return `bash ${wrapper} ${fake}`;
}

function task(i: number, fake: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [script], {
    encoding: 'utf8',
    env: { ...process.env, SLURM_ARRAY_TASK_ID: String(i), PWLU: pwluAs(fake), SLURM_CPUS_PER_TASK: '4' },
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pwlu bench --emit slurm script', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      wrapper,
      `fake=$1; shift\nif [ "$1" = bench ]; then exec node ${join(ROOT, 'bin', 'pwlu.js')} "$@"; fi\ncase "$fake" in echo) echo PWLU "$@" ;; false) exit 1 ;; *) exec bash "$fake" "$@" ;; esac\n`,
    );
    writeFileSync(
      script,
      renderSlurmScript({
        out,
        config: join(out, 'base-config.yaml'),
        bin: '/opt/pwlu/bin/pwlu.js',
        cells,
        cellSets,
        sets: ['train.lr=0.05', "name=it's"],
        backend: 'torch',
        throttle: 3,
        sbatch: ['partition=gpu', '--time=24:00:00'],
        tasksPerCell: 1,
        gpusPerCell: 0,
      }),
    );
  });
  afterAll(() => removeDir(tmp));

  it('is valid bash with one array task per cell and the directives', () => {
    const text = readFileSync(script, 'utf8');
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    expect(text).toContain('#SBATCH --array=0-7%3');
    expect(text).toContain('#SBATCH --partition=gpu');
    expect(text).toContain('#SBATCH --time=24:00:00');
    expect(text).toContain(`#SBATCH --output=${out}/slurm/%A_%a.out`);
    for (const [i, c] of cells.entries()) expect(text).toContain(`  ${i}) CELL=${c.name}; CELL_SETS=(--set model.arch=${c.arch}`);
    expect(text.match(/^ {2}\d+\) CELL=/gm)).toHaveLength(cells.length);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('starts a new cell with the base config, the shared and the cell --set, into cells/<name>', () => {
    const r = task(1, 'echo');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `PWLU train --config ${out}/base-config.yaml --set train.lr=0.05 --set name=it's --set model.arch=resnet20 --set activation.name=pwlu --set seed=0 --out ${out}/cells/resnet20-pwlu-s0 --json --threads 4 --backend torch`,
    );
  });

  it('resumes a cell with a checkpoint, skips a finished one, moves a dead attempt aside', () => {
    const dir = (i: number) => join(out, 'cells', cells[i]!.name);
    mkdirSync(dir(2), { recursive: true });
    writeFileSync(join(dir(2), 'config.yaml'), '');
    writeFileSync(join(dir(2), 'checkpoint-last.ckpt'), '');
    writeFileSync(join(dir(2), 'bench-error.txt'), 'old');
    const resumed = task(2, 'echo');
    expect(resumed.stdout).toContain(`PWLU train --resume ${dir(2)} --json --threads 4 --backend torch`);
    expect(existsSync(join(dir(2), 'bench-error.prev-1.txt'))).toBe(true);

    writeFileSync(join(dir(2), 'summary.json'), JSON.stringify({ status: 'finished' }, null, 2));
    const skipped = task(2, 'echo');
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toContain('is done; skipping');
    expect(skipped.stdout).not.toContain('PWLU train');

    mkdirSync(dir(3), { recursive: true });
    writeFileSync(join(dir(3), 'config.yaml'), 'dead');
    const restarted = task(3, 'echo');
    expect(restarted.stdout).toContain('moved to cells/resnet56-pwlu-s0.failed-1');
    expect(restarted.stdout).toContain(`--out ${dir(3)}`);
    expect(readFileSync(join(`${dir(3)}.failed-1`, 'config.yaml'), 'utf8')).toBe('dead');
  });

  it('records a failed cell in bench-error.txt and exits with its code; rejects a task id out of range', () => {
    const r = task(4, 'false');
    expect(r.code).toBe(1);
    expect(readFileSync(join(out, 'cells', cells[4]!.name, 'bench-error.txt'), 'utf8')).toMatch(/failed \(exit code 1\)/);
    const bad = task(99, 'echo');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('no cell for array task 99');
  });

  it('passes a SIGINT/SIGTERM from Slurm on to the cell as SIGINT (it saves a checkpoint) and exits 130', async () => {
    const fake = join(tmp, 'fake.sh');
    writeFileSync(fake, "trap 'echo got-int >&2; exit 130' INT\necho started >&2\nfor i in $(seq 100); do sleep 0.1; done\n");
    const child = spawn('bash', [script], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '5', PWLU: pwluAs(fake) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('(new)')) setTimeout(() => child.kill('SIGTERM'), 500);
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    expect(code).toBe(130);
    expect(stderr).toContain('got-int');
    expect(existsSync(join(out, 'cells', cells[5]!.name, 'bench-error.txt'))).toBe(false);
  });

  it('runs a distributed cell as srun tasks (one GPU each), and passes Slurm’s signal on to srun as SIGTERM', () => {
    const dir = join(tmp, 'ddp');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    const ddpScript = join(dir, 'bench.sbatch');
    writeFileSync(
      ddpScript,
      renderSlurmScript({
        out: dir,
        config: join(dir, 'base-config.yaml'),
        bin: '/opt/pwlu/bin/pwlu.js',
        cells,
        cellSets,
        sets: [],
        backend: null,
        throttle: null,
        sbatch: [],
        tasksPerCell: 2,
        gpusPerCell: 2,
      }),
    );
    const text = readFileSync(ddpScript, 'utf8');
    expect(spawnSync('bash', ['-n', ddpScript]).status).toBe(0);
    expect(text).toContain('#SBATCH --ntasks=2');
    expect(text).toContain('#SBATCH --gpus-per-task=1');
    expect(text).toContain('STOP=TERM');
    // A stand-in srun that prints how it was called.
    writeFileSync(join(dir, 'bin', 'srun'), '#!/bin/bash\necho "SRUN $*"\n', { mode: 0o755 });
    const r = spawnSync('bash', [ddpScript], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: '0', PWLU: pwluAs('echo'), SLURM_CPUS_PER_TASK: '4' },
      timeout: 20_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`SRUN --ntasks=2 --kill-on-bad-exit=1 bash ${wrapper} echo train --config ${dir}/base-config.yaml --set model.arch=resnet20`);
    expect(readFileSync(script, 'utf8')).toContain('STOP=INT'); // single-process cells keep SIGINT
  });

  it("pwlu bench --cell prints what a cell needs and exits with its code, by the local runner's rules", async () => {
    const bench = join(tmp, 'cells-bench');
    const cellDir = (name: string) => join(bench, 'cells', name);
    const cell = (name: string) => {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'pwlu.js'), 'bench', '--out', bench, '--cell', name], { encoding: 'utf8', timeout: 30_000 });
      return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
    };
    expect(cell('a')).toMatchObject({ code: 0, stdout: 'new' });

    mkdirSync(cellDir('b'), { recursive: true });
    writeFileSync(join(cellDir('b'), 'config.yaml'), '');
    writeFileSync(join(cellDir('b'), 'checkpoint-last.ckpt'), '');
    writeFileSync(join(cellDir('b'), 'bench-error.txt'), 'old');
    expect(cell('b')).toMatchObject({ code: 10, stdout: 'resume: no summary (killed)' });
    expect(existsSync(join(cellDir('b'), 'bench-error.prev-1.txt'))).toBe(true);

    // A diverged run is a result, whatever its exit was; formatting of summary.json does not matter (no regex).
    writeFileSync(join(cellDir('b'), 'summary.json'), JSON.stringify({ status: 'diverged' }));
    expect(cell('b')).toMatchObject({ code: 11, stdout: 'done: diverged' });

    // The next free index is after the highest one (a gap is not reused), as the local runner does.
    mkdirSync(`${cellDir('c')}.failed-3`, { recursive: true });
    mkdirSync(cellDir('c'), { recursive: true });
    writeFileSync(join(cellDir('c'), 'config.yaml'), 'dead');
    expect(cell('c')).toMatchObject({ code: 0, stdout: 'new: died before its first checkpoint; moved to cells/c.failed-4' });

    // A cell another live process trains is left alone.
    mkdirSync(cellDir('d'), { recursive: true });
    writeFileSync(join(cellDir('d'), 'config.yaml'), '');
    const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'pwlu'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 500 && !(commandLine(owner.pid!) ?? '').includes('pwlu'); i++) await new Promise((r) => setTimeout(r, 10));
      writeFileSync(join(cellDir('d'), 'run.lock'), JSON.stringify({ pid: owner.pid, host: hostname(), started: 'now', what: 'pwlu train' }));
      const busy = cell('d');
      expect(busy.code).toBe(12);
      expect(busy.stdout).toBe(`busy: still being trained by pid ${owner.pid} on ${hostname()}`);
    } finally {
      owner.kill();
    }

    expect(cell('../x')).toMatchObject({ code: 1 });
    expect(cell('../x').stderr).toContain("--cell '../x' is not a cell name");
  });
});
