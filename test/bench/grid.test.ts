import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveBenchError, inspectCell, moveAside } from '../../src/bench/cells.js';
import { cellName, cellSets, expandGrid, parseList, parseSweep, seedList } from '../../src/bench/grid.js';
import { mergeCells } from '../../src/bench/plan.js';
import { EtaEstimator, formatDuration } from '../../src/bench/progress.js';
import { threadsPerJob } from '../../src/bench/plan.js';
import { activationNames } from '../../src/activations/registry.js';
import { registryChecks } from '../../src/train/registry-checks.js';
import { loadConfig } from '../../src/config/load.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-grid-');
afterAll(() => removeDir(tmp));

describe('bench grid', () => {
  it('expands arch × activation × seed seed-major, with stable cell names', () => {
    const cells = expandGrid(['resnet20', 'resnet56'], ['relu', 'pwlu'], [0, 1]);
    expect(cells.map((c) => c.name)).toEqual([
      'resnet20-relu-s0',
      'resnet20-pwlu-s0',
      'resnet56-relu-s0',
      'resnet56-pwlu-s0',
      'resnet20-relu-s1',
      'resnet20-pwlu-s1',
      'resnet56-relu-s1',
      'resnet56-pwlu-s1',
    ]);
    expect(cellName('mobilenet_v2', 'swish', 3)).toBe('mobilenet_v2-swish-s3');
    expect(seedList(5, 3)).toEqual([5, 6, 7]);
  });

  it('sweeps: every combination of the values per arch × activation × seed, named by key and value, set on the cell', () => {
    const sweeps = [parseSweep('activation.pwlu.n=4,16'), parseSweep('activation.pwlu.realign= true ,false')];
    const cells = expandGrid(['resnet20'], ['pwlu'], [0, 1], sweeps);
    expect(cells.map((c) => c.name)).toEqual([
      'resnet20-pwlu-n4-realigntrue-s0',
      'resnet20-pwlu-n4-realignfalse-s0',
      'resnet20-pwlu-n16-realigntrue-s0',
      'resnet20-pwlu-n16-realignfalse-s0',
      'resnet20-pwlu-n4-realigntrue-s1',
      'resnet20-pwlu-n4-realignfalse-s1',
      'resnet20-pwlu-n16-realigntrue-s1',
      'resnet20-pwlu-n16-realignfalse-s1',
    ]);
    expect(cellSets(cells[1]!)).toEqual(['model.arch=resnet20', 'activation.name=pwlu', 'seed=0', 'activation.pwlu.n=4', 'activation.pwlu.realign=false']);
    // The overrides reach the cell's config, and bench.json records them.
    const cfg = loadConfig(null, cellSets(cells[1]!), { extraChecks: registryChecks }).config;
    expect([cfg.activation.pwlu?.n, cfg.activation.pwlu?.realign]).toEqual([4, false]);
    expect(mergeCells(cells, null)[1]).toMatchObject({
      name: 'resnet20-pwlu-n4-realignfalse-s0',
      overrides: ['activation.pwlu.n=4', 'activation.pwlu.realign=false'],
    });
    expect(cellName('resnet20', 'pwlu', 0, ['train.lr=0.05', 'data.augment.flip=auto'])).toBe('resnet20-pwlu-lr0.05-flipauto-s0');
    expect(expandGrid(['a'], ['b'], [0]).map((c) => c.overrides)).toEqual([undefined]);
  });

  it("a sweep value equal to the base config's is no override: the base cell is named and run once", () => {
    const isBase = (o: string) => o === 'activation.pwlu.n=16' || o === 'activation.pwlu.realign=true';
    const sweeps = [parseSweep('activation.pwlu.n=4,16'), parseSweep('activation.pwlu.realign=true,false')];
    const cells = expandGrid(['resnet20'], ['pwlu'], [0], sweeps, isBase);
    expect(cells.map((c) => [c.name, c.overrides])).toEqual([
      ['resnet20-pwlu-n4-s0', ['activation.pwlu.n=4']],
      ['resnet20-pwlu-n4-realignfalse-s0', ['activation.pwlu.n=4', 'activation.pwlu.realign=false']],
      ['resnet20-pwlu-s0', undefined],
      ['resnet20-pwlu-realignfalse-s0', ['activation.pwlu.realign=false']],
    ]);
  });

  it('rejects malformed, empty, repeated and clashing sweeps', () => {
    expect(() => parseSweep('n=')).toThrow(/at least one value/);
    expect(() => parseSweep('=1,2')).toThrow(/KEY=V1,V2/);
    expect(() => parseSweep('activation.pwlu.n=4,4')).toThrow(/repeated/);
    expect(() => expandGrid(['a'], ['b'], [0], [parseSweep('x.n=1'), parseSweep('x.n=2')])).toThrow(/given twice/);
    expect(() => expandGrid(['a'], ['b'], [0], [parseSweep('x.tag=a b,a_b')])).toThrow(/share the directory a-b-taga_b-s0/);
  });

  it('parses comma lists, dropping blanks and repeats, and rejects bad names', () => {
    expect(parseList('--activations', ' relu, pwlu,,relu ')).toEqual(['relu', 'pwlu']);
    expect(() => parseList('--archs', ' , ')).toThrow(/at least one/);
    expect(() => parseList('--archs', 'res net')).toThrow(/not a valid name/);
  });

  it("sets the cell's arch, activation name and seed, and nothing else", () => {
    expect(cellSets({ name: 'x', arch: 'resnet56', activation: 'swish', seed: 2 })).toEqual(['model.arch=resnet56', 'activation.name=swish', 'seed=2']);
    expect(cellSets({ name: 'x', arch: 'resnet56', activation: 'pwlu', seed: 2 })[1]).toBe('activation.name=pwlu');
  });

  it("keeps every activation's options and the sites when a cell swaps the activation", () => {
    const base = join(tmp, 'base.yaml');
    writeFileSync(base, 'activation:\n  name: swish\n  sites: default\n  pwlu:\n    n: 8\n  swish:\n    trainable_beta: true\n');
    for (const cell of expandGrid(['resnet20'], activationNames(), [0])) {
      const { activation } = loadConfig(base, cellSets(cell), { extraChecks: registryChecks }).config;
      expect(activation.name).toBe(cell.activation);
      expect(activation.sites).toBe('default');
      expect(activation.pwlu?.n, cell.name).toBe(8);
      expect(activation.swish?.trainable_beta, cell.name).toBe(true);
      expect(activation[cell.activation as keyof typeof activation], 'the chosen options, defaults filled').toBeDefined();
    }
  });

  it('divides the cores among the jobs, at least one thread each', () => {
    expect(threadsPerJob(1, 16)).toBe(16);
    expect(threadsPerJob(3, 16)).toBe(5);
    expect(threadsPerJob(4, 2)).toBe(1);
    expect(threadsPerJob(0, 8)).toBe(8);
  });

  it('keeps each cell history across manifests, and earlier launched cells outside the grid', () => {
    const grid = expandGrid(['resnet20'], ['relu'], [0]);
    const prev = {
      cells: [
        {
          name: 'resnet20-relu-s0',
          arch: 'resnet20',
          activation: 'relu',
          seed: 0,
          dir: 'cells/resnet20-relu-s0',
          status: 'running' as const,
          pid: 1,
          attempts: [{ mode: 'new' as const, started: 't' }],
        },
        {
          name: 'resnet20-pwlu-s0',
          arch: 'resnet20',
          activation: 'pwlu',
          seed: 0,
          dir: 'cells/resnet20-pwlu-s0',
          status: 'finished' as const,
          attempts: [{ mode: 'new' as const, started: 't' }],
        },
        { name: 'resnet20-apl-s0', arch: 'resnet20', activation: 'apl', seed: 0, dir: 'cells/resnet20-apl-s0', status: 'pending' as const, attempts: [] },
      ],
    };
    const merged = mergeCells(grid, prev as unknown as Parameters<typeof mergeCells>[1]);
    expect(merged.map((c) => c.name)).toEqual(['resnet20-relu-s0', 'resnet20-pwlu-s0']);
    expect(merged[0]!.status).toBe('pending');
    expect(merged[0]!.attempts).toHaveLength(1);
  });

  it('formats durations and estimates the time left from this session', () => {
    expect(formatDuration(12)).toBe('12s');
    expect(formatDuration(250)).toBe('4m10s');
    expect(formatDuration(3900)).toBe('1h05m');
    const eta = new EtaEstimator();
    const t0 = Date.now();
    expect(Number.isNaN(eta.estimate(10, 100, t0))).toBe(true);
    expect(eta.estimate(20, 100, t0 + 10_000)).toBeCloseTo(80, 0);
  });
});

describe('cell directories', () => {
  const cell = (name: string, files: Record<string, string>) => {
    const d = join(tmp, 'cells', name);
    mkdirSync(d, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
    return d;
  };

  it('classifies a cell from its files alone', () => {
    expect(inspectCell(join(tmp, 'cells', 'absent'))).toEqual({ kind: 'new' });
    expect(inspectCell(cell('empty', {}))).toEqual({ kind: 'new' });
    expect(inspectCell(cell('done', { 'config.yaml': '', 'checkpoint-last.ckpt': '', 'summary.json': '{"status": "finished"}' }))).toEqual({
      kind: 'done',
      status: 'finished',
    });
    expect(inspectCell(cell('div', { 'config.yaml': '', 'summary.json': '{"status": "diverged"}' }))).toEqual({ kind: 'done', status: 'diverged' });
    expect(inspectCell(cell('killed', { 'config.yaml': '', 'checkpoint-last.ckpt': '' })).kind).toBe('resume');
    expect(inspectCell(cell('int', { 'config.yaml': '', 'checkpoint-last.ckpt': '', 'summary.json': '{"status": "interrupted"}' }))).toEqual({
      kind: 'resume',
      why: 'summary status interrupted',
    });
    expect(inspectCell(cell('early', { 'config.yaml': '', 'train.log': '' })).kind).toBe('restart');
    expect(inspectCell(cell('odd', { 'bench-error.txt': 'x' })).kind).toBe('restart');
  });

  it('moves a dead attempt aside to the next free .failed-<n>, never deleting it', () => {
    const d = cell('dead', { 'config.yaml': 'a' });
    expect(moveAside(d)).toBe(`${d}.failed-1`);
    cell('dead', { 'config.yaml': 'b' });
    expect(moveAside(d)).toBe(`${d}.failed-2`);
    expect(readdirSync(join(tmp, 'cells')).filter((e) => e.startsWith('dead'))).toEqual(['dead.failed-1', 'dead.failed-2']);
  });

  it('archives an old bench-error.txt before a resume', () => {
    const d = cell('err', { 'bench-error.txt': 'old' });
    archiveBenchError(d);
    cell('err', { 'bench-error.txt': 'older' });
    archiveBenchError(d);
    expect(readdirSync(d).sort()).toEqual(['bench-error.prev-1.txt', 'bench-error.prev-2.txt']);
  });
});
