/**
 * The comparison behind every report format: runs grouped by setup (dataset and shared settings), then
 * by row (architecture, and the setting of a sweep bench) × activation, with mean ± std over seeds,
 * Welch's t-test against a baseline (an activation, the base setting or a swept value), the cost of
 * each activation, and notes for every run that is not a finished result. Detection runs get tables of their own
 * (COCO AP; src/report/detection.ts).
 */
import { basename, isAbsolute, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../util/paths.js';
import { collectRuns, type RunRecord } from './collect.js';
import { paperDelta } from './paper.js';
import { shapesByDepth, type LayerShapes } from './shapes.js';
import { codeVersionLine, fmtStatus, incompleteRun, rowKey, tableAxes, type IncompleteRun } from './cells.js';
import { buildDetectionTable, type DetectionTable } from './detection.js';
import { delta, mean, sampleStd, type Delta } from './stats.js';
import { splitOverride } from '../util/overrides.js';

/** The method footnote every format prints with the deltas. */
export const TEST_NOTE =
  "Δ: difference of mean top-1 to the baseline in percentage points; significance by Welch's two-sided t-test " +
  '(unequal variances, Welch–Satterthwaite degrees of freedom) over seeds: * p < 0.05, ** p < 0.01, *** p < 0.001, ' +
  'n.s. not significant, n/a fewer than 2 finished seeds on a side (or zero variance).';

export type { Delta } from './stats.js';
export { codeVersionLine } from './cells.js';

/** A table row: an architecture, or an architecture at one setting of a sweep bench. */
export interface TableRow {
  /** `resnet20`, or `resnet20 · n=4` in a sweep bench. */
  key: string;
  arch: string;
  /** The setting's label (`n=4`, `base`); '' without sweeps. */
  variant: string;
  /** The row's values at the swept key paths. */
  sweep: Record<string, unknown>;
}

/** Top-1 against one swept key's numeric values, for one arch × activation × setting of the other keys. */
export interface SweepSeries {
  key: string;
  label: string;
  points: { x: number; mean: number; std: number | null; n: number }[];
}

/** One row × activation cell. Only finished runs enter the statistics; the others are listed in `incomplete`. */
export interface CellStats {
  /** The row key (TableRow.key). */
  row: string;
  arch: string;
  activation: string;
  seeds: number[];
  values: number[];
  n: number;
  mean: number | null;
  std: number | null;
  delta: Delta | null;
  /** This cell is the baseline its row's Δs compare against. */
  is_baseline: boolean;
  params: number | null;
  act_params: number | null;
  train_img_per_s: number | null;
  /** Training img/s relative to ReLU on the same architecture. */
  speed_vs_relu: number | null;
  /** The highest peak tensor memory (bytes) of the runs that recorded it, and its ratio to ReLU in the same row. */
  peak_tensor_bytes: number | null;
  memory_vs_relu: number | null;
  incomplete: IncompleteRun[];
  fewer_seeds: boolean;
}

/** One comparison table: runs sharing a dataset and every setting but arch, activation and seed. */
export interface SetupTable {
  setup: string;
  dataset: string;
  epochs: number | null;
  img_size: number | null;
  archs: string[];
  /** The config key paths the table's bench sweeps (its rows differ in them); empty without sweeps. */
  sweep_keys: string[];
  rows: TableRow[];
  activations: string[];
  /** What Δ compares against in this table: an activation, `base` (the base config's row) or `KEY=VALUE`. */
  baseline: string;
  cells: CellStats[];
  /** PWLU − Swish per row: ours (with the test) and the paper's. */
  pwlu_vs_swish: { row: string; arch: string; ours: Delta | null; paper: number | null }[];
  /** Top-1 against each numeric swept key (the HTML report plots them). */
  by_value: SweepSeries[];
  /** One line when the table's runs record more than one code version or a checkout with uncommitted changes; else null. */
  code_versions: string | null;
  /** Learned PWLU shapes by depth per row × activation, pooled over finished seeds (src/report/shapes.ts). */
  shapes: { row: string; arch: string; activation: string; layers: LayerShapes[] }[];
  notes: string[];
}

/** Everything a report shows. */
export interface Report {
  generated: string;
  results_dir: string;
  baseline: string;
  tables: SetupTable[];
  /** Detection runs' tables (COCO AP), grouped by dataset and setup as `tables` are. */
  detection: DetectionTable[];
  runs: RunRecord[];
  notes: string[];
}

/** The highest recorded peak: a resumed run records only its last attempt's peak, so a mean would understate it. */
function highestPeak(runs: RunRecord[]): number | null {
  const peaks = runs.map((r) => r.peak_tensor_bytes).filter((v): v is number => v !== null);
  return peaks.length ? Math.max(...peaks) : null;
}

function firstNumber(runs: RunRecord[], key: 'params' | 'act_params'): number | null {
  for (const r of runs) {
    const v = key === 'params' ? r.param_count : r.act_param_count;
    if (v !== null) return v;
  }
  return null;
}

/** What `--baseline` names: an activation (a column), `base` (the base config's row) or `KEY=VALUE` (a swept value). */
type BaselineSpec = { kind: 'activation'; name: string } | { kind: 'base' } | { kind: 'value'; key: string; value: string };

function parseBaseline(b: string): BaselineSpec {
  if (b === 'base') return { kind: 'base' };
  const o = splitOverride(b);
  return o ? { kind: 'value', ...o } : { kind: 'activation', name: b };
}

/** Whether a swept value is the one `--baseline KEY=VALUE` names (compared as YAML, as --set would read it). */
function sameValue(v: unknown, typed: string): boolean {
  let parsed: unknown = typed;
  try {
    parsed = parseYaml(typed);
  } catch {
    // not YAML: compare as text
  }
  return isDeepStrictEqual(v, parsed) || String(v) === typed;
}

/** The swept key a `--baseline` key names: the full path or its tail (`pwlu.n`, `n` for activation.pwlu.n). */
function resolveKey(keys: string[], typed: string): string | null {
  return keys.find((k) => k === typed) ?? keys.find((k) => k.endsWith(`.${typed}`)) ?? null;
}

/** Rows in arch order, then the base setting, then the others by label (numbers by value: n=4 before n=32). */
function tableRows(runs: RunRecord[], archs: string[]): TableRow[] {
  const rows = new Map<string, TableRow>();
  for (const r of runs) {
    const key = rowKey(r.arch, r.variant);
    const have = rows.get(key);
    if (!have || (Object.keys(have.sweep).length === 0 && Object.keys(r.sweep).length > 0))
      rows.set(key, { key, arch: r.arch, variant: r.variant, sweep: r.sweep });
  }
  return [...rows.values()].sort(
    (a, b) =>
      archs.indexOf(a.arch) - archs.indexOf(b.arch) ||
      Number(b.variant === 'base') - Number(a.variant === 'base') ||
      a.variant.localeCompare(b.variant, 'en', { numeric: true }),
  );
}

function buildTable(runs: RunRecord[], requested: string): SetupTable {
  const { archs, activations } = tableAxes(runs);
  const sweepKeys = [...new Set(runs.flatMap((r) => Object.keys(r.sweep)))];
  const rows = tableRows(runs, archs);
  const finished = (row: string, act: string) =>
    runs.filter((r) => rowKey(r.arch, r.variant) === row && r.activation === act && r.status === 'finished' && r.top1 !== null).sort((a, b) => a.seed - b.seed);
  const notes: string[] = [];
  let spec = parseBaseline(requested);
  if (spec.kind === 'activation' && !activations.includes(spec.name) && rows.some((r) => r.variant === 'base')) {
    notes.push(
      `no ${spec.name} runs in this table: its settings are compared with the base config's row instead (--baseline base; choose another with --baseline KEY=VALUE).`,
    );
    spec = { kind: 'base' };
  }
  const baselineKey = spec.kind === 'value' ? resolveKey(sweepKeys, spec.key) : null;
  if (spec.kind === 'value' && baselineKey === null)
    notes.push(`--baseline ${requested}: this table sweeps ${sweepKeys.length ? sweepKeys.join(', ') : 'no key'}, so there is no Δ.`);
  const baseline = spec.kind === 'activation' ? spec.name : spec.kind === 'base' ? 'base' : baselineKey ? `${baselineKey}=${spec.value}` : requested;
  /** Whether the row × activation is the baseline itself, and the baseline's runs for it. */
  const baselineOf = (row: TableRow, act: string): { self: boolean; runs: RunRecord[] } => {
    if (spec.kind === 'activation') return { self: act === spec.name, runs: finished(row.key, spec.name) };
    if (spec.kind === 'base') return { self: row.variant === 'base', runs: finished(rowKey(row.arch, 'base'), act) };
    if (baselineKey === null) return { self: false, runs: [] };
    const value = spec.value;
    if (sameValue(row.sweep[baselineKey], value)) return { self: true, runs: [] };
    const match = rows.find(
      (o) =>
        o.arch === row.arch &&
        sameValue(o.sweep[baselineKey], value) &&
        sweepKeys.every((k) => k === baselineKey || isDeepStrictEqual(o.sweep[k], row.sweep[k])),
    );
    return { self: false, runs: match ? finished(match.key, act) : [] };
  };
  const cells: CellStats[] = [];
  for (const row of rows) {
    const reluSpeed = mean(
      finished(row.key, 'relu')
        .map((r) => r.train_img_per_s)
        .filter((v): v is number => v !== null),
    );
    const reluMemory = highestPeak(finished(row.key, 'relu'));
    let noBase = false;
    for (const act of activations) {
      const all = runs.filter((r) => rowKey(r.arch, r.variant) === row.key && r.activation === act);
      if (all.length === 0) continue;
      const fin = finished(row.key, act);
      const values = fin.map((r) => r.top1!);
      const speeds = fin.map((r) => r.train_img_per_s).filter((v): v is number => v !== null);
      const speed = speeds.length ? mean(speeds) : null;
      const memory = highestPeak(fin);
      const b = baselineOf(row, act);
      const base = b.runs.map((r) => r.top1!);
      if (!b.self && base.length === 0 && values.length > 0) noBase = true;
      cells.push({
        row: row.key,
        arch: row.arch,
        activation: act,
        seeds: fin.map((r) => r.seed),
        values,
        n: values.length,
        mean: values.length ? mean(values) : null,
        std: values.length > 1 ? sampleStd(values) : null,
        delta: b.self ? null : delta(values, base),
        is_baseline: b.self,
        params: firstNumber(all, 'params'),
        act_params: firstNumber(all, 'act_params'),
        train_img_per_s: speed,
        speed_vs_relu: speed !== null && Number.isFinite(reluSpeed) && reluSpeed > 0 ? speed / reluSpeed : null,
        peak_tensor_bytes: memory,
        memory_vs_relu: memory !== null && reluMemory !== null && reluMemory > 0 ? memory / reluMemory : null,
        incomplete: all
          .filter((r) => !fin.includes(r))
          .sort((a, b) => a.seed - b.seed)
          .map(incompleteRun),
        fewer_seeds: false,
      });
    }
    if (noBase && !(spec.kind === 'value' && baselineKey === null)) notes.push(`${row.key}: no finished ${baseline} run to compare with, so no Δ.`);
  }
  const maxN = Math.max(0, ...cells.map((c) => c.n));
  for (const c of cells) {
    c.fewer_seeds = c.n < maxN;
    if (c.incomplete.length) notes.push(`${c.row} · ${c.activation}: ${c.incomplete.map((i) => fmtStatus(i)).join('; ')} — not counted.`);
    if (c.fewer_seeds && c.n > 0)
      notes.push(`${c.row} · ${c.activation}: ${c.n} finished seed${c.n === 1 ? '' : 's'}, fewer than the ${maxN} of the fullest cell.`);
  }
  const pwluVsSwish = rows.map((row) => {
    const p = finished(row.key, 'pwlu').map((r) => r.top1!);
    const s = finished(row.key, 'swish').map((r) => r.top1!);
    return { row: row.key, arch: row.arch, ours: delta(p, s), paper: paperDelta(row.arch) };
  });
  const shapes = rows.flatMap((row) =>
    activations
      .map((activation) => ({ row: row.key, arch: row.arch, activation, layers: shapesByDepth(finished(row.key, activation)) }))
      .filter((s) => s.layers.length > 0),
  );
  const first = runs.find((r) => r.status !== 'missing') ?? runs[0]!;
  const epochs = runs.map((r) => r.epochs).find((e): e is number => e !== null) ?? null;
  const imgSize = runs.map((r) => r.img_size).find((e): e is number => e !== null) ?? null;
  return {
    setup: first.setup,
    dataset: first.dataset,
    epochs,
    img_size: imgSize,
    archs,
    sweep_keys: sweepKeys,
    rows,
    activations,
    baseline,
    cells,
    pwlu_vs_swish: pwluVsSwish,
    by_value: seriesByValue(rows, cells, sweepKeys),
    code_versions: codeVersionLine(runs),
    shapes,
    notes,
  };
}

/**
 * For each swept key with numeric values: top-1 against the value, one series per arch × activation × setting of
 * the other keys (a one-factor-at-a-time ablation: the key's rows and the base row), where it has two values or more.
 */
export function seriesByValue(rows: TableRow[], cells: CellStats[], keys: string[]): SweepSeries[] {
  const out: SweepSeries[] = [];
  for (const key of keys) {
    if (!rows.every((r) => r.sweep[key] === undefined || typeof r.sweep[key] === 'number')) continue;
    const groups = new Map<string, SweepSeries>();
    for (const row of rows) {
      const x = row.sweep[key];
      if (typeof x !== 'number') continue;
      const others = keys.filter((k) => k !== key).map((k) => `${k.split('.').pop()}=${String(row.sweep[k])}`);
      for (const c of cells.filter((c) => c.row === row.key && c.mean !== null)) {
        const id = [row.arch, c.activation, ...others].join(' · ');
        const g = groups.get(id) ?? { key, label: id, points: [] };
        g.points.push({ x, mean: c.mean!, std: c.std, n: c.n });
        groups.set(id, g);
      }
    }
    for (const g of groups.values()) {
      if (g.points.length < 2) continue;
      g.points.sort((a, b) => a.x - b.x);
      out.push(g);
    }
  }
  return out;
}

/** Builds the report from records (already collected), grouping them by setup. */
export function buildReport(runs: RunRecord[], opts: { resultsDir: string; baseline: string; now?: Date }): Report {
  const counted = runs.filter((r) => !r.superseded);
  const groups = new Map<string, RunRecord[]>();
  for (const r of counted) {
    const key = `${r.dataset}\u0000${r.setup}`;
    const g = groups.get(key) ?? [];
    g.push(r);
    groups.set(key, g);
  }
  // A group with a detection run is a detection table (its bench's cells that never started carry no task of their own).
  const isDetection = (g: RunRecord[]) => g.some((r) => r.task === 'detection');
  const bySetup = <T extends { dataset: string; setup: string }>(a: T, b: T) => a.dataset.localeCompare(b.dataset) || a.setup.localeCompare(b.setup);
  const tables = [...groups.values()]
    .filter((g) => !isDetection(g))
    .map((g) => buildTable(g, opts.baseline))
    .sort(bySetup);
  const detection = [...groups.values()]
    .filter(isDetection)
    .map((g) => buildDetectionTable(g, opts.baseline))
    .sort(bySetup);
  const notes: string[] = [];
  const superseded = runs.filter((r) => r.superseded);
  if (superseded.length) {
    notes.push(
      `${superseded.length} earlier attempt${superseded.length === 1 ? ' was' : 's were'} moved aside by pwlu bench (${superseded.map((r) => r.rel).join(', ')}); not counted.`,
    );
  }
  if (tables.length + detection.length > 1) {
    const byData = new Map<string, number>();
    for (const t of [...tables, ...detection]) byData.set(t.dataset, (byData.get(t.dataset) ?? 0) + 1);
    for (const [d, n] of byData)
      if (n > 1)
        notes.push(`${d}: ${n} different setups (settings other than arch, activation and seed differ); each has its own table, labelled by setup hash.`);
  }
  if (runs.length === 0) notes.push('No run directories found.');
  return { generated: (opts.now ?? new Date()).toISOString(), results_dir: opts.resultsDir, baseline: opts.baseline, tables, detection, runs, notes };
}

/** Reads a results folder and builds its report: the entry point of `pwlu report` and the end of `pwlu bench`. */
export function reportFromDir(dir: string, baseline = 'swish'): Report {
  // Named relative to the project (results/NAME), so a committed report carries no machine's absolute path.
  const rel = relative(PROJECT_ROOT, dir);
  const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? basename(dir) : rel;
  return buildReport(collectRuns(dir), { resultsDir: shown, baseline });
}
