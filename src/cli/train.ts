import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { stringifyConfig } from '../config/format.js';
import { selectBackend, type ConcreteBackend } from '../backends/select.js';
import { loadDataset } from '../data/load.js';
import { countActivationSites, countAllSites } from '../models/sites.js';
import { createRunDir, defaultRunName, openRunDir, type RunDir } from '../train/rundir.js';
import { DivergedError, train, type TrainOutcome } from '../train/trainer.js';
import { UserError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { createProgress } from '../util/progress.js';
import { gitCommit, registryChecks, versions } from './common.js';
import type { TrainCliOptions } from './main.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { disposeModel } from '../models/infer.js';

/** summary.json: what a finished (or stopped) run produced, and what produced it. */
export interface Summary {
  status: 'finished' | 'interrupted' | 'diverged' | 'failed';
  arch: string;
  activation: string;
  dataset: string;
  seed: number;
  epochs: number;
  epochs_completed: number;
  final: { top1: number; top5: number; loss: number } | null;
  /** Which activation sites took the configured activation, and how many of how many. */
  activation_sites: { mode: 'all' | 'default'; replaced: number; total: number };
  best: { top1: number; epoch: number } | null;
  params: number;
  act_params: number;
  img_size: number;
  wall_s: number;
  train_img_per_s: number;
  backend: { name: string; reason: string; detail: Record<string, string | number | boolean> };
  versions: Record<string, string>;
  git_commit: string | null;
  config_hash: string;
  error?: string;
}

function flagSets(opts: TrainCliOptions): string[] {
  const sets = [...opts.set];
  if (opts.backend) sets.push(`backend=${opts.backend}`);
  if (opts.threads !== undefined) sets.push(`threads=${opts.threads}`);
  if (opts.device) sets.push(`device=${opts.device}`);
  return sets;
}

/** `pwlu train`: config → run directory → backend → data → training loop → summary. */
export async function trainCommand(opts: TrainCliOptions): Promise<void> {
  let run: RunDir;
  let loaded;
  if (opts.resume) {
    if (opts.config || opts.set.length || opts.out) {
      throw new UserError('--resume continues a run with the config saved in it; do not combine it with --config, --set or --out');
    }
    run = openRunDir(resolve(opts.resume));
    // Backend/threads flags may differ on resume (another machine); they do not change results' meaning.
    loaded = loadConfig(run.path('config'), flagSets({ ...opts, set: [] }), { extraChecks: registryChecks });
  } else {
    loaded = loadConfig(opts.config ?? null, flagSets(opts), { extraChecks: registryChecks });
    const c = loaded.config;
    const name = c.name ?? defaultRunName([c.model.arch, c.activation.name, c.data.name, `s${c.seed}`]);
    const out = opts.out ? resolve(opts.out) : join(PROJECT_ROOT, 'results', name);
    run = createRunDir(out);
    run.writeAtomic('config', stringifyConfig(c));
  }
  const config = loaded.config;
  const log = createLogger({ file: run.path('log'), level: opts.quiet ? 'warn' : 'info' });
  for (const w of loaded.warnings) log.warn(w);
  let stop = false;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\npwlu: interrupt: saving a checkpoint (press Ctrl-C again to abort at once)\n');
  };
  process.on('SIGINT', onSigint);
  const started = Date.now();
  let summary: Summary | null = null;
  try {
    log.info({ run: run.dir, config_hash: loaded.hash, resume: Boolean(opts.resume) }, 'run directory');
    const backend = await selectBackend(config.backend as 'auto' | ConcreteBackend, { threads: config.threads, device: config.device });
    log.info({ backend: backend.name, reason: backend.reason, ...backend.detail, skipped: backend.skipped.map((s) => `${s.name}: ${s.reason}`) }, `backend ${backend.name}`);
    const { dataset, val, location } = await loadDataset(config.data, { projectRoot: PROJECT_ROOT, seed: config.seed, log: (m: string) => log.info(m) });
    log.info({ dataset: dataset.name, train: dataset.train.n, test: dataset.test.n, val: val?.n ?? 0, from: location }, 'data');
    const base = {
      arch: config.model.arch,
      activation: config.activation.name,
      dataset: config.data.name,
      seed: config.seed,
      epochs: config.train.epochs,
      img_size: dataset.height,
      backend: { name: backend.name, reason: backend.reason, detail: backend.detail },
      versions: versions(backend.detail),
      git_commit: gitCommit(),
      config_hash: loaded.hash,
    };
    let outcome: TrainOutcome;
    try {
      outcome = await train({
        config,
        configHash: loaded.hash,
        run,
        log,
        progress: createProgress(!opts.quiet && process.stderr.isTTY === true),
        dataset,
        val,
        resume: Boolean(opts.resume),
        shouldStop: () => stop,
      });
    } catch (e) {
      if (e instanceof DivergedError) {
        summary = { ...base, status: 'diverged', epochs_completed: 0, activation_sites: { mode: config.activation.sites, replaced: 0, total: 0 }, final: null, best: null, params: 0, act_params: 0, wall_s: (Date.now() - started) / 1000, train_img_per_s: 0, error: e.message };
        run.writeAtomic('summary', `${JSON.stringify(summary, null, 2)}\n`);
      }
      throw e;
    }
    const m = outcome.lastMetrics ?? lastMetricsFromFile(run);
    summary = {
      ...base,
      status: outcome.status,
      epochs_completed: outcome.position.epoch,
      activation_sites: { mode: config.activation.sites, replaced: countActivationSites(outcome.model), total: countAllSites(outcome.model) },
      final: m ? { top1: m.test_top1, top5: m.test_top5, loss: m.test_loss } : null,
      best: outcome.position.best,
      params: outcome.params,
      act_params: outcome.actParams,
      wall_s: outcome.wallSeconds,
      train_img_per_s: outcome.trainImgPerS,
    };
    run.writeAtomic('summary', `${JSON.stringify(summary, null, 2)}\n`);
    disposeModel(outcome.model);
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stdout.write(textSummary(summary, run.dir));
    if (outcome.status === 'interrupted') process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSigint);
    await log.close();
  }
}

function lastMetricsFromFile(run: RunDir): { test_top1: number; test_top5: number; test_loss: number } | null {
  try {
    // The last epoch line: metrics.jsonl also holds event records (e.g. PWLU's realignment).
    const records = readFileSync(run.path('metrics'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const last = records.filter((r) => !('event' in r)).pop();
    return last ? (last as { test_top1: number; test_top5: number; test_loss: number }) : null;
  } catch {
    return null;
  }
}

function textSummary(s: Summary, dir: string): string {
  const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(2));
  const rows = [
    ['run', dir],
    ['status', s.status],
    ['model', `${s.arch} + ${s.activation} on ${s.dataset} (seed ${s.seed})`],
    ['epochs', `${s.epochs_completed}/${s.epochs}`],
    ['test top-1', `${f(s.final?.top1)} %`],
    ['test top-5', `${f(s.final?.top5)} %`],
    ['best top-1', s.best ? `${f(s.best.top1)} % (epoch ${s.best.epoch})` : 'n/a'],
    ['parameters', `${s.params.toLocaleString('en-US')} (activation: ${s.act_params})`],
    ['backend', `${s.backend.name} (${s.backend.reason})`],
    ['throughput', `${Math.round(s.train_img_per_s)} train img/s`],
    ['wall time', `${(s.wall_s / 60).toFixed(1)} min`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}
