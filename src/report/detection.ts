/**
 * The detection comparison: detection runs of one setup by row (backbone arch, and a sweep bench's setting) ×
 * activation, with COCO's AP figures in percent as mean ± std over seeds, Welch's test of each figure against the
 * baseline activation, PWLU − Swish AP beside the paper's, and notes for every run that is not a result.
 */
import { COCO_AP_METRICS } from '../detection/coco-eval.js';
import type { RunRecord } from './collect.js';
import { codeVersionLine, fmtStatus, incompleteRun, rowKey, tableAxes, type IncompleteRun } from './cells.js';
import { paperDetectionDelta } from './paper.js';
import { delta, mean, sampleStd, type Delta } from './stats.js';
import { splitOverride } from '../util/overrides.js';

/** The COCO figures the detection tables show (the AR ones stay in the runs' records). */
export const DETECTION_METRICS = COCO_AP_METRICS;

/** One of the figures a detection table shows. */
export type DetectionMetric = (typeof DETECTION_METRICS)[number];

/** The method footnote every format prints under a detection table. */
export const DETECTION_TEST_NOTE =
  "Δ: difference of mean AP to the baseline in AP points (COCO box AP × 100); significance by Welch's two-sided t-test " +
  '(unequal variances, Welch–Satterthwaite degrees of freedom) over seeds: * p < 0.05, ** p < 0.01, *** p < 0.001, ' +
  'n.s. not significant, n/a fewer than 2 finished seeds on a side (or zero variance). A figure COCO leaves undefined ' +
  '(-1: no ground truth in that area range) is left out of its column, so n can differ between columns.';

/** One figure of one row × activation cell, over the finished seeds that define it. */
export interface MetricStats {
  /** The figure in percent (AP × 100), one per seed in `seeds`. */
  values: number[];
  seeds: number[];
  n: number;
  mean: number | null;
  std: number | null;
  /** Against the baseline activation in the same row (null for the baseline itself or without one). */
  delta: Delta | null;
}

/** One row × activation cell of a detection table. Only finished runs with COCO figures enter the statistics. */
export interface DetectionCell {
  row: string;
  arch: string;
  activation: string;
  /** The seeds counted (finished, with COCO figures). */
  seeds: number[];
  /** This cell is the baseline its row's Δs compare against. */
  is_baseline: boolean;
  metrics: Record<DetectionMetric, MetricStats>;
  incomplete: IncompleteRun[];
  /** Fewer AP seeds than the fullest cell of the table. */
  fewer_seeds: boolean;
}

/** A detection table's row: a backbone, or a backbone at one setting of a sweep bench. */
export interface DetectionRow {
  key: string;
  arch: string;
  variant: string;
}

/** How the figures' epoch was chosen: val AP for every counted run, the last evaluated epoch for every one, or both kinds. */
export type DetectionSelection = 'val' | 'last epoch' | 'mixed';

/** One detection table: runs sharing a dataset and every setting but arch, activation and seed. */
export interface DetectionTable {
  setup: string;
  dataset: string;
  /** The detector (config `detection.detector`), e.g. retinanet. */
  detector: string | null;
  epochs: number | null;
  /** The input's shorter side (`detection.min_size`). */
  img_size: number | null;
  archs: string[];
  rows: DetectionRow[];
  activations: string[];
  metrics: DetectionMetric[];
  /** The activation Δ compares against. */
  baseline: string;
  cells: DetectionCell[];
  selected_on: DetectionSelection;
  /** PWLU − Swish AP per row: ours (with the test) and the paper's for this detector. */
  pwlu_vs_swish: { row: string; arch: string; ours: Delta | null; paper: number | null }[];
  /** One line when the runs record more than one code version or a checkout with uncommitted changes; else null. */
  code_versions: string | null;
  notes: string[];
}

/** A run's figure in percent, or null where the run has none or COCO left it undefined (-1). */
export function figure(r: RunRecord, m: DetectionMetric): number | null {
  const v = r.coco?.[m];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v * 100 : null;
}

function stats(runs: RunRecord[], m: DetectionMetric, base: RunRecord[] | null): MetricStats {
  const have = runs.filter((r) => figure(r, m) !== null);
  const values = have.map((r) => figure(r, m)!);
  const baseValues = base?.map((r) => figure(r, m)).filter((v): v is number => v !== null) ?? [];
  return {
    values,
    seeds: have.map((r) => r.seed),
    n: values.length,
    mean: values.length ? mean(values) : null,
    std: values.length > 1 ? sampleStd(values) : null,
    delta: base === null ? null : delta(values, baseValues),
  };
}

/** The activation a detection table compares against: the report's baseline where it names one, else swish (with why). */
function detectionBaseline(requested: string): { name: string; note: string | null } {
  if (requested === 'base' || splitOverride(requested))
    return { name: 'swish', note: `--baseline ${requested} names a sweep setting; detection tables compare activations, so Δ is against swish.` };
  return { name: requested, note: null };
}

/** Builds one detection table from the runs of one dataset and setup. */
export function buildDetectionTable(runs: RunRecord[], requested: string): DetectionTable {
  const { archs, activations } = tableAxes(runs);
  const rowMap = new Map<string, DetectionRow>();
  for (const r of runs) rowMap.set(rowKey(r.arch, r.variant), { key: rowKey(r.arch, r.variant), arch: r.arch, variant: r.variant });
  const rows = [...rowMap.values()].sort(
    (a, b) =>
      archs.indexOf(a.arch) - archs.indexOf(b.arch) ||
      Number(b.variant === 'base') - Number(a.variant === 'base') ||
      a.variant.localeCompare(b.variant, 'en', { numeric: true }),
  );
  const counted = (r: RunRecord) => r.status === 'finished' && r.coco !== null;
  const inCell = (row: string, act: string) => runs.filter((r) => rowKey(r.arch, r.variant) === row && r.activation === act);
  const finished = (row: string, act: string) =>
    inCell(row, act)
      .filter(counted)
      .sort((a, b) => a.seed - b.seed);
  const notes: string[] = [];
  const { name: baseline, note } = detectionBaseline(requested);
  if (note) notes.push(note);
  const hasBaseline = activations.includes(baseline);
  if (!hasBaseline) notes.push(`no ${baseline} runs in this table, so no Δ.`);
  const cells: DetectionCell[] = [];
  for (const row of rows) {
    const base = hasBaseline ? finished(row.key, baseline) : [];
    let noBase = false;
    for (const act of activations) {
      const all = inCell(row.key, act);
      if (all.length === 0) continue;
      const fin = finished(row.key, act);
      const self = act === baseline;
      if (!self && hasBaseline && base.length === 0 && fin.length > 0) noBase = true;
      const against = self || !hasBaseline ? null : base;
      cells.push({
        row: row.key,
        arch: row.arch,
        activation: act,
        seeds: fin.map((r) => r.seed),
        is_baseline: self,
        metrics: Object.fromEntries(DETECTION_METRICS.map((m) => [m, stats(fin, m, against)])) as Record<DetectionMetric, MetricStats>,
        incomplete: all
          .filter((r) => !fin.includes(r))
          .sort((a, b) => a.seed - b.seed)
          .map(incompleteRun),
        fewer_seeds: false,
      });
    }
    if (noBase) notes.push(`${row.key}: no finished ${baseline} run to compare with, so no Δ.`);
  }
  const maxN = Math.max(0, ...cells.map((c) => c.metrics.AP.n));
  for (const c of cells) {
    const n = c.metrics.AP.n;
    c.fewer_seeds = n < maxN;
    if (c.incomplete.length) notes.push(`${c.row} · ${c.activation}: ${c.incomplete.map((i) => fmtStatus(i, 'COCO figures')).join('; ')} — not counted.`);
    if (c.fewer_seeds && n > 0)
      notes.push(`${c.row} · ${c.activation}: ${n} finished seed${n === 1 ? '' : 's'} with AP, fewer than the ${maxN} of the fullest cell.`);
  }
  const used = runs.filter(counted);
  const chosen = used.filter((r) => r.coco_selected);
  const selectedOn: DetectionSelection = chosen.length === used.length ? 'val' : chosen.length === 0 ? 'last epoch' : 'mixed';
  if (selectedOn === 'mixed') {
    const last = used.filter((r) => !r.coco_selected).map((r) => r.rel);
    notes.push(
      `${last.length} of ${used.length} runs report their last evaluated epoch (nothing chosen on val): ${last.join(', ')}; the others the epoch val AP chose.`,
    );
  }
  const detector = runs.map((r) => r.detector).find((d): d is string => d !== null) ?? null;
  const ap = (row: string, act: string) => finished(row, act).flatMap((r) => (figure(r, 'AP') === null ? [] : [figure(r, 'AP')!]));
  const first = runs.find((r) => r.status !== 'missing') ?? runs[0]!;
  return {
    setup: first.setup,
    dataset: first.dataset,
    detector,
    epochs: runs.map((r) => r.epochs).find((e): e is number => e !== null) ?? null,
    img_size: runs.map((r) => r.img_size).find((e): e is number => e !== null) ?? null,
    archs,
    rows,
    activations,
    metrics: [...DETECTION_METRICS],
    baseline,
    cells,
    selected_on: selectedOn,
    pwlu_vs_swish: rows.map((row) => ({
      row: row.key,
      arch: row.arch,
      ours: delta(ap(row.key, 'pwlu'), ap(row.key, 'swish')),
      paper: paperDetectionDelta(detector),
    })),
    code_versions: codeVersionLine(runs),
    notes,
  };
}
