import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { collectRuns } from '../../src/report/collect.js';
import { RunDir } from '../../src/run/run-dir.js';
import { setupHash } from '../../src/run/setup-hash.js';
import { CSV_COLUMNS, renderCsv, renderJson, renderMarkdown } from '../../src/report/format.js';
import { renderHtml } from '../../src/report/html.js';
import { buildReport, type Report } from '../../src/report/model.js';
import { welchTTest } from '../../src/report/stats.js';
import { writeRun } from '../helpers/fake-runs.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = makeTmpDir('pwlu-report-');
const results = join(tmp, 'results');

const R18 = { relu: [70.1, 70.3, 70.2], swish: [70.5, 70.9, 70.7], pwlu: [71.6, 71.5, 71.8] };

function report(): Report {
  return buildReport(collectRuns(results), { resultsDir: results, baseline: 'swish', now: new Date('2026-01-02T03:04:05Z') });
}

describe('pwlu report', () => {
  beforeAll(() => {
    const cells = join(results, 'bench', 'cells');
    for (const [act, values] of Object.entries(R18)) {
      values.forEach((top1, seed) =>
        writeRun(join(cells, `resnet18-${act}-s${seed}`), {
          arch: 'resnet18',
          activation: act,
          seed,
          top1,
          actParams: act === 'pwlu' ? 357 : 0,
          imgPerS: act === 'pwlu' ? 800 : 1000,
          pwluLayers: act === 'pwlu' ? 3 : 0,
          peakBytes: ((act === 'pwlu' ? 150 : 100) - 10 * seed) * 2 ** 20,
        }),
      );
    }
    writeRun(join(cells, 'resnet18-pwlu-s3'), { arch: 'resnet18', activation: 'pwlu', seed: 3, top1: 60, status: 'interrupted', completed: 2 });
    writeRun(join(cells, 'resnet20-swish-s0'), { arch: 'resnet20', activation: 'swish', seed: 0, top1: 91.0 });
    writeRun(join(cells, 'resnet20-swish-s1'), { arch: 'resnet20', activation: 'swish', seed: 1, top1: 91.2 });
    writeRun(join(cells, 'resnet20-pwlu-s0'), { arch: 'resnet20', activation: 'pwlu', seed: 0, top1: 91.5 });
    writeRun(join(cells, 'resnet20-pwlu-s1'), {
      arch: 'resnet20',
      activation: 'pwlu',
      seed: 1,
      top1: 0,
      status: 'none',
      completed: 0,
      benchError: 'pwlu: error: cifar10 not found',
    });
    writeRun(join(cells, 'resnet20-pwlu-s1.failed-1'), { arch: 'resnet20', activation: 'pwlu', seed: 1, top1: 0, status: 'none', completed: 0 });
    writeRun(join(cells, 'resnet20-relu-s1'), { arch: 'resnet20', activation: 'relu', seed: 1, top1: 10, status: 'diverged', completed: 1 });
    // A plain run directory, nested deeper, with a repeated epoch line (a resume after a crash).
    writeRun(join(results, 'plain', 'old', 'run-a'), { arch: 'resnet20', activation: 'relu', seed: 5, top1: 90.0, duplicateEpoch: 2 });
    // Another setup (a different lr): its own table.
    writeRun(join(results, 'plain', 'lr05'), { arch: 'resnet20', activation: 'relu', seed: 0, top1: 89.0, lr: 0.05 });
    const manifestCells = [
      ...['relu', 'swish', 'pwlu'].flatMap((a) =>
        [0, 1, 2].map((s) => ({ name: `resnet18-${a}-s${s}`, arch: 'resnet18', activation: a, seed: s, dir: `cells/resnet18-${a}-s${s}` })),
      ),
      { name: 'resnet20-relu-s0', arch: 'resnet20', activation: 'relu', seed: 0, dir: 'cells/resnet20-relu-s0' },
    ];
    const setup = collectRuns(join(results, 'bench', 'cells', 'resnet18-relu-s0'))[0]!.setup;
    writeFileSync(join(results, 'bench', 'bench.json'), JSON.stringify({ version: 1, dataset: 'cifar10', setup, cells: manifestCells }));
  });
  afterAll(() => removeDir(tmp));

  it('finds every run directory at any depth, in every state, and the cells that never started', () => {
    const runs = collectRuns(results);
    const by = (rel: string) => runs.find((r) => r.rel === rel)!;
    expect(runs.length).toBe(9 + 1 + 6 + 2 + 1); // resnet18 ×9 + s3, resnet20 ×6 (incl. superseded), plain ×2, missing ×1
    expect(by('bench/cells/resnet18-pwlu-s3').status).toBe('interrupted');
    expect(by('bench/cells/resnet20-pwlu-s1').status).toBe('failed');
    expect(by('bench/cells/resnet20-pwlu-s1').error).toContain('cifar10 not found');
    expect(by('bench/cells/resnet20-pwlu-s1.failed-1').superseded).toBe(true);
    expect(by('bench/cells/resnet20-relu-s1').status).toBe('diverged');
    expect(by('bench/cells/resnet20-relu-s0').status).toBe('missing');
    expect(by('plain/old/run-a').status).toBe('finished');
    expect(by('bench/cells/resnet18-pwlu-s0').pwlu).toHaveLength(3);
  });

  it('keeps one line per epoch when a resume repeated one (the last wins) and skips event lines', () => {
    const curve = new RunDir(join(results, 'plain', 'old', 'run-a')).readMetrics().epochs;
    expect(curve.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
    expect(curve[1]!.test_top1).toBe(86.5);
  });

  it("pivots arch × activation with mean ± std, n, Welch's test against the baseline, and the paper's delta", () => {
    const r = report();
    expect(r.tables).toHaveLength(2);
    const t = r.tables.find((x) => x.archs.includes('resnet18'))!;
    expect(t.archs).toEqual(['resnet20', 'resnet18']);
    expect(t.activations).toEqual(['relu', 'swish', 'pwlu']);
    const pw = t.cells.find((c) => c.arch === 'resnet18' && c.activation === 'pwlu')!;
    expect(pw.n).toBe(3);
    expect(pw.mean).toBeCloseTo(71.6333333, 6);
    expect(pw.std).toBeCloseTo(0.152752523, 6);
    const w = welchTTest(R18.pwlu, R18.swish);
    expect(pw.delta!.diff).toBeCloseTo(w.diff, 10);
    expect(pw.delta!.p).toBeCloseTo(w.p!, 12);
    expect(pw.delta!.mark).toBe('**');
    expect(pw.act_params).toBe(357);
    expect(pw.speed_vs_relu).toBeCloseTo(0.8, 10);
    expect(pw.incomplete).toEqual([expect.objectContaining({ seed: 3, status: 'interrupted', epochs_completed: 2 })]);
    const vs = t.pwlu_vs_swish.find((x) => x.arch === 'resnet18')!;
    expect(vs.paper).toBe(0.9);
    expect(vs.ours!.diff).toBeCloseTo(w.diff, 10);
    expect(t.pwlu_vs_swish.find((x) => x.arch === 'resnet20')!.paper).toBeNull();
    const relu20 = t.cells.find((c) => c.arch === 'resnet20' && c.activation === 'relu')!;
    expect(relu20.n).toBe(1);
    expect(relu20.fewer_seeds).toBe(true);
    expect(relu20.delta!.mark).toBe('n/a');
    expect(relu20.incomplete.map((i) => i.status).sort()).toEqual(['diverged', 'missing']);
  });

  it('Markdown: tables, the test footnote, and every run that is not a result named in the notes', () => {
    const md = renderMarkdown(report());
    expect(md).toContain('| arch | relu | swish | pwlu | PWLU − Swish (ours) | PWLU − Swish (paper) |');
    expect(md).toMatch(
      /\| resnet18 \| 70\.20 ± 0\.10 \(n=3\) −0\.50\* \| 70\.70 ± 0\.20 \(n=3\) base \| 71\.63 ± 0\.15 \(n=3\) \+0\.93\*\* † \| \+0\.93\*\* \| \+0\.90 \|/,
    );
    expect(md).toContain("Welch's two-sided t-test");
    // The fake PWLU layers' shape (heights 0.2, 0.1, 0, 1.2, 2 on -2..2): slopes -0.1 and 1.0, pooled over seeds.
    expect(md).toMatch(/Learned PWLU shapes by depth, resnet18 \+ pwlu/);
    expect(md).toMatch(/\| 1 \| layer0\.act \| -0\.10 ± 0\.00 \| 1\.00 ± 0\.00 \|/);
    expect(md).toContain('V-like ones in deep layers');
    expect(md).toMatch(/resnet18 · pwlu: seed 3 interrupted at epoch 2\/4 — not counted/);
    expect(md).toMatch(/resnet20 · pwlu: seed 1 failed.*cifar10 not found/);
    expect(md).toMatch(/resnet20 · relu: seed 0 never started; seed 1 diverged/);
    expect(md).toMatch(/fewer than the 3 of the fullest cell/);
    expect(md).toMatch(/1 earlier attempt was moved aside.*resnet20-pwlu-s1\.failed-1/);
    // Memory is the highest peak over seeds (a resumed run records only its last attempt's peak, which is lower).
    expect(md).toContain('+357 · 800 img/s (0.80×) · 150 MiB (1.50×)');
  });

  it('CSV: the timm-style columns, one row per run, every run included', () => {
    const csv = renderCsv(report()).trim().split('\n');
    expect(csv[0]).toBe(CSV_COLUMNS.join(','));
    expect(
      csv[0]!.startsWith(
        'arch,activation,dataset,seed,top1,top5,top1_best,epoch_best,param_count,act_param_count,epochs,img_size,backend,train_img_per_s,wall_s',
      ),
    ).toBe(true);
    expect(csv.length - 1).toBe(collectRuns(results).length);
    const row = csv.find((l) => l.startsWith('resnet18,pwlu,cifar10,0,'))!.split(',');
    const col = (name: string) => row[CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number])];
    expect(col('top1')).toBe('71.6');
    expect(col('act_param_count')).toBe('357');
    expect(col('status')).toBe('finished');
    expect(csv.some((l) => l.includes(',superseded,'))).toBe(true);
    expect(csv.some((l) => l.includes(',missing,'))).toBe(true);
  });

  it('JSON: parses, carries the tables and the runs without their curves', () => {
    const j = JSON.parse(renderJson(report())) as { tables: { cells: unknown[] }[]; runs: Record<string, unknown>[]; test: string };
    expect(j.tables).toHaveLength(2);
    expect(j.runs.length).toBe(collectRuns(results).length);
    expect(j.runs[0]).not.toHaveProperty('curve');
    expect(j.test).toContain('Welch');
  });

  it('HTML: one self-contained file with Chart.js inlined, the charts, shapes and the run list', () => {
    const html = renderHtml(report());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link[^>]+href=/);
    expect(html).toContain('Chart.js v4');
    expect((html.match(/<script/g) ?? []).length).toBe((html.match(/<\/script>/g) ?? []).length);
    expect(html).toContain('<canvas id="bars-0">');
    expect(html).toMatch(/<canvas id="curve-\d-\d-top1">/);
    expect((html.match(/<canvas id="shape-/g) ?? []).length).toBe(3);
    expect(html).toMatch(/<canvas id="depth-\d-0">/);
    expect(html).toContain('badge missing');
    expect(html).toContain('badge superseded');
    const data = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
    const parsed = JSON.parse(data) as { tables: { shapes: { layers: { instances: { points: number[][] }[] }[] }[] }[] };
    const pts = parsed.tables.flatMap((t) => t.shapes)[0]!.layers[0]!.instances[0]!.points;
    expect(pts).toHaveLength(4 + 1 + 2); // N+1 breakpoints plus one point beyond each bound
    const noChart = renderHtml(report(), { chartJs: null });
    expect(noChart).toContain('tables only');
  });

  it('the CLI writes each format, inferring it from --out, and exits 1 on a missing folder', () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'report.js'))) throw new Error('run `npm run build` first (npm test does)');
    const run = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'pwlu.js'), 'report', ...args], { encoding: 'utf8', timeout: 60_000 });
    const md = run(results);
    expect(md.status).toBe(0);
    expect(md.stdout).toContain('| arch | relu | swish | pwlu |');
    const out = join(tmp, 'out');
    mkdirSync(out);
    expect(run(results, '--out', join(out, 'r.csv')).status).toBe(0);
    expect(readFileSync(join(out, 'r.csv'), 'utf8').split('\n')[0]).toBe(CSV_COLUMNS.join(','));
    expect(run(results, '--format', 'html', '--out', join(out, 'r.x')).status).toBe(0);
    expect(readFileSync(join(out, 'r.x'), 'utf8')).toContain('<canvas');
    const bad = run(join(tmp, 'nope'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('does not exist');
  });
});

describe('setupHash', () => {
  const resolved = (activation: string, sets: string[] = []) =>
    JSON.parse(JSON.stringify(loadConfig(null, [`activation.name=${activation}`, ...sets]).config)) as Record<string, unknown>;

  it("groups a bench's cells whatever activation each fills in, and separates benches with other activation options", () => {
    const n8 = ['activation.pwlu.n=8'];
    expect(setupHash(resolved('relu', n8))).toBe(setupHash(resolved('pwlu', n8)));
    expect(setupHash(resolved('swish'))).toBe(setupHash(resolved('pwlu')));
    expect(setupHash(resolved('pwlu', n8))).not.toBe(setupHash(resolved('pwlu')));
  });

  it('gives a run saved in the old layout (top-level pwlu) the setup of the same run today', () => {
    const old = {
      ...resolved('relu'),
      activation: { name: 'relu', sites: 'all' },
      pwlu: { phase1_epochs: 1, momentum: 0.9, alpha: 3, n: 8, granularity: 'layer', realign: true },
    };
    expect(setupHash(old)).toBe(setupHash(resolved('relu', ['activation.pwlu.n=8'])));
  });
});
