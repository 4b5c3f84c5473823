/**
 * The comparison behind every report format: runs grouped by setup (dataset and shared settings), then
 * by architecture × activation, with mean ± std over seeds, Welch's t-test against a baseline
 * activation, the cost of each activation, and notes for every run that is not a finished result.
 */
import { basename, isAbsolute, relative } from 'node:path';
import { PROJECT_ROOT } from '../util/paths.js';
import { collectRuns, type RunRecord, type RunStatus } from './collect.js';
import { ACTIVATION_ORDER, ARCH_ORDER, ordered, paperDelta } from './paper.js';
import { shapesByDepth, type LayerShapes } from './shapes.js';
import { mean, sampleStd, significanceMark, welchTTest } from './stats.js';

/** The method footnote every format prints with the deltas. */
export const TEST_NOTE =
  "Δ: difference of mean top-1 to the baseline in percentage points; significance by Welch's two-sided t-test " +
  '(unequal variances, Welch–Satterthwaite degrees of freedom) over seeds: * p < 0.05, ** p < 0.01, *** p < 0.001, ' +
  'n.s. not significant, n/a fewer than 2 finished seeds on a side (or zero variance).';

/** A comparison against the baseline (or PWLU against Swish). */
export interface Delta {
  diff: number;
  p: number | null;
  df: number | null;
  mark: string;
}

/** One arch × activation cell. Only finished runs enter the statistics; the others are listed in `incomplete`. */
export interface CellStats {
  arch: string;
  activation: string;
  seeds: number[];
  values: number[];
  n: number;
  mean: number | null;
  std: number | null;
  delta: Delta | null;
  params: number | null;
  act_params: number | null;
  train_img_per_s: number | null;
  /** Training img/s relative to ReLU on the same architecture. */
  speed_vs_relu: number | null;
  incomplete: { seed: number; status: RunStatus; epochs_completed: number; epochs: number | null; error: string | null; rel: string }[];
  fewer_seeds: boolean;
}

/** One comparison table: runs sharing a dataset and every setting but arch, activation and seed. */
export interface SetupTable {
  setup: string;
  dataset: string;
  epochs: number | null;
  img_size: number | null;
  archs: string[];
  activations: string[];
  cells: CellStats[];
  /** PWLU − Swish per architecture: ours (with the test) and the paper's. */
  pwlu_vs_swish: { arch: string; ours: Delta | null; paper: number | null }[];
  /** Learned PWLU shapes by depth per arch × activation, pooled over finished seeds (src/report/shapes.ts). */
  shapes: { arch: string; activation: string; layers: LayerShapes[] }[];
  notes: string[];
}

/** Everything a report shows. */
export interface Report {
  generated: string;
  results_dir: string;
  baseline: string;
  tables: SetupTable[];
  runs: RunRecord[];
  notes: string[];
}

function fmtStatus(i: CellStats['incomplete'][number]): string {
  const progress = i.epochs !== null ? ` at epoch ${i.epochs_completed}/${i.epochs}` : '';
  switch (i.status) {
    case 'missing':
      return `seed ${i.seed} never started`;
    case 'incomplete':
      return `seed ${i.seed} has no summary (killed or still running${progress})`;
    case 'interrupted':
      return `seed ${i.seed} interrupted${progress}`;
    case 'diverged':
      return `seed ${i.seed} diverged${i.error ? ` (${i.error})` : ''}`;
    case 'failed':
      return `seed ${i.seed} failed${progress}${i.error ? `: ${i.error}` : ''}`;
    default:
      return `seed ${i.seed} ${i.status}`;
  }
}

function delta(a: number[], b: number[]): Delta | null {
  if (a.length === 0 || b.length === 0) return null;
  const w = welchTTest(a, b);
  return { diff: w.diff, p: w.p, df: Number.isFinite(w.df) ? w.df : null, mark: significanceMark(w.p) };
}

function firstNumber(runs: RunRecord[], key: 'params' | 'act_params'): number | null {
  for (const r of runs) {
    const v = key === 'params' ? r.param_count : r.act_param_count;
    if (v !== null) return v;
  }
  return null;
}

function buildTable(runs: RunRecord[], baseline: string): SetupTable {
  const archs = ordered(runs.map((r) => r.arch), ARCH_ORDER);
  const activations = ordered(runs.map((r) => r.activation), ACTIVATION_ORDER);
  const finished = (arch: string, act: string) =>
    runs.filter((r) => r.arch === arch && r.activation === act && r.status === 'finished' && r.top1 !== null).sort((a, b) => a.seed - b.seed);
  const cells: CellStats[] = [];
  const notes: string[] = [];
  for (const arch of archs) {
    const base = finished(arch, baseline).map((r) => r.top1!);
    const reluSpeed = mean(finished(arch, 'relu').map((r) => r.train_img_per_s).filter((v): v is number => v !== null));
    for (const act of activations) {
      const all = runs.filter((r) => r.arch === arch && r.activation === act);
      if (all.length === 0) continue;
      const fin = finished(arch, act);
      const values = fin.map((r) => r.top1!);
      const speeds = fin.map((r) => r.train_img_per_s).filter((v): v is number => v !== null);
      const speed = speeds.length ? mean(speeds) : null;
      cells.push({
        arch,
        activation: act,
        seeds: fin.map((r) => r.seed),
        values,
        n: values.length,
        mean: values.length ? mean(values) : null,
        std: values.length > 1 ? sampleStd(values) : null,
        delta: act === baseline ? null : delta(values, base),
        params: firstNumber(all, 'params'),
        act_params: firstNumber(all, 'act_params'),
        train_img_per_s: speed,
        speed_vs_relu: speed !== null && Number.isFinite(reluSpeed) && reluSpeed > 0 ? speed / reluSpeed : null,
        incomplete: all
          .filter((r) => !fin.includes(r))
          .sort((a, b) => a.seed - b.seed)
          .map((r) => ({ seed: r.seed, status: r.status, epochs_completed: r.epochs_completed, epochs: r.epochs, error: r.error, rel: r.rel })),
        fewer_seeds: false,
      });
    }
    if (base.length === 0 && activations.some((a) => a !== baseline && cells.some((c) => c.arch === arch && c.activation === a && c.n > 0))) {
      notes.push(`${arch}: no finished ${baseline} run, so no Δ against the baseline.`);
    }
  }
  const maxN = Math.max(0, ...cells.map((c) => c.n));
  for (const c of cells) {
    c.fewer_seeds = c.n < maxN;
    if (c.incomplete.length) notes.push(`${c.arch} · ${c.activation}: ${c.incomplete.map(fmtStatus).join('; ')} — not counted.`);
    if (c.fewer_seeds && c.n > 0) notes.push(`${c.arch} · ${c.activation}: ${c.n} finished seed${c.n === 1 ? '' : 's'}, fewer than the ${maxN} of the fullest cell.`);
  }
  const pwluVsSwish = archs.map((arch) => {
    const p = finished(arch, 'pwlu').map((r) => r.top1!);
    const s = finished(arch, 'swish').map((r) => r.top1!);
    return { arch, ours: delta(p, s), paper: paperDelta(arch) };
  });
  const shapes = archs.flatMap((arch) =>
    activations.map((activation) => ({ arch, activation, layers: shapesByDepth(finished(arch, activation)) })).filter((s) => s.layers.length > 0),
  );
  const first = runs.find((r) => r.status !== 'missing') ?? runs[0]!;
  const epochs = runs.map((r) => r.epochs).find((e): e is number => e !== null) ?? null;
  const imgSize = runs.map((r) => r.img_size).find((e): e is number => e !== null) ?? null;
  return { setup: first.setup, dataset: first.dataset, epochs, img_size: imgSize, archs, activations, cells, pwlu_vs_swish: pwluVsSwish, shapes, notes };
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
  const tables = [...groups.values()].map((g) => buildTable(g, opts.baseline)).sort((a, b) => a.dataset.localeCompare(b.dataset) || a.setup.localeCompare(b.setup));
  const notes: string[] = [];
  const superseded = runs.filter((r) => r.superseded);
  if (superseded.length) {
    notes.push(`${superseded.length} earlier attempt${superseded.length === 1 ? ' was' : 's were'} moved aside by pwlu bench (${superseded.map((r) => r.rel).join(', ')}); not counted.`);
  }
  if (tables.length > 1) {
    const byData = new Map<string, number>();
    for (const t of tables) byData.set(t.dataset, (byData.get(t.dataset) ?? 0) + 1);
    for (const [d, n] of byData) if (n > 1) notes.push(`${d}: ${n} different setups (settings other than arch, activation and seed differ); each has its own table, labelled by setup hash.`);
  }
  if (runs.length === 0) notes.push('No run directories found.');
  return { generated: (opts.now ?? new Date()).toISOString(), results_dir: opts.resultsDir, baseline: opts.baseline, tables, runs, notes };
}

/** Reads a results folder and builds its report: the entry point of `pwlu report` and the end of `pwlu bench`. */
export function reportFromDir(dir: string, baseline = 'swish'): Report {
  // Named relative to the project (results/NAME), so a committed report carries no machine's absolute path.
  const rel = relative(PROJECT_ROOT, dir);
  const shown = rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? basename(dir) : rel;
  return buildReport(collectRuns(dir), { resultsDir: shown, baseline });
}
