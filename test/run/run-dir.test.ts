import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint, writeCheckpoint } from '../../src/run/checkpoint.js';
import { RUN_FILES } from '../../src/run/files.js';
import { acquireLock } from '../../src/run/lock.js';
import type { EpochRecord, Summary } from '../../src/run/records.js';
import { createRunDir, openRunDir, RunDir, trimMetricsToCheckpoint } from '../../src/run/run-dir.js';
import { UserError } from '../../src/util/errors.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-rundir-');
afterAll(() => removeDir(tmp));

function epoch(n: number, evaluated = true): EpochRecord {
  return {
    epoch: n,
    lr: 0.1,
    train_loss: 1 / n,
    train_top1: 50 + n,
    test_loss: evaluated ? 0.5 : null,
    test_top1: evaluated ? 60 + n : null,
    test_top5: evaluated ? 90 : null,
    seconds: 2,
    img_per_s: 100,
  };
}

describe('run directory round trip through src/run', () => {
  it('writes and reads config, metrics, summary, activations and checkpoints', () => {
    const { run, lock } = createRunDir(join(tmp, 'rt'));
    run.writeConfig('seed: 1\n');
    run.appendMetrics(epoch(1, false));
    run.appendMetrics({ event: 'realign', layer: 'act1', epoch: 1 });
    run.appendMetrics(epoch(2));
    const summary = { status: 'finished', epochs: 2, epochs_completed: 2 } as Summary;
    run.writeSummary(summary);
    run.writeActivations(2, [{ type: 'pwlu', name: 'act1' }]);
    writeCheckpoint(run.path('last'), { meta: { epoch: 2 }, tensors: [{ name: 'w', shape: [2], values: new Float32Array([1, 2]) }] });
    lock.release();

    const back = openRunDir(run.dir);
    expect(back.readConfigText()).toBe('seed: 1\n');
    const m = back.readMetrics();
    expect(m.epochs).toEqual([epoch(1, false), epoch(2)]);
    expect(m.events).toEqual([{ event: 'realign', layer: 'act1', epoch: 1 }]);
    expect(back.readSummary()).toEqual(summary);
    expect(back.readActivations()).toEqual({ epoch: 2, layers: [{ type: 'pwlu', name: 'act1' }] });
    const ck = readCheckpoint<{ epoch: number }>(back.path('last'));
    expect(ck.meta.epoch).toBe(2);
    expect(Array.from(ck.tensors[0]!.values)).toEqual([1, 2]);
    // Every file is one of the names src/run/files.ts defines, and no temp file is left.
    expect(readdirSync(run.dir).every((f) => (Object.values(RUN_FILES) as string[]).includes(f))).toBe(true);
  });

  it('reads past a line torn by a crash, and trims records the checkpoint does not cover', () => {
    const run = new RunDir(makeTmpDir('pwlu-torn-'));
    run.appendMetrics(epoch(1));
    run.appendMetrics(epoch(2));
    appendFileSync(run.path('metrics'), '{"epoch":3,"lr":0.1,"tra');
    expect(run.readMetrics().epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(trimMetricsToCheckpoint(run, { epoch: 1, epochStarted: false })).toBe(2);
    expect(run.readMetrics().epochs.map((e) => e.epoch)).toEqual([1]);
    removeDir(run.dir);
  });

  it('tells a corrupt summary.json from a missing one (readSummary stays null for both)', () => {
    const run = new RunDir(makeTmpDir('pwlu-corrupt-'));
    expect(run.summaryFile()).toEqual({ state: 'missing' });
    writeFileSync(run.path('summary'), '{"status": "fini');
    const torn = run.summaryFile();
    expect(torn.state).toBe('corrupt');
    expect(torn.state === 'corrupt' && torn.reason).toMatch(/^not valid JSON: /);
    expect(run.readSummary()).toBeNull();
    writeFileSync(run.path('summary'), '[1, 2]\n');
    expect(run.summaryFile()).toEqual({ state: 'corrupt', reason: 'not a JSON object' });
    run.writeSummary({ status: 'finished' } as Summary);
    expect(run.summaryFile()).toEqual({ state: 'ok', value: { status: 'finished' } });
    removeDir(run.dir);
  });

  it('sweeps temp files a killed process left behind', () => {
    const run = new RunDir(makeTmpDir('pwlu-sweep-'));
    writeFileSync(`${run.path('last')}.tmp-12345`, 'partial');
    writeFileSync(run.path('config'), 'seed: 0\n');
    expect(run.sweepTemps()).toEqual([`${RUN_FILES.last}.tmp-12345`]);
    expect(readdirSync(run.dir)).toEqual([RUN_FILES.config]);
    removeDir(run.dir);
  });
});

describe('run directory lock', () => {
  it('one holder at a time; a lock whose process is gone (or is no longer pwlu) is taken over', async () => {
    const p = join(tmp, 'a.lock');
    const held = acquireLock(p, 'pwlu train');
    expect(JSON.parse(readFileSync(p, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname(), what: 'pwlu train' });
    held.release();
    expect(existsSync(p)).toBe(false);

    // A live pwlu process on this host holds it: refused, naming the owner.
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'pwlu'], { stdio: 'ignore' });
    try {
      writeFileSync(p, JSON.stringify({ pid: live.pid, host: hostname(), started: 'now', what: 'pwlu train' }));
      expect(() => acquireLock(p, 'pwlu train --resume')).toThrow(new RegExp(`in use by pwlu train \\(pid ${live.pid} on ${hostname()}`));
      expect(JSON.parse(readFileSync(p, 'utf8'))).toMatchObject({ pid: live.pid });
    } finally {
      live.kill('SIGKILL');
      await new Promise((r) => live.on('close', r));
    }
    // The same pid, now dead: stale.
    const reasons: string[] = [];
    const l2 = acquireLock(p, 'pwlu train', (why) => reasons.push(why));
    expect(reasons).toEqual([expect.stringMatching(new RegExp(`stale lock .*pid ${live.pid} is gone`))]);
    l2.release();

    // A live process that is not pwlu (the pid was reused): stale.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(p, JSON.stringify({ pid: other.pid, host: hostname(), started: 'then', what: 'pwlu train' }));
      const l3 = acquireLock(p, 'pwlu train', (why) => reasons.push(why));
      expect(reasons[1]).toMatch(/is no longer pwlu/);
      l3.release();
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('--out naming a file, or a non-empty directory, is a UserError naming the path', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(() => createRunDir(file)).toThrow(UserError);
    expect(() => createRunDir(file)).toThrow(`${file} exists and is not a directory`);
    expect(() => createRunDir(join(file, 'sub'))).toThrow(`${file} exists and is not a directory`);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});
