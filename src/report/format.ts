/** Text renderings of a report: Markdown (the terminal and README table), CSV (one row per run) and JSON. */
import type { RunRecord } from './collect.js';
import { DETECTION_METRICS, DETECTION_TEST_NOTE, figure, type DetectionCell, type DetectionTable, type MetricStats } from './detection.js';
import { TEST_NOTE, type CellStats, type Delta, type Report, type SetupTable, type TableRow } from './model.js';
import { detectorLabel, PAPER_CITATION, PAPER_DETECTION_CITATION, paperNotes } from './paper.js';
import type { LayerShapes } from './shapes.js';

/**
 * The columns of results.csv, timm style, then what says whether the row is a result at all, then the task and a
 * detection run's COCO figures in percent at its reported epoch (empty for classification, and where COCO leaves one
 * undefined). New columns go at the end, so readers that index by position keep working.
 */
export const CSV_COLUMNS = [
  'arch',
  'activation',
  'dataset',
  'seed',
  'top1',
  'top5',
  'top1_best',
  'epoch_best',
  'param_count',
  'act_param_count',
  'epochs',
  'img_size',
  'backend',
  'train_img_per_s',
  'wall_s',
  'peak_tensor_bytes',
  'status',
  'epochs_planned',
  'setup',
  'variant',
  'run_dir',
  'best_split',
  'git_commit',
  'git_dirty',
  'task',
  ...DETECTION_METRICS,
] as const;

/** Formats a number with fixed decimals; an em dash for a missing value. */
export function fmt(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

/** A signed difference, e.g. +0.53. */
export function signed(v: number, digits = 2): string {
  const s = v.toFixed(digits);
  return v >= 0 && !s.startsWith('-') ? `+${s}` : s.replace('-', '−');
}

/** "+0.50**" for a delta; "—" when there is nothing to compare. */
export function fmtDelta(d: Delta | null): string {
  if (!d || !Number.isFinite(d.diff)) return '—';
  return `${signed(d.diff)}${d.mark === 'n/a' ? ' (n/a)' : d.mark === 'n.s.' ? ' (n.s.)' : d.mark}`;
}

/** A p-value as the tables print it: three decimals, scientific below 0.001, n/a where the test is undefined. */
export function fmtP(p: number | null): string {
  return p === null ? 'n/a' : p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

/** A 95% confidence interval: "[−0.04, +0.30]"; an em dash where there is none. */
export function fmtCI(ci: [number, number] | null | undefined, digits = 2): string {
  return ci ? `[${signed(ci[0], digits)}, ${signed(ci[1], digits)}]` : '—';
}

/** What the comparisons table shows, in every format. */
export const CI_NOTE =
  "Comparisons: each Δ with Welch's 95% confidence interval (Δ ± t(0.975, df) · SE). A p above 0.05 means the interval contains 0, " +
  'not that the difference is zero or small: the interval is the range of differences these seeds cannot rule out.';

/** The comparisons table's head and rows: every cell with a Δ (and PWLU − Swish where it is not already the Δ). */
export function comparisonTable(t: SetupTable): { head: string[]; rows: string[][] } {
  const head = [...rowHead(t), 'activation', 'vs', 'n', 'Δ', '95% CI of Δ', 'p', 'df'];
  const rows: string[][] = [];
  const line = (row: TableRow, act: string, vs: string, d: Delta) => [
    ...rowCells(t, row),
    act,
    vs,
    `${d.n[0]} vs ${d.n[1]}`,
    signed(d.diff),
    fmtCI(d.ci95),
    fmtP(d.p),
    d.df === null ? '—' : d.df.toFixed(1),
  ];
  for (const row of t.rows) {
    for (const act of t.activations) {
      const c = t.cells.find((x) => x.row === row.key && x.activation === act);
      if (c && c.n > 0 && c.delta && Number.isFinite(c.delta.diff)) rows.push(line(row, act, t.baseline, c.delta));
    }
    const pv = t.pwlu_vs_swish.find((p) => p.row === row.key)?.ours;
    const already = t.baseline === 'swish';
    if (pv && !already && Number.isFinite(pv.diff)) rows.push(line(row, 'pwlu', 'swish', pv));
  }
  return { head, rows };
}

/** The notes printed under a table's paper column: the citation, and what the abstract leaves unattributed. */
export function paperColumnNotes(t: SetupTable): string[] {
  return [`PWLU − Swish (paper): ${PAPER_CITATION}; beside a non-ImageNet setup it is context, not a target.`, ...paperNotes(t.archs)];
}

/** A cell without a counted seed: "— (1 interrupted, 2 failed)", or "—". */
function fmtNothing(incomplete: readonly { status: string }[]): string {
  const counts = new Map<string, number>();
  for (const i of incomplete) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
  const what = [...counts].map(([s, k]) => `${k} ${s}`).join(', ');
  return what ? `— (${what})` : '—';
}

/** The top-1 part of a pivot cell: "91.20 ± 0.10 (n=3)". */
export function fmtTop1(c: CellStats): string {
  if (c.n === 0) return fmtNothing(c.incomplete);
  return c.std === null ? `${fmt(c.mean)} (n=${c.n})` : `${fmt(c.mean)} ± ${fmt(c.std)} (n=${c.n})`;
}

/** Whether a cell has something the notes explain (runs not counted, or fewer seeds). */
export function flagged(c: CellStats): boolean {
  return c.incomplete.length > 0 || c.fewer_seeds;
}

/** The table's heading: dataset, epochs, input size and setup hash. */
export function tableTitle(t: SetupTable): string {
  const parts = [t.dataset];
  if (t.epochs !== null) parts.push(`${t.epochs} epochs`);
  if (t.img_size !== null) parts.push(`${t.img_size}×${t.img_size}`);
  parts.push(`setup ${t.setup}`);
  return parts.join(' · ');
}

/** What a sweep table's rows are, with the base setting's values where the table has a base row. */
export function rowsNote(t: SetupTable): string {
  const base = t.rows.find((r) => r.variant === 'base');
  const values = base ? t.sweep_keys.map((k) => `${k.split('.').pop()}=${String(base.sweep[k])}`).join(', ') : null;
  return `Rows: settings of ${t.sweep_keys.join(', ')}${values ? ` (base: ${values})` : ''}.`;
}

/** The row heading columns: arch, and the setting where the table has sweeps. */
export function rowHead(t: SetupTable): string[] {
  return t.sweep_keys.length ? ['arch', 'setting'] : ['arch'];
}

/** A row's heading cells, matching rowHead. */
export function rowCells(t: SetupTable, row: TableRow): string[] {
  return t.sweep_keys.length ? [row.arch, row.variant] : [row.arch];
}

/** Whether the PWLU − Swish columns apply to this table. */
export function showsPaperColumns(t: SetupTable): boolean {
  return (t.activations.includes('pwlu') && t.activations.includes('swish')) || t.pwlu_vs_swish.some((r) => r.paper !== null);
}

/** Cost cell: "+399 · 1,234 img/s (0.81×) · 353 MiB (1.00×)" (the memory part where the runs recorded it). */
export function fmtCost(c: CellStats): string {
  if (c.act_params === null && c.train_img_per_s === null) return '—';
  const params = c.act_params === null ? '—' : `+${c.act_params.toLocaleString('en-US')}`;
  const speed = c.train_img_per_s === null ? '— img/s' : `${Math.round(c.train_img_per_s).toLocaleString('en-US')} img/s`;
  const ratio = c.speed_vs_relu === null ? '' : ` (${c.speed_vs_relu.toFixed(2)}×)`;
  const memory =
    c.peak_tensor_bytes === null
      ? ''
      : ` · ${Math.round(c.peak_tensor_bytes / 2 ** 20).toLocaleString('en-US')} MiB${c.memory_vs_relu === null ? '' : ` (${c.memory_vs_relu.toFixed(2)}×)`}`;
  return `${params} · ${speed}${ratio}${memory}`;
}

/** The cost table's caption in every format. */
export const COST_NOTE =
  'Cost: parameters the activation adds · training img/s · highest peak tensor memory over the runs that recorded it (torch backend, CPU); ratios to ReLU in the same row';

/** What the shape columns mean (the definitions are in src/report/shapes.ts). */
export const SHAPE_NOTE =
  'Learned shapes: mean slope of the learned PWLU left and right of 0 inside its bounds (ReLU: 0 and 1, a V: negative and positive), ' +
  'R² of a straight line through its breakpoints (1 = linear) beside the same R² of ReLU on the same breakpoints (a ReLU on a grid is not a line: ' +
  "a layer has become more linear only where its R² is above ReLU's), and 1 − net change / total variation (0 = monotonic, near 1 = V-like); " +
  'channel-wise units averaged over channels. The paper reports near-linear shapes in shallow layers and V-like ones in deep layers.';

/** The learned-shape table's head, in every format. */
export const SHAPE_HEAD = ['depth', 'layer', 'slope left of 0', 'slope right of 0', 'linearity (R²)', "ReLU's R² (same grid)", 'non-monotonic', 'n'];

/** One depth row of the learned-shape table: each number as mean ± std over seeds. */
export function shapeRow(l: LayerShapes): string[] {
  const v = (k: keyof LayerShapes['mean']) => (l.std ? `${fmt(l.mean[k])} ± ${fmt(l.std[k])}` : fmt(l.mean[k]));
  return [String(l.depth + 1), l.layer, v('slope_left'), v('slope_right'), v('linearity'), v('relu_linearity'), v('non_monotonic'), String(l.n)];
}

/** A detection table's heading: dataset, detector, epochs, input size and setup hash. */
export function detectionTitle(t: DetectionTable): string {
  const parts = [t.dataset, detectorLabel(t.detector)];
  if (t.epochs !== null) parts.push(`${t.epochs} epochs`);
  if (t.img_size !== null) parts.push(`shorter side ${t.img_size} px`);
  parts.push(`setup ${t.setup}`);
  return parts.join(' · ');
}

/** What a detection table's figures are and which epoch they come from, in every format. */
export function detectionCaption(t: DetectionTable): string {
  const epoch =
    t.selected_on === 'val'
      ? 'at the epoch val AP chose'
      : t.selected_on === 'last epoch'
        ? 'at the last evaluated epoch (no validation split, so nothing is chosen)'
        : 'at the epoch val AP chose, or the last evaluated one where nothing was chosen (see the notes)';
  return `COCO box AP (%) on the test split ${epoch}, mean ± sample std over seeds (n = finished seeds with the figure); Δ AP vs ${t.baseline} with Welch's p.`;
}

/** One figure of a detection cell: "37.20 ± 0.30 (n=3)"; an em dash without seeds. */
export function fmtFigure(s: MetricStats): string {
  if (s.n === 0) return '—';
  return s.std === null ? `${fmt(s.mean)} (n=${s.n})` : `${fmt(s.mean)} ± ${fmt(s.std)} (n=${s.n})`;
}

/** Whether a detection cell has something the notes explain (runs not counted, or fewer seeds). */
export function detectionFlagged(c: DetectionCell): boolean {
  return c.incomplete.length > 0 || c.fewer_seeds;
}

/** A detection table's head and rows (one per arch × activation: the figures, Δ AP with its mark, and p), in every format. */
export function detectionRows(t: DetectionTable): { head: string[]; rows: string[][] } {
  const sweep = t.rows.some((r) => r.variant !== '');
  const head = ['arch', ...(sweep ? ['setting'] : []), 'activation', ...t.metrics, `Δ AP vs ${t.baseline}`, 'p'];
  const rows: string[][] = [];
  for (const row of t.rows) {
    for (const act of t.activations) {
      const c = t.cells.find((x) => x.row === row.key && x.activation === act);
      if (!c) continue;
      const ap = c.metrics.AP;
      const figures = t.metrics.map((m, i) => (i === 0 && c.seeds.length === 0 ? fmtNothing(c.incomplete) : fmtFigure(c.metrics[m])));
      const d = c.is_baseline ? (ap.n ? 'base' : '—') : fmtDelta(ap.delta);
      const p = c.is_baseline || !ap.delta ? '—' : fmtP(ap.delta.p);
      rows.push([row.arch, ...(sweep ? [row.variant] : []), `${act}${detectionFlagged(c) ? ' †' : ''}`, ...figures, d, p]);
    }
  }
  return { head, rows };
}

/** Whether a detection table shows PWLU − Swish beside the paper's. */
export function showsDetectionPaper(t: DetectionTable): boolean {
  return (t.activations.includes('pwlu') && t.activations.includes('swish')) || t.pwlu_vs_swish.some((r) => r.paper !== null);
}

/** PWLU − Swish AP per row, ours (with Welch's p) beside the paper's for the table's detector; none where it does not apply. */
export function detectionPaperLines(t: DetectionTable): string[] {
  if (!showsDetectionPaper(t)) return [];
  return t.pwlu_vs_swish.map((v) => {
    const ours = v.ours && Number.isFinite(v.ours.diff) ? `${fmtDelta(v.ours)} (p ${fmtP(v.ours.p)}, n ${v.ours.n[0]} vs ${v.ours.n[1]})` : '—';
    const paper = v.paper === null ? '— (the paper reports none for this detector)' : `${signed(v.paper, 1)} (${detectorLabel(t.detector)}, ResNet-50 on COCO)`;
    return `PWLU − Swish AP, ${v.row}: ours ${ours} · paper ${paper}`;
  });
}

/** The numbered notes under a detection table: the test, code versions, the paper's source, and every run not counted. */
export function detectionNotes(t: DetectionTable): string[] {
  return [
    DETECTION_TEST_NOTE,
    ...(t.code_versions ? [t.code_versions] : []),
    ...(showsDetectionPaper(t)
      ? [`PWLU − Swish (paper): ${PAPER_DETECTION_CITATION}; beside another backbone, schedule or dataset it is context, not a target.`]
      : []),
    ...t.notes.map((n) => `† ${n}`),
  ];
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(mdEscape).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The report as Markdown: per setup, the top-1 pivot with deltas and the paper's PWLU − Swish, a cost pivot, notes. */
export function renderMarkdown(r: Report): string {
  const out: string[] = [];
  out.push(`# pwlu report: ${r.results_dir}`);
  out.push('');
  out.push(
    r.tables.length > 0 || r.detection.length === 0
      ? `Generated ${r.generated}. Top-1 (%) on the test split at the final epoch, mean ± sample std over seeds (n = finished seeds); Δ vs the baseline each table names.`
      : `Generated ${r.generated}. Detection: COCO box AP (%), as each table says.`,
  );
  for (const t of r.tables) {
    const cell = (row: string, act: string) => t.cells.find((c) => c.row === row && c.activation === act);
    const paper = showsPaperColumns(t);
    out.push('', `## ${tableTitle(t)}`, '');
    if (t.sweep_keys.length) out.push(`${rowsNote(t)} Δ vs ${t.baseline}.`, '');
    else out.push(`Δ vs ${t.baseline}.`, '');
    const head = [...rowHead(t), ...t.activations, ...(paper ? ['PWLU − Swish (ours)', 'PWLU − Swish (paper)'] : [])];
    const rows = t.rows.map((row) => {
      const cols = t.activations.map((act) => {
        const c = cell(row.key, act);
        if (!c) return '';
        const d = c.is_baseline ? (c.n ? ' base' : '') : c.n ? ` ${fmtDelta(c.delta)}` : '';
        return `${fmtTop1(c)}${d}${flagged(c) ? ' †' : ''}`;
      });
      const pv = t.pwlu_vs_swish.find((p) => p.row === row.key);
      const extra = paper ? [fmtDelta(pv?.ours ?? null), pv?.paper != null ? signed(pv.paper) : '—'] : [];
      return [...rowCells(t, row), ...cols, ...extra];
    });
    out.push(mdTable(head, rows));
    const cmp = comparisonTable(t);
    if (cmp.rows.length) out.push('', `${CI_NOTE}`, '', mdTable(cmp.head, cmp.rows));
    out.push('', COST_NOTE, '');
    const costRows = t.rows.map((row) => [...rowCells(t, row), ...t.activations.map((act) => (cell(row.key, act) ? fmtCost(cell(row.key, act)!) : ''))]);
    out.push(mdTable([...rowHead(t), ...t.activations], costRows));
    for (const s of t.shapes) {
      out.push('', `Learned PWLU shapes by depth, ${s.row} + ${s.activation} (mean ± std over seeds):`, '');
      out.push(mdTable(SHAPE_HEAD, s.layers.map(shapeRow)));
    }
    const notes = [
      TEST_NOTE,
      ...(t.code_versions ? [t.code_versions] : []),
      ...(t.shapes.length ? [SHAPE_NOTE] : []),
      ...(paper ? paperColumnNotes(t) : []),
      ...t.notes.map((n) => `† ${n}`),
    ];
    out.push('', ...notes.map((n, i) => `${i + 1}. ${n}`));
  }
  for (const t of r.detection) {
    const { head, rows } = detectionRows(t);
    out.push('', `## ${detectionTitle(t)}`, '', detectionCaption(t), '', mdTable(head, rows));
    const lines = detectionPaperLines(t);
    if (lines.length) out.push('', ...lines.flatMap((l, i) => (i ? ['', l] : [l])));
    out.push('', ...detectionNotes(t).map((n, i) => `${i + 1}. ${n}`));
  }
  if (r.notes.length) out.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(+v.toFixed(6)) : '') : v;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV row of a run in CSV_COLUMNS order. */
function csvRow(r: RunRecord): (string | number | null)[] {
  return [
    r.arch,
    r.activation,
    r.dataset,
    r.seed,
    r.top1,
    r.top5,
    r.top1_best,
    r.epoch_best,
    r.param_count,
    r.act_param_count,
    r.epochs_completed,
    r.img_size,
    r.backend,
    r.train_img_per_s,
    r.wall_s,
    r.peak_tensor_bytes,
    r.superseded ? 'superseded' : r.status,
    r.epochs,
    r.setup,
    r.variant,
    r.rel,
    r.best_split ?? 'none',
    r.git_commit,
    r.git_dirty === null ? null : String(r.git_dirty),
    r.task,
    ...DETECTION_METRICS.map((m) => figure(r, m)),
  ];
}

/** results.csv: one row per run (timm style), every run included; `status` says which rows are results. */
export function renderCsv(r: Report): string {
  const rows = [...r.runs].sort(
    (a, b) =>
      a.dataset.localeCompare(b.dataset) ||
      a.arch.localeCompare(b.arch) ||
      a.activation.localeCompare(b.activation) ||
      a.seed - b.seed ||
      a.rel.localeCompare(b.rel),
  );
  return `${[CSV_COLUMNS.join(','), ...rows.map((x) => csvRow(x).map(csvCell).join(','))].join('\n')}\n`;
}

/** The report as JSON: tables with statistics and notes, and every run without its curves or shapes. */
export function renderJson(r: Report): string {
  const runs = r.runs.map(({ curve: _c, pwlu: _p, ...rest }) => rest);
  const detection = r.detection.length ? { detection_test: DETECTION_TEST_NOTE, detection_paper: PAPER_DETECTION_CITATION } : {};
  return `${JSON.stringify({ ...r, test: TEST_NOTE, paper: PAPER_CITATION, ...detection, runs }, null, 2)}\n`;
}
