import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expandGrid, type Cell } from '../../src/bench/grid.js';
import { mergeCells } from '../../src/bench/plan.js';
import { readManifest, type BenchManifest } from '../../src/run/bench-manifest.js';
import type { BenchDisplay } from '../../src/bench/progress.js';
import { runBench, type ChildHandle, type LaunchResult, type Launcher } from '../../src/bench/runner.js';
import { commandLine } from '../../src/run/lock.js';
import { UserError } from '../../src/util/errors.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-runner-');
afterAll(() => removeDir(tmp));

type Behaviour = 'finish' | 'fail' | 'wait' | 'diverge';

/** A launcher that plays pwlu train: writes the run files a real one would, without training. */
function fakeLauncher(
  behaviour: (name: string) => Behaviour,
  log: { args: string[]; concurrent: number; maxConcurrent: number; interrupts: string[] },
): Launcher {
  return (args) => {
    log.args.push(args.join(' '));
    log.concurrent++;
    log.maxConcurrent = Math.max(log.maxConcurrent, log.concurrent);
    const dir = args[args.indexOf(args.includes('--resume') ? '--resume' : '--out') + 1]!;
    const name = dir.split('/').pop()!;
    mkdirSync(dir, { recursive: true });
    if (!args.includes('--resume')) writeFileSync(join(dir, 'config.yaml'), `# ${name}\n`);
    const b = behaviour(name);
    let resolveDone!: (r: LaunchResult) => void;
    const done = new Promise<LaunchResult>((res) => (resolveDone = res));
    const end = (r: LaunchResult) => {
      log.concurrent--;
      resolveDone(r);
    };
    const summary = (status: string) =>
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ status, final: { top1: 50 }, best: { top1: 50, epoch: 2 }, wall_s: 3 }));
    const metrics = () => writeFileSync(join(dir, 'metrics.jsonl'), '{"epoch":1,"test_top1":40}\n{"epoch":2,"test_top1":50}\n');
    setTimeout(() => {
      if (b === 'finish') {
        metrics();
        writeFileSync(join(dir, 'checkpoint-last.ckpt'), 'x');
        summary('finished');
        end({ code: 0, signal: null, stderrTail: 'pwlu: epoch 2/2\n' });
      } else if (b === 'diverge') {
        summary('diverged');
        end({ code: 4, signal: null, stderrTail: 'pwlu: error: training diverged\n' });
      } else if (b === 'fail') {
        end({ code: 2, signal: null, stderrTail: 'pwlu: loading data\npwlu: error: cifar10: data_batch_1.bin is truncated\n' });
      }
    }, 20);
    const handle: ChildHandle = {
      pid: undefined,
      done,
      interrupt: () => {
        log.interrupts.push(name);
        writeFileSync(join(dir, 'checkpoint-last.ckpt'), 'x');
        summary('interrupted');
        end({ code: 130, signal: null, stderrTail: 'pwlu WARN: interrupted: checkpoint saved\n' });
      },
      interruptSeen: () => false,
    };
    return handle;
  };
}

const quiet: BenchDisplay = { update() {}, cellEnded() {}, note() {}, stop() {} };

function manifestFor(out: string, cells: Cell[]): BenchManifest {
  return {
    version: 1,
    created: '',
    updated: '',
    command: [],
    base_config: 'base.yaml',
    base_config_hash: 'h',
    setup: 's',
    dataset: 'synthetic',
    sets: [],
    backend: null,
    archs: [],
    activations: [],
    seeds: [],
    jobs: 2,
    threads_per_job: 1,
    cells: mergeCells(cells, null),
  };
}

function plan(out: string, cells: Cell[], jobs = 2) {
  return {
    out,
    cells,
    jobs,
    epochsPerCell: 2,
    newArgs: (c: Cell, dir: string) => ['train', '--config', 'base.yaml', '--set', `activation.name=${c.activation}`, '--out', dir, '--json'],
    resumeArgs: (_c: Cell, dir: string) => ['train', '--resume', dir, '--json'],
  };
}

describe('bench runner', () => {
  it('skips finished cells, resumes killed ones, moves dead ones aside, records failures and goes on', async () => {
    const out = join(tmp, 'b1');
    const cells = expandGrid(['resnet20'], ['relu', 'swish', 'prelu', 'apl', 'pwlu', 'frelu'], [0]);
    const cdir = (act: string) => join(out, 'cells', `resnet20-${act}-s0`);
    // relu: finished earlier. swish: killed (config + checkpoint, no summary). prelu: died before a checkpoint.
    mkdirSync(cdir('relu'), { recursive: true });
    writeFileSync(join(cdir('relu'), 'config.yaml'), '');
    writeFileSync(join(cdir('relu'), 'summary.json'), '{"status": "finished"}');
    mkdirSync(cdir('swish'), { recursive: true });
    writeFileSync(join(cdir('swish'), 'config.yaml'), '');
    writeFileSync(join(cdir('swish'), 'checkpoint-last.ckpt'), '');
    writeFileSync(join(cdir('swish'), 'bench-error.txt'), 'an older failure');
    mkdirSync(cdir('prelu'), { recursive: true });
    writeFileSync(join(cdir('prelu'), 'config.yaml'), 'old attempt');
    const log = { args: [] as string[], concurrent: 0, maxConcurrent: 0, interrupts: [] as string[] };
    const lines: string[] = [];
    const display: BenchDisplay = { ...quiet, cellEnded: (l) => lines.push(l) };
    const manifest = manifestFor(out, cells);
    const outcome = await runBench(plan(out, cells), manifest, {
      launcher: fakeLauncher((n) => (n.includes('apl') ? 'fail' : n.includes('frelu') ? 'diverge' : 'finish'), log),
      display,
    });
    // relu never launched; swish resumed; prelu moved aside and started again.
    expect(log.args.some((a) => a.includes('resnet20-relu-s0'))).toBe(false);
    expect(log.args).toContain(`train --resume ${cdir('swish')} --json`);
    expect(log.args.some((a) => a.includes('--out') && a.includes(cdir('prelu')))).toBe(true);
    expect(readFileSync(join(`${cdir('prelu')}.failed-1`, 'config.yaml'), 'utf8')).toBe('old attempt');
    expect(readdirSync(cdir('swish'))).toContain('bench-error.prev-1.txt');
    expect(log.maxConcurrent).toBeLessThanOrEqual(2);
    // apl failed: recorded in its cell and in the manifest; the others went on.
    expect(outcome.failed).toEqual([{ name: 'resnet20-apl-s0', code: 2 }]);
    const err = readFileSync(join(cdir('apl'), 'bench-error.txt'), 'utf8');
    expect(err).toMatch(/failed \(exit code 2\)/);
    expect(err).toContain('data_batch_1.bin is truncated');
    const m = readManifest(out)!;
    const st = Object.fromEntries(m.cells.map((c) => [c.activation, c.status]));
    expect(st).toEqual({ relu: 'finished', swish: 'finished', prelu: 'finished', apl: 'failed', pwlu: 'finished', frelu: 'diverged' });
    expect(m.cells.find((c) => c.activation === 'apl')!.error_tail).toContain('truncated');
    expect(m.cells.find((c) => c.activation === 'prelu')!.attempts[0]!.moved_aside).toBe('cells/resnet20-prelu-s0.failed-1');
    expect(lines.some((l) => /FAILED \(exit code 2\).*truncated/.test(l))).toBe(true);
    expect(lines.filter((l) => l.includes('finished: top-1 50.00%'))).toHaveLength(3);

    // A second run of the same plan retries only the failed cell (moving its dead attempt aside).
    const log2 = { args: [] as string[], concurrent: 0, maxConcurrent: 0, interrupts: [] as string[] };
    const again = await runBench(plan(out, cells), readManifest(out)!, { launcher: fakeLauncher(() => 'finish', log2), display: quiet });
    expect(log2.args).toHaveLength(1);
    expect(log2.args[0]).toContain(cdir('apl'));
    expect(existsSync(join(`${cdir('apl')}.failed-1`, 'bench-error.txt'))).toBe(true);
    expect(again.failed).toEqual([]);
    expect(again.skipped).toBe(5);
  });

  it('on stop: launches nothing more, interrupts each running cell once, and reports interrupted', async () => {
    const out = join(tmp, 'b2');
    const cells = expandGrid(['resnet20'], ['relu', 'swish', 'pwlu'], [0]);
    const log = { args: [] as string[], concurrent: 0, maxConcurrent: 0, interrupts: [] as string[] };
    const ctl = new AbortController();
    const p = runBench(plan(out, cells, 2), manifestFor(out, cells), {
      launcher: fakeLauncher(() => 'wait', log),
      display: quiet,
      stop: ctl.signal,
      interruptGraceMs: 10,
    });
    await new Promise((r) => setTimeout(r, 50));
    ctl.abort();
    const outcome = await p;
    expect(outcome.interrupted).toBe(true);
    expect(log.args).toHaveLength(2);
    expect(log.interrupts.sort()).toEqual(['resnet20-relu-s0', 'resnet20-swish-s0']);
    const st = Object.fromEntries(readManifest(out)!.cells.map((c) => [c.activation, c.status]));
    expect(st).toEqual({ relu: 'interrupted', swish: 'interrupted', pwlu: 'pending' });
  });

  it('refuses to start while another process trains in a cell directory, naming the cell and the process', async () => {
    const out = join(tmp, 'b3');
    const cells = expandGrid(['resnet20'], ['relu', 'swish'], [0]);
    const dir = join(out, 'cells', 'resnet20-swish-s0');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.yaml'), '');
    const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'pwlu'], { stdio: 'ignore' });
    try {
      // The owner must be the pwlu-named process, not its parent's copy before exec (Node 24's spawn can return first).
      for (let i = 0; i < 500 && !(commandLine(owner.pid!) ?? '').includes('pwlu'); i++) await new Promise((r) => setTimeout(r, 10));
      writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: owner.pid, host: hostname(), started: 'now', what: 'pwlu train' }));
      const log = { args: [] as string[], concurrent: 0, maxConcurrent: 0, interrupts: [] as string[] };
      const err = await runBench(plan(out, cells), manifestFor(out, cells), { launcher: fakeLauncher(() => 'finish', log), display: quiet }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toContain(`resnet20-swish-s0 (still being trained by pid ${owner.pid}`);
      expect(log.args).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(['config.yaml', 'run.lock']);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
