import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { collectRuns, reportedCoco } from '../../src/report/collect.js';
import { CSV_COLUMNS, renderCsv, renderJson, renderMarkdown } from '../../src/report/format.js';
import { renderHtml } from '../../src/report/html.js';
import { buildReport, type Report } from '../../src/report/model.js';
import { paperDetectionDelta } from '../../src/report/paper.js';
import { writeRun } from '../helpers/fake-runs.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-report-det-');
const results = join(tmp, 'results');

/** Test AP (fractions) at the epoch val AP chooses, per activation and seed 0..2. */
const AP = { relu: [0.3, 0.31, 0.305], swish: [0.32, 0.318, 0.325], pwlu: [0.33, 0.335, 0.328] };
/** The other figures are AP plus a fixed offset, so each column's mean and std follow from AP's. */
const OFFSET = { AP: 0, AP50: 0.25, AP75: 0.02, APs: -0.15, APm: -0.02, APl: 0.1 } as const;

type Coco = Record<string, number>;

/** COCO's twelve figures with AP = `ap` (the AR ones are filler the report does not show). */
function coco(ap: number, undefinedAPs = false): Coco {
  const c: Coco = {};
  for (const [k, off] of Object.entries(OFFSET)) c[k] = ap + off;
  if (undefinedAPs) c.APs = -1;
  for (const k of ['AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl']) c[k] = 0.5;
  return c;
}

interface DetRun {
  arch: string;
  activation: string;
  seed: number;
  /** Test figures at the val-chosen epoch (epoch 2); the last epoch (3) has AP 0.2, which a correct report never shows. */
  chosen: Coco;
  /** No summary: a run killed after `completed` epochs. */
  completed?: number;
  /** A run without a validation split: selection 'none', best null, no val_coco. */
  noVal?: boolean;
}

/** Writes a detection run directory as the trainer leaves it: config.yaml, metrics.jsonl and (when it finished) summary.json. */
function writeDetRun(dir: string, r: DetRun): void {
  mkdirSync(dir, { recursive: true });
  const epochs = 3;
  const completed = r.completed ?? epochs;
  const config = {
    task: 'detection',
    name: null,
    seed: r.seed,
    backend: 'cpu',
    model: { arch: r.arch, width: 0.5, stem: 'imagenet' },
    activation: { name: r.activation, sites: 'all' },
    data: { name: 'fashion-mnist-detection', dir: null, image_size: null },
    detection: { detector: 'retinanet', head_width: 64, min_size: 128, max_size: 128 },
    train: { epochs, batch: 16, lr: 0.02 },
  };
  writeFileSync(join(dir, 'config.yaml'), `# fake\n${stringify(config)}`);
  const testAt = (e: number): Coco => (e === 2 ? r.chosen : coco(e === 3 ? 0.2 : 0.1));
  const lines: string[] = [];
  for (let e = 1; e <= completed; e++) {
    lines.push(
      JSON.stringify({
        epoch: e,
        lr: 0.02,
        train_loss: 1 / e,
        train_top1: null,
        train_cls_loss: 0.6 / e,
        train_box_loss: 0.4 / e,
        test_loss: null,
        test_top1: null,
        test_top5: null,
        test_coco: testAt(e),
        ...(r.noVal ? {} : { val_coco: coco(e === 2 ? 0.4 : 0.35) }),
        seconds: 10,
        img_per_s: 50,
      }),
    );
  }
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  if (r.completed !== undefined) return;
  const summary = {
    status: 'finished',
    task: 'detection',
    arch: r.arch,
    activation: r.activation,
    dataset: 'fashion-mnist-detection',
    seed: r.seed,
    epochs,
    epochs_completed: epochs,
    final: null,
    final_coco: testAt(3),
    selection: r.noVal ? 'none' : 'val',
    best: r.noVal ? null : { epoch: 2, split: 'val', metric: 'AP', score: 0.4, test_coco: r.chosen },
    params: 1000,
    act_params: 0,
    img_size: 128,
    wall_s: 60,
    train_img_per_s: 50,
    backend: { name: 'torch', reason: 'requested', detail: {} },
    git_commit: null,
  };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2));
}

function report(dir = results): Report {
  return buildReport(collectRuns(dir), { resultsDir: dir, baseline: 'swish', now: new Date('2026-01-02T03:04:05Z') });
}

beforeAll(() => {
  for (const [act, aps] of Object.entries(AP))
    aps.forEach((ap, seed) =>
      writeDetRun(join(results, 'det', `resnet18-${act}-s${seed}`), {
        arch: 'resnet18',
        activation: act,
        seed,
        // COCO leaves APs undefined (-1) for one PWLU seed: its APs column has n = 2.
        chosen: coco(ap, act === 'pwlu' && seed === 1),
      }),
    );
  // Killed after 2 epochs: not counted, named in the notes.
  writeDetRun(join(results, 'det', 'resnet18-pwlu-s3'), { arch: 'resnet18', activation: 'pwlu', seed: 3, chosen: coco(0.9), completed: 2 });
  // Classification runs beside them: a table of their own.
  writeRun(join(results, 'cls', 'resnet20-relu-s0'), { arch: 'resnet20', activation: 'relu', seed: 0, top1: 90 });
  writeRun(join(results, 'cls', 'resnet20-swish-s0'), { arch: 'resnet20', activation: 'swish', seed: 0, top1: 91 });
});
afterAll(() => removeDir(tmp));

describe('pwlu report: detection runs', () => {
  it('reads the task, the detector, and the test figures of the epoch val AP chose (not the final ones)', () => {
    const runs = collectRuns(results);
    const pw0 = runs.find((r) => r.rel === 'det/resnet18-pwlu-s0')!;
    expect(pw0.task).toBe('detection');
    expect(pw0.detector).toBe('retinanet');
    expect(pw0.coco_selected).toBe(true);
    expect(pw0.coco!.AP).toBe(0.33);
    expect(pw0.epoch_best).toBe(2);
    expect(pw0.top1).toBeNull();
    // A run without a summary: the last evaluated epoch's figures (epoch 2 of a killed run), not chosen.
    const killed = runs.find((r) => r.rel === 'det/resnet18-pwlu-s3')!;
    expect(killed.status).toBe('incomplete');
    expect(killed.coco!.AP).toBe(0.9);
    expect(killed.coco_selected).toBe(false);
    const cls = runs.find((r) => r.rel === 'cls/resnet20-relu-s0')!;
    expect(cls.task).toBe('classification');
    expect(cls.coco).toBeNull();
    expect(cls.detector).toBeNull();
  });

  it('a run without a validation split reports its final figures, marked as not chosen', () => {
    const dir = join(tmp, 'noval');
    writeDetRun(join(dir, 'r'), { arch: 'resnet18', activation: 'relu', seed: 0, chosen: coco(0.5), noVal: true });
    const [run] = collectRuns(dir);
    expect(run!.coco!.AP).toBe(0.2); // final_coco, the last epoch's
    expect(run!.coco_selected).toBe(false);
    expect(run!.best_split).toBeNull();
    const t = report(dir).detection[0]!;
    expect(t.selected_on).toBe('last epoch');
    expect(renderMarkdown(report(dir))).toContain('at the last evaluated epoch');
    // The summary's choice wins over its final figures only when it was made on val.
    expect(reportedCoco({ best: { split: 'val', test_coco: { AP: 0.4 } }, final_coco: { AP: 0.3 } }, [], true)).toEqual({ coco: { AP: 0.4 }, selected: true });
    expect(reportedCoco({ best: { split: 'val', test_coco: { AP: 0.4 } }, final_coco: { AP: 0.3 }, selection: 'none' }, [], true)).toEqual({
      coco: { AP: 0.3 },
      selected: false,
    });
  });

  it('one classification and one detection table; detection runs never enter the classification tables', () => {
    const r = report();
    expect(r.tables).toHaveLength(1);
    expect(r.tables[0]!.archs).toEqual(['resnet20']);
    expect(r.detection).toHaveLength(1);
    const t = r.detection[0]!;
    expect(t.dataset).toBe('fashion-mnist-detection');
    expect(t.detector).toBe('retinanet');
    expect(t.epochs).toBe(3);
    expect(t.img_size).toBe(128);
    expect(t.archs).toEqual(['resnet18']);
    expect(t.activations).toEqual(['relu', 'swish', 'pwlu']);
    expect(t.metrics).toEqual(['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl']);
    expect(t.selected_on).toBe('val');
  });

  it('mean ± std (n) in percent per figure, Δ and Welch p against Swish as SciPy gives them, -1 left out', () => {
    const t = report().detection[0]!;
    const cell = (act: string) => t.cells.find((c) => c.activation === act)!;
    const pw = cell('pwlu');
    // PWLU AP: 33.0, 33.5, 32.8 → mean 33.1; deviations −0.1, 0.4, −0.3 → s² = 0.26 / 2, s = 0.36056.
    expect(pw.metrics.AP.n).toBe(3);
    expect(pw.metrics.AP.mean).toBeCloseTo(33.1, 10);
    expect(pw.metrics.AP.std).toBeCloseTo(Math.sqrt(0.13), 10);
    expect(pw.metrics.AP50.mean).toBeCloseTo(58.1, 10);
    expect(pw.metrics.APl.std).toBeCloseTo(Math.sqrt(0.13), 10);
    // scipy.stats.ttest_ind([33, 33.5, 32.8], [32, 31.8, 32.5], equal_var=False): p = 0.027357096779565496, df = 4.
    expect(pw.metrics.AP.delta!.diff).toBeCloseTo(1.0, 10);
    expect(pw.metrics.AP.delta!.p).toBeCloseTo(0.027357096779565496, 8);
    expect(pw.metrics.AP.delta!.df).toBeCloseTo(4, 8);
    expect(pw.metrics.AP.delta!.mark).toBe('*');
    // relu: ttest_ind([30, 31, 30.5], [32, 31.8, 32.5], equal_var=False): p = 0.013476836990585439, df = 3.6373.
    const relu = cell('relu').metrics.AP.delta!;
    expect(relu.diff).toBeCloseTo(-1.6, 10);
    expect(relu.p).toBeCloseTo(0.013476836990585439, 8);
    expect(relu.df).toBeCloseTo(3.637279596977329, 8);
    // APs: seed 1 of PWLU has -1 (undefined) → seeds 0 and 2 only: [18, 17.8] vs [17, 16.8, 17.5]; p = 0.04664169055892507.
    expect(pw.metrics.APs.n).toBe(2);
    expect(pw.metrics.APs.seeds).toEqual([0, 2]);
    expect(pw.metrics.APs.mean).toBeCloseTo(17.9, 10);
    expect(pw.metrics.APs.delta!.p).toBeCloseTo(0.04664169055892507, 8);
    expect(pw.metrics.APs.delta!.n).toEqual([2, 3]);
    // Swish is the baseline: no Δ of its own.
    expect(cell('swish').is_baseline).toBe(true);
    expect(cell('swish').metrics.AP.delta).toBeNull();
    // The killed seed is not counted and is named in the notes.
    expect(pw.seeds).toEqual([0, 1, 2]);
    expect(pw.incomplete).toEqual([expect.objectContaining({ seed: 3, status: 'incomplete', epochs_completed: 2, epochs: 3 })]);
    expect(t.notes.some((n) => /resnet18 · pwlu: seed 3 has no summary \(killed or still running at epoch 2\/3\) — not counted/.test(n))).toBe(true);
    const vs = t.pwlu_vs_swish[0]!;
    expect(vs.paper).toBe(0.5);
    expect(vs.ours!.p).toBeCloseTo(0.027357096779565496, 8);
  });

  it("knows the paper's detection deltas by detector", () => {
    expect(paperDetectionDelta('retinanet')).toBe(0.5);
    expect(paperDetectionDelta('mask_rcnn')).toBe(0.4);
    expect(paperDetectionDelta('fcos')).toBeNull();
    expect(paperDetectionDelta(null)).toBeNull();
  });

  it("Markdown: a titled table of AP figures with Δ AP and p, PWLU − Swish beside the paper's +0.5, and the notes", () => {
    const md = renderMarkdown(report());
    expect(md).toContain('## fashion-mnist-detection · RetinaNet · 3 epochs · shorter side 128 px · setup ');
    expect(md).toContain('| arch | activation | AP | AP50 | AP75 | APs | APm | APl | Δ AP vs swish | p |');
    expect(md).toContain(
      '| resnet18 | pwlu † | 33.10 ± 0.36 (n=3) | 58.10 ± 0.36 (n=3) | 35.10 ± 0.36 (n=3) | 17.90 ± 0.14 (n=2) | 31.10 ± 0.36 (n=3) | 43.10 ± 0.36 (n=3) | +1.00* | 0.027 |',
    );
    expect(md).toMatch(/\| resnet18 \| swish \| 32\.10 ± 0\.36 \(n=3\) \|.*\| base \| — \|/);
    expect(md).toMatch(/\| resnet18 \| relu \| 30\.50 ± 0\.50 \(n=3\) \|.*\| −1\.60\* \| 0\.013 \|/);
    expect(md).toContain('PWLU − Swish AP, resnet18: ours +1.00* (p 0.027, n 3 vs 3) · paper +0.5 (RetinaNet, ResNet-50 on COCO)');
    expect(md).toContain('Zhou et al., ICCV 2021: COCO AP, PWLU − Swish (ResNet-50 backbone)');
    expect(md).toContain('in AP points');
    expect(md).toContain('at the epoch val AP chose');
    // The classification table is still there, unchanged in form.
    expect(md).toContain('| arch | relu | swish |');
  });

  it('CSV: the old columns first and unchanged, then task and the AP figures in percent', () => {
    const old =
      'arch,activation,dataset,seed,top1,top5,top1_best,epoch_best,param_count,act_param_count,epochs,img_size,backend,train_img_per_s,wall_s,' +
      'peak_tensor_bytes,status,epochs_planned,setup,variant,run_dir,best_split,git_commit,git_dirty';
    const csv = renderCsv(report()).trim().split('\n');
    expect(csv[0]).toBe(`${old},task,AP,AP50,AP75,APs,APm,APl`);
    expect(csv[0]).toBe(CSV_COLUMNS.join(','));
    const col = (line: string, name: string) => line.split(',')[CSV_COLUMNS.indexOf(name as (typeof CSV_COLUMNS)[number])];
    const pw1 = csv.find((l) => l.startsWith('resnet18,pwlu,fashion-mnist-detection,1,'))!;
    expect(col(pw1, 'task')).toBe('detection');
    expect(col(pw1, 'AP')).toBe('33.5');
    expect(col(pw1, 'APs')).toBe(''); // -1: undefined
    expect(col(pw1, 'top1')).toBe('');
    const cls = csv.find((l) => l.startsWith('resnet20,relu,'))!;
    expect(col(cls, 'task')).toBe('classification');
    expect(col(cls, 'AP')).toBe('');
    expect(col(cls, 'top1')).toBe('90');
  });

  it('JSON and HTML carry the detection table', () => {
    const j = JSON.parse(renderJson(report())) as {
      detection: { cells: { activation: string; metrics: { AP: { mean: number } } }[] }[];
      detection_test: string;
    };
    expect(j.detection).toHaveLength(1);
    expect(j.detection[0]!.cells.find((c) => c.activation === 'pwlu')!.metrics.AP.mean).toBeCloseTo(33.1, 10);
    expect(j.detection_test).toContain('AP points');
    const html = renderHtml(report(), { chartJs: null });
    expect(html).toContain('<table class="pivot detection">');
    expect(html).toContain('<td>33.10 ± 0.36 (n=3)</td>');
    expect(html).toContain('paper +0.5 (RetinaNet');
    expect(html).toContain('AP 33.00');
  });
});
