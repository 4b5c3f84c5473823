/**
 * A training session as `pwlu train` runs it, in-process: the summary it writes for a run without a
 * val split, and what a failure before training begins leaves behind (nothing new; nothing of a resume lost).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../src/run/records.js';
import { runTraining, type TrainingRequest } from '../../src/train/session.js';
import { ExitCode, UserError } from '../../src/util/errors.js';
import { recordedCodeVersion } from '../../src/util/provenance.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-session-');

const MICRO = [
  'data.name=synthetic',
  'model.width=0.125',
  'data.synthetic.size=6',
  'data.synthetic.train=16',
  'data.synthetic.test=8',
  'data.synthetic.classes=4',
  'train.batch=8',
  'train.epochs=2',
];

function request(over: Partial<TrainingRequest>): TrainingRequest {
  return { sets: [], machineSets: ['backend=cpu'], quiet: true, progressBar: false, ...over };
}

function summaryOf(dir: string): Summary {
  return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
}

describe('training session', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => removeDir(tmp));

  it('without a val split: selection none, no best epoch or checkpoint, the code version as commit plus dirty flag', async () => {
    const out = join(tmp, 'noval');
    const result = await runTraining(request({ sets: MICRO, out }));
    expect(result.kind).toBe('trained');
    const s = summaryOf(out);
    expect(s.status).toBe('finished');
    expect(s.selection).toBe('none');
    expect(s.best).toBeNull();
    expect(s.final?.top1).toBeTypeOf('number');
    expect(existsSync(join(out, 'checkpoint-best.ckpt'))).toBe(false);
    expect(existsSync(join(out, 'checkpoint-last.ckpt'))).toBe(true);
    // A checkout (this repository) records a short commit and a boolean; never a "-dirty" suffix.
    if (s.git_commit !== null) {
      expect(s.git_commit).toMatch(/^[0-9a-f]{4,40}$/);
      expect(s.git_dirty).toBeTypeOf('boolean');
    } else {
      expect(s.git_dirty).toBeNull();
    }
  });

  it('reads the code version of summaries written before git_dirty', () => {
    expect(recordedCodeVersion({ git_commit: '0357660-dirty' })).toEqual({ commit: '0357660', dirty: true });
    expect(recordedCodeVersion({ git_commit: '97d359b' })).toEqual({ commit: '97d359b', dirty: false });
    expect(recordedCodeVersion({ git_commit: 'abc1234', git_dirty: true })).toEqual({ commit: 'abc1234', dirty: true });
    expect(recordedCodeVersion({ git_commit: null })).toEqual({ commit: null, dirty: null });
  });

  it('a failure before training begins removes the run directory it created, attempt after attempt', async () => {
    for (const attempt of [1, 2]) {
      const out = join(tmp, 'early', `attempt${attempt}`);
      // A batch larger than the training set: the trainer refuses it before the first step.
      const err = await runTraining(request({ sets: [...MICRO, 'train.batch=64'], out })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).exitCode).toBe(ExitCode.usage);
      expect((err as Error).message).toMatch(/train\.batch \(64\) is larger than the training set/);
      expect(existsSync(out)).toBe(false);
    }
    expect(readdirSync(join(tmp, 'early'))).toEqual([]);
  });

  it('keeps a directory it did not create (an empty --out given by the caller)', async () => {
    const out = join(tmp, 'given');
    mkdirSync(out);
    await expect(runTraining(request({ sets: [...MICRO, 'train.batch=64'], out }))).rejects.toBeInstanceOf(UserError);
    expect(existsSync(out)).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['config.yaml', 'train.log']);
  });

  it('a resume that fails before training begins changes nothing of the run', async () => {
    const out = join(tmp, 'resume');
    let steps = 0;
    const stopped = await runTraining(request({ sets: MICRO, out, shouldStop: () => steps++ >= 3 }));
    expect(stopped.kind === 'trained' && stopped.summary.status).toBe('interrupted');
    const before = readFileSync(join(out, 'summary.json'), 'utf8');
    writeFileSync(join(out, 'checkpoint-last.ckpt'), 'not a checkpoint');
    await expect(runTraining(request({ resume: out }))).rejects.toThrow(/not a pwlu checkpoint/);
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe(before);
    expect(existsSync(join(out, 'config.yaml'))).toBe(true);
    expect(existsSync(join(out, 'metrics.jsonl'))).toBe(true);
  });
});
