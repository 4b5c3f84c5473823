/**
 * Reading results: every run directory under a folder (the `cells/*` of a bench or plain `pwlu train`
 * runs, at any depth), whatever state it is in. A run that did not finish is read too and carries its
 * status, so a report can say what is missing instead of dropping it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Summary } from '../cli/train.js';
import { ACTIVATION_OPTIONS, isActivationName } from '../activations/options.js';
import { migrateConfig } from '../config/deprecated.js';
import { canonicalJson } from '../config/format.js';
import { RUN_FILES } from '../train/rundir.js';

/** Where a run stands. `incomplete`: no summary (killed, or still running); `missing`: a bench cell never started. */
export type RunStatus = 'finished' | 'interrupted' | 'diverged' | 'failed' | 'incomplete' | 'missing';

/** One line of metrics.jsonl that reports an epoch (event lines are left out). */
export interface EpochPoint {
  epoch: number;
  lr: number;
  train_loss: number;
  train_top1: number;
  test_loss: number | null;
  test_top1: number | null;
  test_top5: number | null;
  img_per_s: number;
}

/** One PWLU instance from activations.json: its learned shape and its phase-I statistics. */
export interface PwluInstance {
  bl: number;
  br: number;
  kl: number;
  kr: number;
  breakpoints: number[];
  heights: number[];
  running_mean: number;
  running_std: number;
}

/** One PWLU layer from activations.json. */
export interface PwluLayer {
  name: string;
  n: number;
  granularity: string;
  phase: string;
  stat_steps: number;
  realigned: boolean;
  instances: PwluInstance[];
}

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
  /** Groups runs that share every setting but arch, activation, seed and where/how they ran. */
  setup: string;
  epochs: number | null;
  epochs_completed: number;
  top1: number | null;
  top5: number | null;
  top1_best: number | null;
  epoch_best: number | null;
  param_count: number | null;
  act_param_count: number | null;
  img_size: number | null;
  backend: string | null;
  train_img_per_s: number | null;
  wall_s: number | null;
  /** Why it failed or stopped, when known (summary error or the tail of bench-error.txt). */
  error: string | null;
  curve: EpochPoint[];
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
}

/** The bench manifest's name inside a results folder. */
export const BENCH_MANIFEST = 'bench.json';
/** The file `pwlu bench` leaves in a cell directory when the cell's process failed. */
export const BENCH_ERROR = 'bench-error.txt';
/** Moved-aside attempts: `<cell>.failed-<n>`. */
export const SUPERSEDED_RE = /\.failed-\d+$/;

const SKIP_DIRS = new Set(['node_modules', '.git']);
const MAX_DEPTH = 8;

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

/** Finds run directories (folders holding config.yaml) under `root`, not descending into runs. */
export function findRunDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (existsSync(join(dir, RUN_FILES.config))) {
      out.push(dir);
      return;
    }
    if (depth >= MAX_DEPTH) return;
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const e of entries) {
      if (SKIP_DIRS.has(e) || e.startsWith('.')) continue;
      const p = join(dir, e);
      try {
        if (statSync(p).isDirectory()) walk(p, depth + 1);
      } catch {
        // vanished while walking: skip
      }
    }
  };
  walk(root, 0);
  return out;
}

/**
 * Hash of the settings shared by a comparison (everything but arch, activation, seed and the machine). Activation
 * options count where they differ from that activation's defaults: every cell of a bench then shares its setup
 * (each cell's resolved config adds its own activation's defaults), while a bench with other options (e.g.
 * `activation.pwlu.n`) gets its own.
 */
export function setupHash(config: Json): string {
  const c = structuredClone(config);
  migrateConfig(c); // runs saved before activations owned their options
  const options = changedActivationOptions(c.activation);
  for (const k of ['name', 'seed', 'backend', 'threads', 'device', 'activation']) delete c[k];
  if (Object.keys(options).length > 0) c.activation_options = options;
  if (isRecord(c.model)) delete c.model.arch;
  if (isRecord(c.data)) {
    delete c.data.dir;
    delete c.data.download;
  }
  return createHash('sha256').update(canonicalJson(c)).digest('hex').slice(0, 8);
}

/** The activation options sections of a config that differ from their activation's defaults. */
function changedActivationOptions(activation: unknown): Json {
  const out: Json = {};
  if (!isRecord(activation)) return out;
  for (const [name, section] of Object.entries(activation)) {
    if (!isActivationName(name)) continue;
    const schema = ACTIVATION_OPTIONS[name];
    const parsed = schema.safeParse(section ?? {});
    const value: unknown = parsed.success ? parsed.data : section;
    if (canonicalJson(value) !== canonicalJson(schema.parse({}))) out[name] = value;
  }
  return out;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/** Epoch lines of metrics.jsonl, one per epoch (a line repeated by a resume keeps the last), in order. */
export function readCurve(path: string): EpochPoint[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const byEpoch = new Map<number, EpochPoint>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      continue; // a line cut by a crash
    }
    if (!isRecord(r) || 'event' in r) continue;
    const epoch = num(r.epoch);
    if (epoch === null) continue;
    byEpoch.set(epoch, {
      epoch,
      lr: num(r.lr) ?? NaN,
      train_loss: num(r.train_loss) ?? NaN,
      train_top1: num(r.train_top1) ?? NaN,
      test_loss: num(r.test_loss),
      test_top1: num(r.test_top1),
      test_top5: num(r.test_top5),
      img_per_s: num(r.img_per_s) ?? NaN,
    });
  }
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

function readPwlu(path: string): { epoch: number | null; layers: PwluLayer[] } {
  const j = readJson(path);
  if (!isRecord(j) || !Array.isArray(j.layers)) return { epoch: null, layers: [] };
  const layers: PwluLayer[] = [];
  for (const l of j.layers) {
    if (!isRecord(l) || l.type !== 'pwlu' || !Array.isArray(l.instances)) continue;
    const instances: PwluInstance[] = [];
    for (const q of l.instances) {
      if (!isRecord(q) || !Array.isArray(q.breakpoints) || !Array.isArray(q.heights)) continue;
      instances.push({
        bl: num(q.bl) ?? NaN,
        br: num(q.br) ?? NaN,
        kl: num(q.kl) ?? 0,
        kr: num(q.kr) ?? 1,
        breakpoints: q.breakpoints.map((v) => num(v) ?? NaN),
        heights: q.heights.map((v) => num(v) ?? NaN),
        running_mean: num(q.running_mean) ?? NaN,
        running_std: num(q.running_std) ?? NaN,
      });
    }
    layers.push({
      name: str(l.name, '?'),
      n: num(l.n) ?? instances[0]?.heights.length ?? 0,
      granularity: str(l.granularity, 'layer'),
      phase: str(l.phase, '?'),
      stat_steps: num(l.stat_steps) ?? 0,
      realigned: l.realigned === true,
      instances,
    });
  }
  return { epoch: num(j.epoch), layers };
}

/** The line that says what went wrong: the last one mentioning an error, else the last line. */
function errorLine(text: string): string {
  const lines = text.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  return [...lines].reverse().find((l) => /error/i.test(l) && !l.startsWith('(set PWLU_DEBUG')) ?? lines[lines.length - 1] ?? '';
}

/** Reads one run directory into a record, whatever state it is in. */
export function readRun(dir: string, root: string): RunRecord {
  let config: Json = {};
  try {
    const parsed: unknown = parseYaml(readFileSync(join(dir, RUN_FILES.config), 'utf8'));
    if (isRecord(parsed)) config = parsed;
  } catch {
    // unreadable config: the summary may still say what the run was
  }
  const cfg = (section: string): Json => (isRecord(config[section]) ? (config[section] as Json) : {});
  const summaryRaw = readJson(join(dir, RUN_FILES.summary));
  const summary = isRecord(summaryRaw) ? (summaryRaw as Partial<Summary> & Json) : null;
  const curve = readCurve(join(dir, RUN_FILES.metrics));
  const pwlu = readPwlu(join(dir, RUN_FILES.activations));
  const name = basename(dir);
  const superseded = SUPERSEDED_RE.test(name);
  let benchError: string | null = null;
  if (existsSync(join(dir, BENCH_ERROR))) {
    try {
      benchError = errorLine(readFileSync(join(dir, BENCH_ERROR), 'utf8')) || 'failed (no message)';
    } catch {
      benchError = 'failed';
    }
  }
  let status: RunStatus;
  const s = summary?.status;
  if (s === 'finished' || s === 'interrupted' || s === 'diverged' || s === 'failed') status = s;
  else status = benchError ? 'failed' : 'incomplete';
  // A failed process after an earlier interruption: the error file is newer news than the summary.
  if (status === 'interrupted' && benchError) status = 'failed';
  const lastEval = [...curve].reverse().find((p) => p.test_top1 !== null) ?? null;
  const dataCfg = cfg('data');
  const synth = isRecord(dataCfg.synthetic) ? dataCfg.synthetic : {};
  const imgSize = num(summary?.img_size) ?? num(dataCfg.image_size) ?? (dataCfg.name === 'synthetic' ? num(synth.size) : null);
  const bestFromCurve = curve.reduce<EpochPoint | null>((b, p) => (p.test_top1 !== null && (b === null || p.test_top1 > (b.test_top1 ?? -Infinity)) ? p : b), null);
  const finished = status === 'finished';
  return {
    dir,
    rel: relative(root, dir) || '.',
    name,
    arch: str(summary?.arch, str(cfg('model').arch, '?')),
    activation: str(summary?.activation, str(cfg('activation').name, '?')),
    dataset: str(summary?.dataset, str(dataCfg.name, '?')),
    seed: num(summary?.seed) ?? num(config.seed) ?? 0,
    status,
    superseded,
    setup: Object.keys(config).length ? setupHash(config) : 'unknown',
    epochs: num(summary?.epochs) ?? num(cfg('train').epochs),
    epochs_completed: num(summary?.epochs_completed) ?? curve.length,
    top1: finished ? num(summary?.final?.top1) : (lastEval?.test_top1 ?? null),
    top5: finished ? num(summary?.final?.top5) : (lastEval?.test_top5 ?? null),
    top1_best: num(summary?.best?.top1) ?? bestFromCurve?.test_top1 ?? null,
    epoch_best: num(summary?.best?.epoch) ?? bestFromCurve?.epoch ?? null,
    param_count: summary?.params ? num(summary.params) : null,
    act_param_count: summary?.params ? num(summary.act_params) : null,
    img_size: imgSize,
    backend: isRecord(summary?.backend) ? str(summary.backend.name, '?') : typeof config.backend === 'string' && config.backend !== 'auto' ? config.backend : null,
    train_img_per_s: num(summary?.train_img_per_s) || null,
    wall_s: num(summary?.wall_s),
    error: typeof summary?.error === 'string' ? summary.error : benchError,
    curve,
    pwlu: pwlu.layers,
    pwlu_epoch: pwlu.epoch,
  };
}

/** Reads the cells a bench manifest under `root` expects, so cells never started show up as missing. */
export function readExpectedCells(root: string): ExpectedCell[] {
  const out: ExpectedCell[] = [];
  const visit = (dir: string, depth: number) => {
    const m = readJson(join(dir, BENCH_MANIFEST));
    if (isRecord(m) && Array.isArray(m.cells)) {
      for (const c of m.cells) {
        if (!isRecord(c) || typeof c.name !== 'string') continue;
        out.push({
          name: c.name,
          dataset: str(m.dataset, '?'),
          setup: str(m.setup, 'unknown'),
          arch: str(c.arch, '?'),
          activation: str(c.activation, '?'),
          seed: num(c.seed) ?? 0,
          dir: join(dir, typeof c.dir === 'string' ? c.dir : join('cells', c.name)),
        });
      }
      return;
    }
    if (depth >= 2) return;
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e);
      if (e.startsWith('.') || SKIP_DIRS.has(e) || existsSync(join(p, RUN_FILES.config))) continue;
      try {
        if (statSync(p).isDirectory()) visit(p, depth + 1);
      } catch {
        // skip
      }
    }
  };
  visit(root, 0);
  return out;
}

/** Every run under `root`, plus a `missing` record for each expected bench cell without a run directory. */
export function collectRuns(root: string): RunRecord[] {
  const runs = findRunDirs(root).map((d) => readRun(d, root));
  const have = new Set(runs.map((r) => r.dir));
  for (const c of readExpectedCells(root)) {
    if (have.has(c.dir)) continue;
    runs.push({
      dir: c.dir,
      rel: relative(root, c.dir),
      name: c.name,
      arch: c.arch,
      activation: c.activation,
      seed: c.seed,
      dataset: c.dataset,
      status: 'missing',
      superseded: false,
      setup: c.setup,
      epochs: null,
      epochs_completed: 0,
      top1: null,
      top5: null,
      top1_best: null,
      epoch_best: null,
      param_count: null,
      act_param_count: null,
      img_size: null,
      backend: null,
      train_img_per_s: null,
      wall_s: null,
      error: null,
      curve: [],
      pwlu: [],
      pwlu_epoch: null,
    });
  }
  return runs;
}
