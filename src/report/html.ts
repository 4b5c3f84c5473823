/**
 * The HTML report: one self-contained file (Chart.js inlined, no network) with the comparison tables,
 * accuracy bars with error bars, learning curves from metrics.jsonl, and each PWLU layer's learned
 * shape from activations.json beside its phase-I statistics.
 */
import { ACTIVATION_SPECS } from '../activations/specs/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RunRecord } from './collect.js';
import {
  CI_NOTE,
  comparisonTable,
  COST_NOTE,
  detectionCaption,
  detectionNotes,
  detectionPaperLines,
  detectionRows,
  detectionTitle,
  fmt,
  fmtCost,
  rowsNote,
  fmtDelta,
  fmtTop1,
  flagged,
  paperColumnNotes,
  rowCells,
  rowHead,
  SHAPE_HEAD,
  SHAPE_NOTE,
  shapeRow,
  showsPaperColumns,
  signed,
  tableTitle,
} from './format.js';
import { figure, type DetectionTable } from './detection.js';
import { TEST_NOTE, type Report, type SetupTable, type SweepSeries, type TableRow } from './model.js';

/** Most PWLU instances drawn per layer (channel-wise PWLU has one per channel). */
const MAX_INSTANCES = 6;

/** Colours per activation, stable across reports. */
/** Each activation's colour, from its spec. */
const COLORS: Readonly<Record<string, string>> = Object.fromEntries(ACTIVATION_SPECS.map((s) => [s.name, s.color]));
const EXTRA_COLORS = ['#ff9da7', '#17becf', '#8c564b', '#d37295'];

function colorOf(act: string, i: number): string {
  return COLORS[act] ?? EXTRA_COLORS[i % EXTRA_COLORS.length]!;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Chart.js's minified UMD build, to inline; null when the package cannot be found. */
export function chartJsSource(): string | null {
  try {
    const req = createRequire(import.meta.url);
    const dist = dirname(req.resolve('chart.js'));
    for (const f of ['chart.umd.min.js', 'chart.umd.js']) {
      const p = join(dist, f);
      if (existsSync(p)) return readFileSync(p, 'utf8');
    }
  } catch {
    // not installed
  }
  return null;
}

interface ChartData {
  id: number;
  title: string;
  /** Row keys (arch, or arch · setting): the bars' categories. */
  rows: string[];
  activations: { name: string; color: string }[];
  bars: { act: string; mean: (number | null)[]; std: (number | null)[]; n: number[] }[];
  curves: { row: string; runs: { act: string; seed: number; status: string; top1: [number, number][]; loss: [number, number][] }[] }[];
  shapes: { row: string; activation: string; run: string; seed: number; epoch: number | null; layers: ShapeLayer[] }[];
  /** The learned-shape numbers by depth (pooled over seeds), one chart per arch × activation. */
  depth: { row: string; activation: string; layers: string[]; series: { key: string; mean: number[]; std: (number | null)[] }[] }[];
  /** Top-1 against each numeric swept key, one chart per key; `log2` where every value is a power of two (N). */
  byValue: { key: string; log2: boolean; series: SweepSeries[] }[];
}

/** Whether a swept key's values read better on a log₂ axis: all powers of two (at least three distinct), as N = 4, 8, 16, 32. */
export function powersOfTwo(xs: readonly number[]): boolean {
  const distinct = new Set(xs);
  return distinct.size >= 3 && [...distinct].every((x) => x > 0 && Number.isInteger(Math.log2(x)));
}

interface ShapeLayer {
  name: string;
  granularity: string;
  phase: string;
  realigned: boolean;
  stat_steps: number;
  n: number;
  shown: number;
  total: number;
  instances: { points: [number, number][]; bl: number; br: number; kl: number; kr: number; mu: number; sigma: number }[];
}

function shapePoints(q: RunRecord['pwlu'][number]['instances'][number]): [number, number][] {
  const w = q.br - q.bl;
  const ext = Number.isFinite(w) && w > 0 ? 0.3 * w : 1;
  const first = q.heights[0] ?? 0;
  const last = q.heights[q.heights.length - 1] ?? 0;
  return [[q.bl - ext, first - q.kl * ext], ...q.breakpoints.map((b, i): [number, number] => [b, q.heights[i] ?? NaN]), [q.br + ext, last + q.kr * ext]];
}

function chartData(t: SetupTable, runs: RunRecord[], id: number): ChartData {
  const mine = runs.filter((r) => !r.superseded && r.setup === t.setup && r.dataset === t.dataset);
  const inRow = (r: RunRecord, row: TableRow) => r.arch === row.arch && r.variant === row.variant;
  const cell = (row: string, act: string) => t.cells.find((c) => c.row === row && c.activation === act);
  const shapes: ChartData['shapes'] = [];
  for (const row of t.rows) {
    for (const act of t.activations) {
      const withShapes = mine
        .filter((r) => inRow(r, row) && r.activation === act && r.pwlu.length > 0)
        .sort((a, b) => Number(b.status === 'finished') - Number(a.status === 'finished') || a.seed - b.seed);
      const r = withShapes[0];
      if (!r) continue;
      shapes.push({
        row: row.key,
        activation: act,
        run: r.rel,
        seed: r.seed,
        epoch: r.pwlu_epoch,
        layers: r.pwlu.map((l) => ({
          name: l.name,
          granularity: l.granularity,
          phase: l.phase,
          realigned: l.realigned,
          stat_steps: l.stat_steps,
          n: l.n,
          shown: Math.min(l.instances.length, MAX_INSTANCES),
          total: l.instances.length,
          instances: l.instances
            .slice(0, MAX_INSTANCES)
            .map((q) => ({ points: shapePoints(q), bl: q.bl, br: q.br, kl: q.kl, kr: q.kr, mu: q.running_mean, sigma: q.running_std })),
        })),
      });
    }
  }
  const rowKeys = t.rows.map((r) => r.key);
  return {
    id,
    title: tableTitle(t),
    rows: rowKeys,
    activations: t.activations.map((a, i) => ({ name: a, color: colorOf(a, i) })),
    bars: t.activations.map((act) => ({
      act,
      mean: rowKeys.map((row) => cell(row, act)?.mean ?? null),
      std: rowKeys.map((row) => cell(row, act)?.std ?? null),
      n: rowKeys.map((row) => cell(row, act)?.n ?? 0),
    })),
    curves: t.rows.map((row) => ({
      row: row.key,
      runs: mine
        .filter((r) => inRow(r, row) && r.curve.length > 0)
        .sort((a, b) => t.activations.indexOf(a.activation) - t.activations.indexOf(b.activation) || a.seed - b.seed)
        .map((r) => ({
          act: r.activation,
          seed: r.seed,
          status: r.status,
          top1: r.curve.filter((p) => p.test_top1 !== null).map((p): [number, number] => [p.epoch, p.test_top1!]),
          loss: r.curve.filter((p) => Number.isFinite(p.train_loss)).map((p): [number, number] => [p.epoch, p.train_loss]),
        })),
    })),
    shapes,
    depth: t.shapes.map((s) => ({
      row: s.row,
      activation: s.activation,
      layers: s.layers.map((l) => l.layer),
      series: (['slope_left', 'slope_right', 'linearity', 'relu_linearity', 'non_monotonic'] as const).map((key) => ({
        key,
        mean: s.layers.map((l) => l.mean[key]),
        std: s.layers.map((l) => l.std?.[key] ?? null),
      })),
    })),
    byValue: [...new Set(t.by_value.map((s) => s.key))].map((key) => {
      const series = t.by_value.filter((s) => s.key === key);
      return { key, log2: powersOfTwo(series.flatMap((s) => s.points.map((p) => p.x))), series };
    }),
  };
}

function rowHeadHtml(t: SetupTable): string {
  return rowHead(t)
    .map((h) => `<th>${escapeHtml(h)}</th>`)
    .join('');
}

function rowCellsHtml(t: SetupTable, row: TableRow): string {
  return rowCells(t, row)
    .map((v) => `<th>${escapeHtml(v)}</th>`)
    .join('');
}

function pivotHtml(t: SetupTable): string {
  const paper = showsPaperColumns(t);
  const cell = (row: string, act: string) => t.cells.find((c) => c.row === row && c.activation === act);
  const head = [...t.activations, ...(paper ? ['PWLU − Swish<br>(ours)', 'PWLU − Swish<br>(paper)'] : [])];
  const rows = t.rows.map((row) => {
    const cols = t.activations.map((act) => {
      const c = cell(row.key, act);
      if (!c) return '<td class="empty"></td>';
      const d = c.is_baseline
        ? c.n
          ? '<span class="base">baseline</span>'
          : ''
        : c.n
          ? `<span class="delta ${c.delta && c.delta.p !== null && c.delta.p < 0.05 ? (c.delta.diff > 0 ? 'up' : 'down') : ''}">${escapeHtml(fmtDelta(c.delta))}</span>`
          : '';
      const flag = flagged(c) ? '<sup class="flag" title="see the notes">†</sup>' : '';
      return `<td><span class="top1">${escapeHtml(fmtTop1(c))}</span>${flag}<br>${d}</td>`;
    });
    const pv = t.pwlu_vs_swish.find((p) => p.row === row.key);
    const extra = paper ? [`<td>${escapeHtml(fmtDelta(pv?.ours ?? null))}</td>`, `<td>${pv?.paper != null ? escapeHtml(signed(pv.paper)) : '—'}</td>`] : [];
    return `<tr>${rowCellsHtml(t, row)}${cols.join('')}${extra.join('')}</tr>`;
  });
  return `<table class="pivot"><thead><tr>${rowHeadHtml(t)}${head.map((h) => `<th>${h.includes('<br>') ? h : escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function costHtml(t: SetupTable): string {
  const cell = (row: string, act: string) => t.cells.find((c) => c.row === row && c.activation === act);
  const rows = t.rows.map(
    (row) =>
      `<tr>${rowCellsHtml(t, row)}${t.activations.map((act) => `<td>${cell(row.key, act) ? escapeHtml(fmtCost(cell(row.key, act)!)) : ''}</td>`).join('')}</tr>`,
  );
  return `<table class="cost"><thead><tr>${rowHeadHtml(t)}${t.activations.map((a) => `<th>${escapeHtml(a)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** A detection table as plain HTML (no charts): the figures per arch × activation, PWLU − Swish beside the paper's, the notes. */
function detectionHtml(t: DetectionTable): string {
  const { head, rows } = detectionRows(t);
  const body = rows.map((r) => `<tr>${r.map((v, i) => (i === 0 ? `<th>${escapeHtml(v)}</th>` : `<td>${escapeHtml(v)}</td>`)).join('')}</tr>`).join('');
  const lines = detectionPaperLines(t).map((l) => `<p>${escapeHtml(l)}</p>`);
  return [
    `<section><h2>${escapeHtml(detectionTitle(t))}</h2>`,
    `<p class="meta">${escapeHtml(detectionCaption(t))}</p>`,
    `<table class="pivot detection"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table>`,
    ...lines,
    `<ol class="notes">${detectionNotes(t)
      .map((n) => `<li>${escapeHtml(n)}</li>`)
      .join('')}</ol>`,
    '</section>',
  ].join('\n');
}

/** A run's headline figure for the run list: test top-1, or a detection run's test AP (%). */
function headline(r: RunRecord): string {
  return r.task === 'detection' ? `AP ${fmt(figure(r, 'AP'))}` : fmt(r.top1);
}

function runsHtml(runs: RunRecord[]): string {
  const sorted = [...runs].sort(
    (a, b) => a.dataset.localeCompare(b.dataset) || a.arch.localeCompare(b.arch) || a.activation.localeCompare(b.activation) || a.seed - b.seed,
  );
  const rows = sorted.map((r) => {
    const status = r.superseded ? 'superseded' : r.status;
    const epochs = `${r.epochs_completed}/${r.epochs ?? '?'}`;
    const best = r.task === 'detection' ? (r.coco_selected ? headline(r) : '—') : fmt(r.top1_best);
    const chosen = r.best_split === 'val' ? `${best} (epoch ${r.epoch_best ?? '?'})` : r.status === 'missing' ? '—' : 'not selected';
    const code = r.git_commit === null ? '—' : `${r.git_commit.slice(0, 7)}${r.git_dirty ? '-dirty' : ''}`;
    return `<tr class="st-${status}"><td>${escapeHtml(r.rel)}</td><td>${escapeHtml(r.arch)}</td><td>${escapeHtml(r.activation)}${r.variant ? ` · ${escapeHtml(r.variant)}` : ''}</td><td>${r.seed}</td><td><span class="badge ${status}">${status}</span></td><td>${epochs}</td><td>${escapeHtml(headline(r))}</td><td>${escapeHtml(chosen)}</td><td>${r.act_param_count ?? '—'}</td><td>${r.train_img_per_s === null ? '—' : Math.round(r.train_img_per_s)}</td><td>${escapeHtml(code)}</td><td class="err">${escapeHtml(r.error ?? '')}</td></tr>`;
  });
  const det = runs.some((r) => r.task === 'detection')
    ? ' Detection runs show test AP (%) instead: the reported one (val-chosen where there is a val split) in the first column, and at the val-chosen epoch in the second.'
    : '';
  return `<p class="meta">top-1: test top-1 at the final epoch (what the tables use). At val-chosen epoch: the test top-1 of the epoch the validation split chose; "not selected" for a run without a validation split (nothing is chosen on test).${det}</p><table class="runs"><thead><tr><th>run</th><th>arch</th><th>activation</th><th>seed</th><th>status</th><th>epochs</th><th>top-1 (final)</th><th>top-1 at val-chosen epoch</th><th>act. params</th><th>img/s</th><th>code</th><th>error</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1320px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#666;margin:0 0 12px}
table{border-collapse:collapse;margin:8px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f4f5f7}tbody th{background:#fafafa}
.pivot td{min-width:120px}.top1{font-weight:600}.delta{color:#555}.delta.up{color:#1a7f37}.delta.down{color:#b42318}.base{color:#888;font-style:italic}
.flag{color:#b42318;font-weight:700}
ol.notes{color:#444;font-size:13px;padding-left:20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:16px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px}
.card h4{margin:0 0 4px;font-size:13px;font-weight:600}
.shape-title{font-size:14px;margin:16px 0 2px}
.chart{position:relative;height:260px}.chart.wide{height:320px}
.shapes{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.layer{border:1px solid #e3e3e3;border-radius:6px;padding:6px;font-size:12px}
.layer .chart{height:170px}
.layer table{margin:4px 0 0;font-size:11px}.layer td,.layer th{padding:1px 5px}
.badge{border-radius:3px;padding:0 5px;font-size:12px;color:#fff;background:#888}
.badge.finished{background:#1a7f37}.badge.interrupted,.badge.incomplete{background:#bf8700}.badge.diverged,.badge.failed{background:#b42318}.badge.missing,.badge.superseded{background:#888}
.runs{font-size:12px}.runs .err{max-width:420px;color:#b42318}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:6px 10px;border-radius:4px}
`;

const SCRIPT = `
(function(){
  var R = JSON.parse(document.getElementById('report-data').textContent);
  if (typeof Chart === 'undefined') return;
  Chart.defaults.animation = false;
  Chart.defaults.font.size = 11;
  Chart.defaults.maintainAspectRatio = false;
  var errorBars = {
    id: 'errorBars',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (ds, i) {
        var meta = chart.getDatasetMeta(i);
        if (meta.hidden || !ds.errors) return;
        meta.data.forEach(function (bar, j) {
          var m = ds.data[j] !== null && typeof ds.data[j] === 'object' ? ds.data[j].y : ds.data[j], sd = ds.errors[j];
          if (m === null || sd === null || sd === undefined) return;
          var top = y.getPixelForValue(m + sd), bot = y.getPixelForValue(m - sd);
          ctx.save(); ctx.strokeStyle = '#222'; ctx.lineWidth = 1.3; ctx.beginPath();
          ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bot);
          ctx.moveTo(bar.x - 4, top); ctx.lineTo(bar.x + 4, top);
          ctx.moveTo(bar.x - 4, bot); ctx.lineTo(bar.x + 4, bot);
          ctx.stroke(); ctx.restore();
        });
      });
    }
  };
  // [low, high] over every mean ± std of the given series, padded by 10% (null when there is no value).
  function range(series) {
    var lo = Infinity, hi = -Infinity;
    series.forEach(function (s) { s.mean.forEach(function (m, j) { if (m === null || !Number.isFinite(m)) return; var e = (s.std && s.std[j]) || 0; lo = Math.min(lo, m - e); hi = Math.max(hi, m + e); }); });
    if (!Number.isFinite(lo)) return null;
    var pad = Math.max((hi - lo) * 0.1, 1e-3);
    return [lo - pad, hi + pad];
  }
  function colorOf(T, act) { for (var i = 0; i < T.activations.length; i++) if (T.activations[i].name === act) return T.activations[i].color; return '#888'; }
  var DASH = [[], [6, 3], [2, 2], [8, 3, 2, 3], [4, 4]];
  // One legend entry per activation (its seeds share the colour); a click shows or hides all its seeds.
  var actLegend = {
    labels: {
      boxWidth: 12,
      generateLabels: function (chart) {
        return Chart.defaults.plugins.legend.labels.generateLabels(chart)
          .filter(function (l) { return chart.data.datasets[l.datasetIndex].first; })
          .map(function (l) { l.text = chart.data.datasets[l.datasetIndex].act; l.lineDash = []; return l; });
      }
    },
    onClick: function (e, item, legend) {
      var chart = legend.chart, act = chart.data.datasets[item.datasetIndex].act;
      var show = !chart.isDatasetVisible(item.datasetIndex);
      chart.data.datasets.forEach(function (d, i) { if (d.act === act) chart.setDatasetVisibility(i, show); });
      chart.update();
    }
  };
  R.tables.forEach(function (T) {
    var lo = Infinity, hi = -Infinity;
    T.bars.forEach(function (b) { b.mean.forEach(function (m, j) { if (m === null) return; var s = b.std[j] || 0; lo = Math.min(lo, m - s); hi = Math.max(hi, m + s); }); });
    var el = document.getElementById('bars-' + T.id);
    if (el && Number.isFinite(lo)) {
      var pad = Math.max(0.5, (hi - lo) * 0.15);
      new Chart(el, {
        type: 'bar',
        data: { labels: T.rows, datasets: T.bars.filter(function (b) { return b.mean.some(function (m) { return m !== null; }); }).map(function (b) { return { label: b.act, data: b.mean, errors: b.std, backgroundColor: colorOf(T, b.act) }; }) },
        options: { plugins: { title: { display: true, text: 'Final test top-1 (%), mean ± std over seeds' }, tooltip: { callbacks: { afterLabel: function (c) { var b = T.bars.filter(function (x) { return x.act === c.dataset.label; })[0]; return 'std ' + (b.std[c.dataIndex] === null ? 'n/a' : b.std[c.dataIndex].toFixed(2)) + ', n=' + b.n[c.dataIndex]; } } } },
          scales: { y: { beginAtZero: false, suggestedMin: Math.max(0, lo - pad), suggestedMax: Math.min(100, hi + pad), title: { display: true, text: 'top-1 (%)' } } } },
        plugins: [errorBars]
      });
    }
    T.curves.forEach(function (C, k) {
      ['top1', 'loss'].forEach(function (what) {
        var c = document.getElementById('curve-' + T.id + '-' + k + '-' + what);
        if (!c) return;
        var seen = {};
        new Chart(c, {
          type: 'line',
          data: { datasets: C.runs.map(function (r) {
            var idx = seen[r.act] = (seen[r.act] === undefined ? 0 : seen[r.act] + 1);
            return { label: r.act + ' s' + r.seed + (r.status === 'finished' ? '' : ' (' + r.status + ')'), act: r.act, first: idx === 0, data: r[what].map(function (p) { return { x: p[0], y: p[1] }; }),
              borderColor: colorOf(T, r.act), backgroundColor: colorOf(T, r.act), borderDash: DASH[idx % DASH.length], pointRadius: r[what].length > 40 ? 0 : 2, borderWidth: 1.6, tension: 0 };
          }) },
          options: { parsing: false, plugins: { title: { display: true, text: C.row + ': ' + (what === 'top1' ? 'test top-1 (%)' : 'training loss') + ' per epoch (one line per seed)' }, legend: actLegend },
            scales: { x: { type: 'linear', title: { display: true, text: 'epoch' }, ticks: { precision: 0 } }, y: { type: 'linear', title: { display: true, text: what === 'top1' ? 'top-1 (%)' : 'loss' } } } }
        });
      });
    });
    T.depth.forEach(function (D, k) {
      var c = document.getElementById('depth-' + T.id + '-' + k);
      if (!c) return;
      var colors = { slope_left: '#4e79a7', slope_right: '#f28e2b', linearity: '#59a14f', relu_linearity: '#59a14f', non_monotonic: '#e15759' };
      var labels = { relu_linearity: "ReLU's R² (same grid)", linearity: 'linearity (R²)' };
      var yr = range(D.series.map(function (s) { return { mean: s.mean, std: s.std }; }));
      new Chart(c, { type: 'line', data: { labels: D.layers.map(function (l, i) { return i + 1; }), datasets: D.series.map(function (s) { return { label: labels[s.key] || s.key.replace('_', ' '), data: s.mean, errors: s.key === 'relu_linearity' ? null : s.std, borderColor: colors[s.key], backgroundColor: colors[s.key], borderDash: s.key === 'relu_linearity' ? [5, 4] : [], pointRadius: s.key === 'relu_linearity' ? 0 : 2, borderWidth: s.key === 'relu_linearity' ? 1.2 : 2, tension: 0 }; }) }, options: { plugins: { title: { display: true, text: D.row + ' + ' + D.activation + ': learned shape by depth (mean over seeds; bars: std; dashed: ReLU on the same grid)' }, tooltip: { callbacks: { title: function (items) { return D.layers[items[0].dataIndex]; } } } }, scales: { x: { title: { display: true, text: 'depth (PWLU layer)' } }, y: yr ? { suggestedMin: yr[0], suggestedMax: yr[1] } : {} } }, plugins: [errorBars] });
    });
    T.byValue.forEach(function (V, k) {
      var c = document.getElementById('value-' + T.id + '-' + k);
      if (!c) return;
      var colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];
      // The y range holds every mean ± std, so no error bar runs off the chart; N (powers of two) on a log₂ axis.
      var yr = range(V.series.map(function (s) { return { mean: s.points.map(function (p) { return p.mean; }), std: s.points.map(function (p) { return p.std; }) }; }));
      var xOf = function (x) { return V.log2 ? Math.log2(x) : x; };
      var xs = []; V.series.forEach(function (s) { s.points.forEach(function (p) { xs.push(xOf(p.x)); }); });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), xpad = Math.max(0.25, (x1 - x0) * 0.05);
      new Chart(c, { type: 'line', data: { datasets: V.series.map(function (s, i) { return { label: s.label, data: s.points.map(function (p) { return { x: xOf(p.x), y: p.mean, raw: p.x }; }), errors: s.points.map(function (p) { return p.std; }), n: s.points.map(function (p) { return p.n; }), borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], pointRadius: 3, tension: 0 }; }) },
        options: { parsing: false, plugins: { title: { display: true, text: 'Final test top-1 (%) against ' + V.key + (V.log2 ? ' (log₂ axis)' : '') + ' (mean over seeds; bars: ± 1 std)' }, tooltip: { callbacks: { title: function (items) { return V.key + ' = ' + items[0].raw.raw; }, afterLabel: function (c) { var e = c.dataset.errors[c.dataIndex]; return 'std ' + (e === null ? 'n/a' : e.toFixed(2)) + ', n=' + c.dataset.n[c.dataIndex]; } } } },
          scales: { x: V.log2 ? { type: 'linear', min: x0 - xpad, max: x1 + xpad, title: { display: true, text: V.key + ' (log₂ scale)' }, afterBuildTicks: function (ax) { var t = []; for (var v = Math.ceil(x0); v <= Math.floor(x1); v++) t.push({ value: v }); ax.ticks = t; }, ticks: { callback: function (v) { return String(Math.pow(2, v)); } } } : { type: 'linear', min: x0 - xpad, max: x1 + xpad, title: { display: true, text: V.key }, afterBuildTicks: function (ax) { ax.ticks = ax.ticks.filter(function (t) { return t.value >= x0 && t.value <= x1; }); }, ticks: { precision: 0 } },
            y: { type: 'linear', suggestedMin: yr ? yr[0] : undefined, suggestedMax: yr ? yr[1] : undefined, title: { display: true, text: 'top-1 (%)' } } } },
        plugins: [errorBars] });
    });
    T.shapes.forEach(function (S, k) {
      S.layers.forEach(function (L, li) {
        var c = document.getElementById('shape-' + T.id + '-' + k + '-' + li);
        if (!c) return;
        var xs = [], ds = [];
        L.instances.forEach(function (q, qi) {
          q.points.forEach(function (p) { xs.push(p[0]); });
          ds.push({ label: L.instances.length > 1 ? 'ch ' + qi : S.activation, data: q.points.map(function (p) { return { x: p[0], y: p[1] }; }), borderColor: qi === 0 ? '#e15759' : 'hsl(' + (qi * 57 % 360) + ',60%,45%)', borderWidth: 1.8, pointRadius: 1.5, tension: 0 });
        });
        var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
        ds.push({ label: 'ReLU', data: [{ x: x0, y: 0 }, { x: Math.max(x0, Math.min(0, x1)), y: 0 }, { x: x1, y: Math.max(0, x1) }], borderColor: '#999', borderDash: [4, 3], borderWidth: 1, pointRadius: 0 });
        new Chart(c, { type: 'line', data: { datasets: ds }, options: { parsing: false, plugins: { legend: { display: L.instances.length > 1, labels: { boxWidth: 8 } } }, scales: { x: { type: 'linear' } } } });
      });
    });
  });
})();
`;

function depthHtml(t: SetupTable, data: ChartData): string {
  if (t.shapes.length === 0) return '';
  const parts = ['<h3>Learned PWLU shapes by depth</h3>', `<p class="meta">${escapeHtml(SHAPE_NOTE)}</p>`];
  t.shapes.forEach((s, k) => {
    const head = SHAPE_HEAD;
    const rows = s.layers
      .map(
        (l) =>
          `<tr>${shapeRow(l)
            .map((v) => `<td>${escapeHtml(v)}</td>`)
            .join('')}</tr>`,
      )
      .join('');
    parts.push(`<div class="card"><div class="chart wide"><canvas id="depth-${data.id}-${k}"></canvas></div></div>`);
    parts.push(`<table><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows}</table>`);
  });
  return parts.join('\n');
}

function shapesHtml(data: ChartData): string {
  if (data.shapes.length === 0) return '';
  const parts: string[] = ['<h3>Learned PWLU shapes</h3>'];
  data.shapes.forEach((s, k) => {
    parts.push(
      `<h4 class="shape-title">${escapeHtml(s.row)} + ${escapeHtml(s.activation)}: ${s.layers.length} layer${s.layers.length === 1 ? '' : 's'}</h4>`,
      `<p class="meta">Seed ${s.seed} (${escapeHtml(s.run)}), activations.json at epoch ${s.epoch ?? '?'}; red: learned, dashed: ReLU. Phase-I statistics: running mean μ and std σ of the layer's input; [B<sub>L</sub>, B<sub>R</sub>]: the bounds (after realignment μ ∓ ασ, then learned); K<sub>L</sub>, K<sub>R</sub>: the outer slopes.</p>`,
    );
    parts.push('<div class="shapes">');
    s.layers.forEach((l, li) => {
      const q = l.instances[0];
      const more = l.total > l.shown ? ` (${l.shown} of ${l.total} channels drawn)` : l.total > 1 ? ` (${l.total} channels)` : '';
      const stats = q
        ? `<table><tr><th>μ</th><td>${fmt(q.mu, 3)}</td><th>σ</th><td>${fmt(q.sigma, 3)}</td></tr><tr><th>B<sub>L</sub></th><td>${fmt(q.bl, 3)}</td><th>B<sub>R</sub></th><td>${fmt(q.br, 3)}</td></tr><tr><th>K<sub>L</sub></th><td>${fmt(q.kl, 3)}</td><th>K<sub>R</sub></th><td>${fmt(q.kr, 3)}</td></tr><tr><th>phase</th><td>${escapeHtml(l.phase)}</td><th>realigned</th><td>${l.realigned ? 'yes' : 'no'}</td></tr><tr><th>N</th><td>${l.n}</td><th>stat steps</th><td>${l.stat_steps}</td></tr></table>`
        : '';
      parts.push(
        `<div class="layer"><h4>${escapeHtml(l.name)}${escapeHtml(more)}</h4><div class="chart"><canvas id="shape-${data.id}-${k}-${li}"></canvas></div>${stats}</div>`,
      );
    });
    parts.push('</div>');
  });
  return parts.join('\n');
}

/** Renders the self-contained HTML report (one file; opens offline). */
export function renderHtml(r: Report, opts: { chartJs?: string | null } = {}): string {
  const chartJs = opts.chartJs === undefined ? chartJsSource() : opts.chartJs;
  const datas = r.tables.map((t, i) => chartData(t, r.runs, i));
  const body: string[] = [];
  body.push(
    `<h1>pwlu report</h1><p class="meta">${escapeHtml(r.results_dir)} · generated ${escapeHtml(r.generated)} · baseline ${escapeHtml(r.baseline)} (each table names its own) · ${r.runs.length} run director${r.runs.length === 1 ? 'y' : 'ies'}</p>`,
  );
  if (!chartJs) body.push('<p class="warn">Chart.js was not found when this report was written (npm package chart.js), so it has tables only.</p>');
  r.tables.forEach((t, i) => {
    const d = datas[i]!;
    const paper = showsPaperColumns(t);
    body.push(`<section><h2>${escapeHtml(tableTitle(t))}</h2>`);
    const rowsAre = t.sweep_keys.length ? ` ${rowsNote(t)}` : '';
    body.push(
      `<p class="meta">Final test top-1 (%), mean ± sample std over seeds (n finished seeds); Δ vs ${escapeHtml(t.baseline)} below each value.${escapeHtml(rowsAre)}</p>`,
    );
    body.push(pivotHtml(t));
    const cmp = comparisonTable(t);
    if (cmp.rows.length) {
      body.push(`<p class="meta">${escapeHtml(CI_NOTE)}</p>`);
      body.push(
        `<table class="cmp"><thead><tr>${cmp.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${cmp.rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`).join('')}</tbody></table>`,
      );
    }
    body.push(`<h3>Cost</h3><p class="meta">${escapeHtml(COST_NOTE)}</p>`);
    body.push(costHtml(t));
    const notes = [TEST_NOTE, ...(t.code_versions ? [t.code_versions] : []), ...(paper ? paperColumnNotes(t) : []), ...t.notes.map((n) => `† ${n}`)];
    body.push(`<ol class="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ol>`);
    if (chartJs) {
      body.push(`<div class="card"><div class="chart wide"><canvas id="bars-${d.id}"></canvas></div></div>`);
      d.byValue.forEach((_v, k) => body.push(`<div class="card"><div class="chart wide"><canvas id="value-${d.id}-${k}"></canvas></div></div>`));
      body.push('<h3>Learning curves</h3><div class="grid">');
      d.curves.forEach((c, k) => {
        if (c.runs.length === 0) return;
        body.push(
          `<div class="card"><div class="chart"><canvas id="curve-${d.id}-${k}-top1"></canvas></div></div><div class="card"><div class="chart"><canvas id="curve-${d.id}-${k}-loss"></canvas></div></div>`,
        );
      });
      body.push('</div>');
      body.push(depthHtml(t, d));
      body.push(shapesHtml(d));
    }
    body.push('</section>');
  });
  for (const t of r.detection) body.push(detectionHtml(t));
  if (r.notes.length) body.push(`<h2>Notes</h2><ul class="notes">${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
  body.push('<h2 id="runs">Runs</h2>', runsHtml(r.runs));
  const payload = scriptJson({ tables: datas });
  const lib = chartJs ? `<script>${chartJs.replace(/<\/script/gi, '<\\/script')}</script>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pwlu report — ${escapeHtml(r.results_dir)}</title>
<style>${CSS}</style>
</head>
<body>
${body.join('\n')}
<script type="application/json" id="report-data">${payload}</script>
${lib}
<script>${SCRIPT}</script>
</body>
</html>
`;
}
