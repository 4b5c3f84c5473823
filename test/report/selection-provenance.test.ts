import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectRuns, readRun, valSelection, type RunRecord } from '../../src/report/collect.js';
import { comparisonTable, renderCsv, renderMarkdown } from '../../src/report/format.js';
import { powersOfTwo, renderHtml } from '../../src/report/html.js';
import { buildReport, codeVersionLine } from '../../src/report/model.js';
import { paperDelta, paperNotes } from '../../src/report/paper.js';
import type { EpochRecord } from '../../src/run/records.js';
import { writeRun } from '../helpers/fake-runs.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-report-sel-');
afterAll(() => removeDir(tmp));

function epoch(e: number, test: number, val?: number): EpochRecord {
  return {
    epoch: e,
    lr: 0.1,
    train_loss: 1,
    train_top1: 50,
    test_loss: 1,
    test_top1: test,
    test_top5: 99,
    ...(val === undefined ? {} : { val_top1: val }),
    seconds: 1,
    img_per_s: 1,
  };
}

/** Rewrites fields of a fake run's summary.json. */
function patchSummary(dir: string, patch: Record<string, unknown>): void {
  const p = join(dir, 'summary.json');
  const s = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete s[k];
    else s[k] = v;
  }
  writeFileSync(p, JSON.stringify(s));
}

describe('model selection in the report: never on test', () => {
  it('takes the val-chosen epoch from the summary, or the val argmax of the curve, and nothing without val', () => {
    const curve = [epoch(1, 80, 70), epoch(2, 90, 75), epoch(3, 85, 75)];
    expect(valSelection({ epoch: 2, split: 'val', top1: 75, test_top1: 90 }, curve)).toEqual({ epoch: 2, test_top1: 90 });
    // An old summary chose on test (no val split): not a selection.
    expect(valSelection({ epoch: 2, split: 'test', top1: 90, test_top1: 90 }, curve)).toBeNull();
    // No summary best (a run still going): the first val maximum, as the trainer picks it; never the test maximum.
    expect(valSelection(undefined, curve)).toEqual({ epoch: 2, test_top1: 90 });
    expect(valSelection(null, [epoch(1, 80, 76), epoch(2, 90, 75)])).toEqual({ epoch: 1, test_top1: 80 });
    // No val curve: nothing is selected, whatever test says.
    expect(valSelection(undefined, [epoch(1, 80), epoch(2, 90)])).toBeNull();
    // A summary that says it selects nothing.
    expect(valSelection(null, curve, 'none')).toBeNull();
  });

  it('a run without a validation split shows its final epoch and "not selected", in every format', () => {
    const dir = writeRun(join(tmp, 'noval', 'resnet20-relu-s0'), { arch: 'resnet20', activation: 'relu', seed: 0, top1: 91 });
    // The fake run's summary says best (chosen on test, as old summaries without a val split did) at a lower test top-1.
    patchSummary(dir, { best: { epoch: 3, split: 'test', top1: 92, test_top1: 92, test_top5: 99 } });
    const r = readRun(dir, tmp);
    expect([r.top1, r.top1_best, r.epoch_best, r.best_split]).toEqual([91, null, null, null]);
    const report = buildReport(collectRuns(join(tmp, 'noval')), { resultsDir: 'noval', baseline: 'swish' });
    expect(renderCsv(report).split('\n')[1]).toMatch(/,none,/);
    const html = renderHtml(report, { chartJs: null });
    expect(html).toContain('<td>not selected</td>');
    expect(html).not.toContain('92.00');
  });
});

describe('code version of a grid', () => {
  const run = (commit: string | null, dirty: boolean | null, status: RunRecord['status'] = 'finished') =>
    ({ git_commit: commit, git_dirty: dirty, status }) as RunRecord;

  it('reads git_commit + git_dirty, and the -dirty suffix of older summaries', () => {
    const dir = writeRun(join(tmp, 'cv', 'a'), { arch: 'resnet20', activation: 'relu', seed: 0, top1: 91 });
    patchSummary(dir, { git_commit: '035766015a7ae2c86d83bc57b119720e7af716ab-dirty', git_dirty: undefined });
    expect([readRun(dir, tmp).git_commit, readRun(dir, tmp).git_dirty]).toEqual(['035766015a7ae2c86d83bc57b119720e7af716ab', true]);
    patchSummary(dir, { git_commit: 'abc1234', git_dirty: false });
    expect([readRun(dir, tmp).git_commit, readRun(dir, tmp).git_dirty]).toEqual(['abc1234', false]);
    patchSummary(dir, { git_commit: 'abc1234', git_dirty: true });
    expect(readRun(dir, tmp).git_dirty).toBe(true);
  });

  it('says nothing for one clean commit, and one line for several commits or any dirty checkout', () => {
    expect(codeVersionLine([run('abc1234', false), run('abc1234', false), run(null, null, 'missing')])).toBeNull();
    expect(codeVersionLine([run('abc1234', false), run('def5678', false)])).toBe('Code version: these 2 runs ran on 2 commits (abc1234 ×1, def5678 ×1).');
    expect(codeVersionLine([run('abc1234', true), run('abc1234', false), run('abc1234', false)])).toBe(
      'Code version: these 3 runs ran on 1 commit (abc1234 ×2, abc1234-dirty ×1); 1 from a checkout with uncommitted changes (-dirty), so the commit does not identify the code that ran.',
    );
  });
});

describe('confidence intervals, the paper column and the sweep axis', () => {
  it('lists every Δ with its 95% interval in Markdown', () => {
    const root = join(tmp, 'ci');
    const values: Record<string, number[]> = { swish: [91.2, 91.5, 91.1], pwlu: [90.8, 90.9, 91.0] };
    for (const [act, vs] of Object.entries(values))
      vs.forEach((top1, seed) => writeRun(join(root, `resnet20-${act}-s${seed}`), { arch: 'resnet20', activation: act, seed, top1 }));
    const report = buildReport(collectRuns(root), { resultsDir: 'ci', baseline: 'swish' });
    const t = report.tables[0]!;
    // scipy.stats.ttest_ind(pwlu, swish, equal_var=False).confidence_interval(0.95) = (-0.8015, 0.0682)
    expect(comparisonTable(t).rows).toEqual([['resnet20', 'pwlu', 'swish', '3 vs 3', '−0.37', '[−0.80, +0.07]', '0.074', '2.9']]);
    expect(renderMarkdown(report)).toContain('| resnet20 | pwlu | swish | 3 vs 3 | −0.37 | [−0.80, +0.07] | 0.074 | 2.9 |');
  });

  it("attaches the abstract's unnamed MobileNet-V3 figure to neither variant, and says so", () => {
    expect(paperDelta('mobilenet_v3_large')).toBeNull();
    expect(paperDelta('mobilenet_v3_small')).toBeNull();
    expect(paperDelta('resnet18')).toBe(0.9);
    expect(paperNotes(['mobilenet_v3_small'])[0]).toContain('+1.7');
    expect(paperNotes(['resnet18'])).toEqual([]);
  });

  it('draws a swept key on a log₂ axis only when its values are powers of two', () => {
    expect(powersOfTwo([4, 8, 16, 32, 16])).toBe(true);
    expect(powersOfTwo([0, 1, 2])).toBe(false);
    expect(powersOfTwo([8, 16])).toBe(false);
    expect(powersOfTwo([4, 6, 8])).toBe(false);
  });
});
