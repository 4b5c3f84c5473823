import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectRuns } from '../../src/report/collect.js';
import { renderCsv, renderMarkdown } from '../../src/report/format.js';
import { renderHtml } from '../../src/report/html.js';
import { buildReport, type Report } from '../../src/report/model.js';
import { welchTTest } from '../../src/report/stats.js';
import { writeRun } from '../helpers/fake-runs.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-sweep-report-');
const bench = join(tmp, 'ablation');

/** A one-factor-at-a-time ablation around n=16, realign=true: each setting's overrides and its seeds' top-1. */
const SETTINGS: { overrides: string[]; pwlu: Record<string, unknown>; top1: number[] }[] = [
  { overrides: [], pwlu: { n: 16, realign: true }, top1: [92.0, 92.2, 92.1] },
  { overrides: ['activation.pwlu.n=4'], pwlu: { n: 4, realign: true }, top1: [91.0, 91.2, 91.1] },
  { overrides: ['activation.pwlu.n=32'], pwlu: { n: 32, realign: true }, top1: [92.1, 92.0, 92.3] },
  { overrides: ['activation.pwlu.realign=false'], pwlu: { n: 16, realign: false }, top1: [90.0, 90.5, 90.2] },
];

const nameOf = (overrides: string[], seed: number) =>
  ['resnet20', 'pwlu', ...overrides.map((o) => o.replace(/^.*\.(\w+)=(.*)$/, '$1$2')), `s${seed}`].join('-');

function report(baseline: string): Report {
  return buildReport(collectRuns(bench), { resultsDir: 'ablation', baseline, now: new Date('2026-01-02T03:04:05Z') });
}

describe('pwlu report on a sweep bench', () => {
  beforeAll(() => {
    const cells: Record<string, unknown>[] = [];
    for (const s of SETTINGS) {
      s.top1.forEach((top1, seed) => {
        const name = nameOf(s.overrides, seed);
        writeRun(join(bench, 'cells', name), { arch: 'resnet20', activation: 'pwlu', seed, top1, pwlu: s.pwlu, pwluLayers: 2 });
        cells.push({
          name,
          arch: 'resnet20',
          activation: 'pwlu',
          seed,
          dir: `cells/${name}`,
          ...(s.overrides.length ? { overrides: s.overrides } : {}),
          status: 'finished',
          attempts: [],
        });
      });
    }
    // A setting that never started: a row of its own, from the manifest's overrides.
    cells.push({
      name: 'resnet20-pwlu-n8-s0',
      arch: 'resnet20',
      activation: 'pwlu',
      seed: 0,
      dir: 'cells/resnet20-pwlu-n8-s0',
      overrides: ['activation.pwlu.n=8'],
      status: 'pending',
      attempts: [],
    });
    writeFileSync(join(bench, 'bench.json'), JSON.stringify({ version: 1, dataset: 'cifar10', setup: 'x', cells }));
  });
  afterAll(() => removeDir(tmp));

  it('keeps every setting in one table, one row per setting, the base first and numbers by value', () => {
    const r = report('activation.pwlu.n=16');
    expect(r.tables).toHaveLength(1);
    const t = r.tables[0]!;
    expect(t.sweep_keys.sort()).toEqual(['activation.pwlu.n', 'activation.pwlu.realign']);
    expect(t.rows.map((row) => row.variant)).toEqual(['base', 'n=4', 'n=8', 'n=32', 'realign=false']);
    expect(t.cells.find((c) => c.row === 'resnet20 · n=8')!.incomplete.map((i) => i.status)).toEqual(['missing']);
    const md = renderMarkdown(r);
    expect(md).toContain('| arch | setting | pwlu |');
    expect(md).toMatch(/Rows: settings of activation\.pwlu\.\w+, activation\.pwlu\.\w+ \(base: (n=16, realign=true|realign=true, n=16)\)\./);
    expect(md).toMatch(/\| resnet20 \| n=4 \| 91\.10 ± 0\.10 \(n=3\) −1\.00\*\*\* \|/);
    expect(renderCsv(r).split('\n')[0]).toContain(',variant,');
  });

  it('--baseline KEY=VALUE compares each row with the row that differs only in that key', () => {
    const byRow = (r: Report, variant: string) => r.tables[0]!.cells.find((c) => c.row === `resnet20 · ${variant}`)!;
    const base = SETTINGS[0]!.top1;
    for (const spec of ['activation.pwlu.n=16', 'pwlu.n=16', 'n=16']) {
      const r = report(spec);
      expect(r.tables[0]!.baseline).toBe('activation.pwlu.n=16');
      expect(byRow(r, 'base').is_baseline).toBe(true);
      const n4 = byRow(r, 'n=4').delta!;
      const ref = welchTTest(SETTINGS[1]!.top1, base);
      expect(n4.diff).toBeCloseTo(-1.0, 10);
      expect(n4.p).toBeCloseTo(ref.p!, 12);
      expect(byRow(r, 'n=32').delta!.mark).toBe('n.s.');
      // realign=false has n=16: under this baseline it is a baseline of its own (no row differs from it in n only).
      expect(byRow(r, 'realign=false').is_baseline).toBe(true);
    }
    const realign = report('realign=true');
    expect(byRow(realign, 'realign=false').delta!.diff).toBeCloseTo(90.2333 - 92.1, 3);
    expect(byRow(realign, 'n=4').is_baseline).toBe(true);
  });

  it('base (and the default when the table has no swish) compares every setting with the base config', () => {
    for (const r of [report('base'), report('swish')]) {
      const t = r.tables[0]!;
      expect(t.baseline).toBe('base');
      expect(t.cells.find((c) => c.row === 'resnet20 · realign=false')!.delta!.diff).toBeCloseTo(90.2333 - 92.1, 3);
      expect(t.cells.find((c) => c.row === 'resnet20 · base')!.is_baseline).toBe(true);
    }
    expect(report('swish').tables[0]!.notes.join('\n')).toMatch(/no swish runs in this table/);
    expect(report('granularity=channel').tables[0]!.notes.join('\n')).toMatch(
      /sweeps activation\.pwlu\.n, activation\.pwlu\.realign|sweeps activation\.pwlu\.realign, activation\.pwlu\.n/,
    );
  });

  it('plots top-1 against a numeric swept value with error bars (the rows that differ from the base only there)', () => {
    const t = report('base').tables[0]!;
    expect(t.by_value).toHaveLength(1);
    const s = t.by_value[0]!;
    expect(s.key).toBe('activation.pwlu.n');
    expect(s.label).toBe('resnet20 · pwlu · realign=true');
    expect(s.points.map((p) => p.x)).toEqual([4, 16, 32]);
    expect(s.points[1]!.mean).toBeCloseTo(92.1, 10);
    expect(s.points[1]!.std).toBeCloseTo(0.1, 10);
    const html = renderHtml(report('base'), { chartJs: '/* chart */' });
    expect(html).toContain('<canvas id="value-0-0">');
    expect(html).toContain('"byValue":[{"key":"activation.pwlu.n"');
  });
});
