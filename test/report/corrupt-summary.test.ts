/** A run whose summary.json is there but unreadable reads as failed with the reason, never as a run still going. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectRuns } from '../../src/report/collect.js';
import { renderMarkdown } from '../../src/report/format.js';
import { buildReport } from '../../src/report/model.js';
import { writeRun } from '../helpers/fake-runs.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-report-corrupt-');

describe('pwlu report: a corrupt summary.json', () => {
  afterAll(() => removeDir(tmp));

  it('is failed, with "summary.json is corrupt: <reason>" as its error, in the records and the report', () => {
    writeRun(join(tmp, 'ok-s0'), { arch: 'resnet20', activation: 'relu', seed: 0, top1: 91 });
    const broken = writeRun(join(tmp, 'broken-s1'), { arch: 'resnet20', activation: 'relu', seed: 1, top1: 90, completed: 3 });
    writeFileSync(join(broken, 'summary.json'), '{"status": "finis');
    const still = writeRun(join(tmp, 'running-s2'), { arch: 'resnet20', activation: 'relu', seed: 2, top1: 80, status: 'none', completed: 2 });
    const notObject = writeRun(join(tmp, 'array-s3'), { arch: 'resnet20', activation: 'relu', seed: 3, top1: 80, completed: 2 });
    writeFileSync(join(notObject, 'summary.json'), '[1, 2]');

    const runs = collectRuns(tmp);
    const by = (dir: string) => runs.find((r) => r.dir === dir)!;
    expect(by(broken).status).toBe('failed');
    expect(by(broken).error).toMatch(/^summary\.json is corrupt: not valid JSON: /);
    expect(by(notObject).status).toBe('failed');
    expect(by(notObject).error).toBe('summary.json is corrupt: not a JSON object');
    // No summary at all is still a run that may be going.
    expect(by(still).status).toBe('incomplete');
    expect(by(still).error).toBeNull();

    const md = renderMarkdown(buildReport(runs, { resultsDir: tmp, baseline: 'relu', now: new Date('2026-01-02T03:04:05Z') }));
    expect(md).toMatch(/seed 1 failed at epoch 3\/4: summary\.json is corrupt: not valid JSON/);
    expect(md).toMatch(/seed 3 failed at epoch 2\/4: summary\.json is corrupt: not a JSON object/);
    expect(md).toMatch(/seed 2 has no summary \(killed or still running at epoch 2\/4\)/);
  });
});
