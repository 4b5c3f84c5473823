/**
 * Reading results: every run directory under a folder (the `cells/*` of a bench or plain `pwlu train`
 * runs, at any depth), whatever state it is in. A run that did not finish is read too and carries its
 * status, so a report can say what is missing instead of dropping it.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ACTIVATION_SPECS } from '../activations/specs/index.js';
import { PwluDescribe, type PwluInstanceRecord } from '../activations/specs/pwlu.js';
import { valueAtPath } from '../config/introspect.js';
import { readManifest, sweptKeys } from '../run/bench-manifest.js';
import { BENCH_FILES, RUN_FILES, SUPERSEDED_RE } from '../run/files.js';
import { cocoFigures, type CocoFigures, type EpochRecord } from '../run/records.js';
import { findRunDirs, isSearchableDir } from '../run/discover.js';
import { RunDir } from '../run/run-dir.js';
import { setupHash } from '../run/setup-hash.js';
import { isRecord, num, type Json } from '../util/json.js';
import { recordedCodeVersion } from '../util/provenance.js';
import { splitOverride } from '../util/overrides.js';
import { classifyRun, errorLine, type RunStatus } from '../run/status.js';

/** Where a run stands. `incomplete`: no summary (killed, or still running); `failed` also covers a corrupt summary; `missing`: a bench cell never started. */
export type { RunStatus };

/** One PWLU instance from activations.json: its learned shape and its phase-I statistics (the spec's record). */
export type PwluInstance = PwluInstanceRecord;

/** One PWLU layer (uniform or non-uniform) from activations.json. */
export type PwluLayer = PwluDescribe & { name: string; phase: string };

/** Record types written with PWLU's describe schema (uniform and non-uniform PWLU). */
const PWLU_RECORD_TYPES: ReadonlySet<string> = new Set(ACTIVATION_SPECS.filter((s) => s.describeSchema === PwluDescribe).map((s) => s.name));

/** Everything a report needs about one run. Numbers are null where the run did not produce them. */
export interface RunRecord {
  /** Absolute path of the run directory. */
  dir: string;
  /** Path relative to the results folder (shown in reports). */
  rel: string;
  name: string;
  arch: string;
  activation: string;
  dataset: string;
  seed: number;
  status: RunStatus;
  /** A failed attempt moved aside by `pwlu bench` (`cells/<name>.failed-<n>`); never counted as a result. */
  superseded: boolean;
  /** What the run learned: classification (top-1) or detection (COCO AP), from summary.json's or config.yaml's `task`. */
  task: 'classification' | 'detection';
  /** Detection: the detector (config `detection.detector`, e.g. retinanet); null for classification. */
  detector: string | null;
  /**
   * Detection: COCO's twelve figures on test (fractions; -1 where COCO leaves one undefined) at the reported epoch: the
   * epoch val AP chose, else the last evaluated one (no val split, or a run that did not finish); null for classification.
   */
  coco: CocoFigures | null;
  /** Whether `coco` is the val-chosen epoch's (false: the last evaluated epoch's). */
  coco_selected: boolean;
  /** Groups runs that share every setting but arch, activation, seed, the bench's swept keys and where/how they ran. */
  setup: string;
  /** The bench cell's sweep overrides as a row label (`n=4, realign=false`; `base` for none); '' outside a sweep bench. */
  variant: string;
  /** The run's values at its bench's swept key paths (from its config.yaml), for baselines and plots by value. */
  sweep: Record<string, unknown>;
  epochs: number | null;
  epochs_completed: number;
  top1: number | null;
  top5: number | null;
  /** The test top-1 at the epoch the validation split chose; null when nothing was chosen on val (never chosen on test). */
  top1_best: number | null;
  epoch_best: number | null;
  /** `val` when a validation split chose `epoch_best`; null: no validation split, so no epoch was selected (the report shows the final epoch). */
  best_split: 'val' | null;
  /** The commit the run's checkout was at (summary.json `git_commit`, without a `-dirty` suffix); null when unrecorded. */
  git_commit: string | null;
  /** Whether that checkout had uncommitted changes (`git_dirty`, or an old summary's `-dirty` suffix); null when unrecorded. */
  git_dirty: boolean | null;
  param_count: number | null;
  act_param_count: number | null;
  img_size: number | null;
  backend: string | null;
  train_img_per_s: number | null;
  /** Peak tensor memory of the run's (last) process, where the torch allocator counted it. */
  peak_tensor_bytes: number | null;
  wall_s: number | null;
  /** Why it failed or stopped, when known (summary error or the tail of bench-error.txt). */
  error: string | null;
  curve: EpochRecord[];
  pwlu: PwluLayer[];
  /** The epoch activations.json was written at. */
  pwlu_epoch: number | null;
}

/** A cell a bench manifest expects, for reporting cells that never started. */
export interface ExpectedCell {
  name: string;
  dataset: string;
  setup: string;
  arch: string;
  activation: string;
  seed: number;
  dir: string;
  sweep: SweepContext;
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

/** The PWLU layers of a run's activations.json (the report draws their learned shapes): every record of an activation whose spec describes it as PWLU does. */
function readPwlu(run: RunDir): { epoch: number | null; layers: PwluLayer[] } {
  const j = run.readActivations();
  const layers: PwluLayer[] = [];
  for (const l of j.layers) {
    if (!PWLU_RECORD_TYPES.has(String(l.type))) continue;
    const parsed = PwluDescribe.safeParse(l);
    if (!parsed.success) continue;
    layers.push({ ...parsed.data, name: str(l.name, '?'), phase: parsed.data.phase ?? '?' });
  }
  return { epoch: num(j.epoch), layers };
}

/**
 * The epoch the validation split chose, from the summary or (a run without one, e.g. still running) from the
 * metrics' val curve, first maximum as the trainer picks it. Never chosen on test: an old summary whose `best`
 * was chosen on test (no validation split) and a curve without val top-1 give null, and the report shows the
 * final epoch only.
 */
export function valSelection(best: unknown, curve: readonly EpochRecord[], selection?: unknown): { epoch: number; test_top1: number | null } | null {
  if (selection === 'none') return null;
  if (isRecord(best)) {
    if (best.split !== 'val') return null;
    const epoch = num(best.epoch);
    return epoch === null ? null : { epoch, test_top1: num(best.test_top1) };
  }
  let chosen: EpochRecord | null = null;
  for (const p of curve) {
    const v = p.val_top1;
    if (typeof v === 'number' && Number.isFinite(v) && (chosen === null || v > (chosen.val_top1 as number))) chosen = p;
  }
  return chosen ? { epoch: chosen.epoch, test_top1: chosen.test_top1 } : null;
}

/**
 * The COCO figures a detection run reports: the val-chosen epoch's test figures (summary.best.test_coco), else the
 * summary's final_coco, else (no summary yet, or one without it) the last evaluated epoch's test_coco from the curve.
 */
export function reportedCoco(
  summary: { best?: unknown; final_coco?: unknown; selection?: unknown } | null,
  curve: readonly EpochRecord[],
  finished: boolean,
): { coco: CocoFigures | null; selected: boolean } {
  const best = summary?.best;
  if (finished && summary?.selection !== 'none' && isRecord(best) && best.split === 'val') {
    const chosen = cocoFigures(best.test_coco);
    if (chosen) return { coco: chosen, selected: true };
  }
  const last = [...curve].reverse().find((p) => p.test_coco != null)?.test_coco ?? null;
  return { coco: (finished ? cocoFigures(summary?.final_coco) : null) ?? cocoFigures(last), selected: false };
}

/** What a run's bench says about it: the keys the bench sweeps and the cell's overrides. */
export interface SweepContext {
  keys: string[];
  overrides: string[];
}

const NO_SWEEP: SweepContext = { keys: [], overrides: [] };

/** A row label for a cell's overrides: each key by its last part (`n=4, realign=false`), `base` for none. */
export function variantLabel(ctx: SweepContext): string {
  if (ctx.keys.length === 0) return '';
  const shortOf = (key: string) => {
    const last = key.split('.').pop()!;
    return ctx.keys.filter((k) => k.split('.').pop() === last).length > 1 ? key : last;
  };
  const parts = ctx.overrides.flatMap((raw) => {
    const o = splitOverride(raw);
    return o ? [`${shortOf(o.key)}=${o.value}`] : [];
  });
  return parts.length ? parts.join(', ') : 'base';
}

/** Reads one run directory into a record, whatever state it is in. */
export function readRun(dir: string, root: string, sweep: SweepContext = NO_SWEEP): RunRecord {
  const run = new RunDir(dir);
  let config: Json = {};
  try {
    const parsed: unknown = parseYaml(run.readConfigText());
    if (isRecord(parsed)) config = parsed;
  } catch {
    // unreadable config: the summary may still say what the run was
  }
  const cfg = (section: string): Json => (isRecord(config[section]) ? config[section] : {});
  const summaryFile = run.summaryFile();
  const summary = summaryFile.state === 'ok' ? summaryFile.value : null;
  const corrupt = summaryFile.state === 'corrupt' ? `${RUN_FILES.summary} is corrupt: ${summaryFile.reason}` : null;
  const task = summary?.task === 'detection' || config.task === 'detection' ? 'detection' : 'classification';
  const curve = run.readMetrics().epochs;
  const pwlu = readPwlu(run);
  const name = basename(dir);
  const superseded = SUPERSEDED_RE.test(name);
  const errorText = run.readBenchError();
  const benchError = errorText === null ? null : errorLine(errorText) || 'failed (no message)';
  const status: RunStatus = classifyRun({ summary: summary?.status, benchError: benchError !== null, summaryCorrupt: corrupt !== null });
  const lastEval = [...curve].reverse().find((p) => p.test_top1 !== null) ?? null;
  const dataCfg = cfg('data');
  const synth = isRecord(dataCfg.synthetic) ? dataCfg.synthetic : {};
  const imgSize = num(summary?.img_size) ?? num(dataCfg.image_size) ?? (dataCfg.name === 'synthetic' ? num(synth.size) : null);
  const selected = valSelection(summary?.best, curve, summary?.selection);
  const code = recordedCodeVersion(isRecord(summary) ? summary : {});
  const finished = status === 'finished';
  const coco = task === 'detection' ? reportedCoco(summary, curve, finished) : { coco: null, selected: false };
  return {
    dir,
    rel: relative(root, dir) || '.',
    name,
    arch: str(summary?.arch, str(cfg('model').arch, '?')),
    activation: str(summary?.activation, str(cfg('activation').name, '?')),
    dataset: str(summary?.dataset, str(dataCfg.name, '?')),
    seed: num(summary?.seed) ?? num(config.seed) ?? 0,
    task,
    detector: task === 'detection' ? str(cfg('detection').detector, 'retinanet') : null,
    coco: coco.coco,
    coco_selected: coco.selected,
    status,
    superseded,
    setup: Object.keys(config).length ? setupHash(config, sweep.keys) : 'unknown',
    variant: variantLabel(sweep),
    sweep: Object.fromEntries(sweep.keys.map((k) => [k, valueAtPath(config, k)])),
    epochs: num(summary?.epochs) ?? num(cfg('train').epochs),
    epochs_completed: num(summary?.epochs_completed) ?? curve.length,
    top1: finished ? num(summary?.final?.top1) : (lastEval?.test_top1 ?? null),
    top5: finished ? num(summary?.final?.top5) : (lastEval?.test_top5 ?? null),
    top1_best: selected?.test_top1 ?? null,
    epoch_best: selected?.epoch ?? null,
    best_split: selected ? 'val' : null,
    git_commit: code.commit,
    git_dirty: code.dirty,
    param_count: summary?.params ? num(summary.params) : null,
    act_param_count: summary?.params ? num(summary.act_params) : null,
    img_size: imgSize,
    backend: isRecord(summary?.backend)
      ? str(summary.backend.name, '?')
      : typeof config.backend === 'string' && config.backend !== 'auto'
        ? config.backend
        : null,
    train_img_per_s: num(summary?.train_img_per_s) || null,
    peak_tensor_bytes: isRecord(summary?.memory) ? num(summary.memory.peak_tensor_bytes) : null,
    wall_s: num(summary?.wall_s),
    error: typeof summary?.error === 'string' ? summary.error : (corrupt ?? benchError),
    curve,
    pwlu: pwlu.layers,
    pwlu_epoch: pwlu.epoch,
  };
}

/** Reads the cells a bench manifest under `root` expects, so cells never started show up as missing. */
export function readExpectedCells(root: string): ExpectedCell[] {
  const out: ExpectedCell[] = [];
  const visit = (dir: string, depth: number) => {
    const m = readManifest(dir);
    if (m) {
      const keys = sweptKeys(m.cells);
      for (const c of m.cells) {
        if (typeof c.name !== 'string') continue;
        out.push({
          name: c.name,
          dataset: str(m.dataset, '?'),
          setup: str(m.setup, 'unknown'),
          arch: str(c.arch, '?'),
          activation: str(c.activation, '?'),
          seed: num(c.seed) ?? 0,
          dir: join(dir, typeof c.dir === 'string' ? c.dir : join(BENCH_FILES.cells, c.name)),
          sweep: { keys, overrides: Array.isArray(c.overrides) ? c.overrides.filter((o) => typeof o === 'string') : [] },
        });
      }
      return;
    }
    if (depth >= 2) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) if (isSearchableDir(dir, e)) visit(join(dir, e), depth + 1);
  };
  visit(root, 0);
  return out;
}

/** Every run under `root`, plus a record for each expected bench cell without a run directory: `failed` when the bench left its error there, else `missing`. */
export function collectRuns(root: string): RunRecord[] {
  const expected = readExpectedCells(root);
  const byDir = new Map(expected.map((c) => [c.dir, c.sweep]));
  const runs = findRunDirs(root).map((d) => readRun(d, root, byDir.get(d) ?? byDir.get(d.replace(SUPERSEDED_RE, '')) ?? NO_SWEEP));
  const have = new Set(runs.map((r) => r.dir));
  // A cell that never started takes the setup of its bench's runs (they share it by construction), else the manifest's.
  const setupOf = new Map(runs.filter((r) => r.setup !== 'unknown').map((r) => [r.dir, r.setup]));
  const taskOf = new Map(runs.map((r) => [r.dir, { task: r.task, detector: r.detector }]));
  for (const c of expected) {
    if (have.has(c.dir)) continue;
    const sibling = expected.find((e) => dirname(e.dir) === dirname(c.dir) && setupOf.has(e.dir));
    // A cell that failed before its run began (no data, say) holds only the bench's error file.
    const errorText = new RunDir(c.dir).readBenchError();
    runs.push({
      dir: c.dir,
      rel: relative(root, c.dir),
      name: c.name,
      arch: c.arch,
      activation: c.activation,
      seed: c.seed,
      dataset: c.dataset,
      task: sibling ? taskOf.get(sibling.dir)!.task : 'classification',
      detector: sibling ? taskOf.get(sibling.dir)!.detector : null,
      coco: null,
      coco_selected: false,
      status: errorText === null ? 'missing' : 'failed',
      superseded: false,
      setup: sibling ? setupOf.get(sibling.dir)! : c.setup,
      variant: variantLabel(c.sweep),
      sweep: {},
      epochs: null,
      epochs_completed: 0,
      top1: null,
      top5: null,
      top1_best: null,
      epoch_best: null,
      best_split: null,
      git_commit: null,
      git_dirty: null,
      param_count: null,
      act_param_count: null,
      img_size: null,
      backend: null,
      train_img_per_s: null,
      peak_tensor_bytes: null,
      wall_s: null,
      error: errorText === null ? null : errorLine(errorText) || 'failed (no message)',
      curve: [],
      pwlu: [],
      pwlu_epoch: null,
    });
  }
  return runs;
}
