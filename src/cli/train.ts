import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { stringifyConfig } from '../config/format.js';
import { selectBackend, type ConcreteBackend } from '../backends/select.js';
import { loadDataset } from '../data/load.js';
import { countActivationSites, countAllSites } from '../models/sites.js';
import type { Lock } from '../run/lock.js';
import type { Summary } from '../run/records.js';
import { createRunDir, defaultRunName, openRunDir, type RunDir } from '../run/run-dir.js';
import { DivergedError, progressSummary, Trainer } from '../train/trainer.js';
import { ExitCode, UserError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { createProgress } from '../util/progress.js';
import { gitCommit, registryChecks, versions } from './common.js';
import type { TrainCliOptions } from './main.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { disposeModel } from '../models/infer.js';

function flagSets(opts: TrainCliOptions): string[] {
  const sets = [...opts.set];
  if (opts.backend) sets.push(`backend=${opts.backend}`);
  if (opts.threads !== undefined) sets.push(`threads=${opts.threads}`);
  if (opts.device) sets.push(`device=${opts.device}`);
  return sets;
}

/**
 * Stops training cleanly on SIGINT and SIGTERM (Ctrl-C, kill, Slurm pre-emption, container
 * runtimes): the loop saves a checkpoint at the next step boundary and the command exits 130. A
 * repeated signal does not cut the save short; only SIGKILL does.
 */
export function stopOnSignals(): { stopped: () => boolean; dispose: () => void } {
  let signal: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signal) {
      process.stderr.write(`\npwlu: ${sig} again: still saving the checkpoint; it is complete in a moment (kill -9 aborts without one)\n`);
      return;
    }
    signal = sig;
    process.stderr.write(`\npwlu: interrupt (${sig}): saving a checkpoint at the end of this step\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped: () => signal !== null,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Opens the run directory the command works in, locked: a new one from the config, or the one to resume. */
function openRun(opts: TrainCliOptions): { run: RunDir; lock: Lock; loaded: ReturnType<typeof loadConfig> } | null {
  if (opts.resume) {
    if (opts.config || opts.set.length || opts.out) {
      throw new UserError('--resume continues a run with the config saved in it; do not combine it with --config, --set or --out');
    }
    const run = openRunDir(resolve(opts.resume));
    const done = run.readSummary();
    if (done?.status === 'finished') {
      process.stdout.write(`${run.dir} has finished already (${String(done.epochs_completed)}/${String(done.epochs)} epochs); nothing to do\n`);
      return null;
    }
    // Backend/threads flags may differ on resume (another machine); they do not change results' meaning.
    const loaded = loadConfig(run.path('config'), flagSets({ ...opts, set: [] }), { extraChecks: registryChecks });
    return { run, lock: run.lock('pwlu train --resume'), loaded };
  }
  const loaded = loadConfig(opts.config ?? null, flagSets(opts), { extraChecks: registryChecks });
  const c = loaded.config;
  const name = c.name ?? defaultRunName([c.model.arch, c.activation.name, c.data.name, `s${c.seed}`]);
  const { run, lock } = createRunDir(opts.out ? resolve(opts.out) : join(PROJECT_ROOT, 'results', name));
  run.writeConfig(stringifyConfig(c));
  return { run, lock, loaded };
}

/** `pwlu train`: config → run directory → backend → data → training loop → summary. */
export async function trainCommand(opts: TrainCliOptions): Promise<void> {
  const opened = openRun(opts);
  if (!opened) return;
  const { run, lock, loaded } = opened;
  const config = loaded.config;
  const log = createLogger({ file: run.path('log'), level: opts.quiet ? 'warn' : 'info' });
  for (const w of loaded.warnings) log.warn(w);
  const signals = stopOnSignals();
  const started = Date.now();
  let trainer: Trainer | null = null;
  let base: Pick<Summary, 'arch' | 'activation' | 'dataset' | 'seed' | 'epochs' | 'img_size' | 'backend' | 'versions' | 'git_commit' | 'config_hash'> | null = null;
  try {
    log.info({ run: run.dir, config_hash: loaded.hash, resume: Boolean(opts.resume) }, 'run directory');
    const backend = await selectBackend(config.backend as 'auto' | ConcreteBackend, { threads: config.threads, device: config.device });
    log.info({ backend: backend.name, reason: backend.reason, ...backend.detail, skipped: backend.skipped.map((s) => `${s.name}: ${s.reason}`) }, `backend ${backend.name}`);
    const { dataset, val, location } = await loadDataset(config.data, { projectRoot: PROJECT_ROOT, seed: config.seed, log: (m: string) => log.info(m) });
    log.info({ dataset: dataset.name, train: dataset.train.n, test: dataset.test.n, val: val?.n ?? 0, from: location }, 'data');
    base = {
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
    trainer = new Trainer({
      config,
      configHash: loaded.hash,
      run,
      log,
      progress: createProgress(!opts.quiet && process.stderr.isTTY === true),
      dataset,
      val,
      resume: Boolean(opts.resume),
      shouldStop: signals.stopped,
    });
    const outcome = await trainer.run();
    const summary: Summary = {
      ...base,
      ...progressSummary(outcome, run),
      status: outcome.status,
      activation_sites: { mode: config.activation.sites, replaced: countActivationSites(outcome.model), total: countAllSites(outcome.model) },
    };
    run.writeSummary(summary);
    disposeModel(outcome.model);
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stdout.write(textSummary(summary, run.dir));
    if (outcome.status === 'interrupted') process.exitCode = ExitCode.interrupted;
  } catch (e) {
    // A run that stops on an error still says how far it got and why (the last good checkpoint stays).
    const progress = e instanceof DivergedError ? (e.progress ?? null) : (trainer?.progress() ?? null);
    if (base) {
      const summary: Summary = {
        ...base,
        ...(progress ? progressSummary(progress, run) : { epochs_completed: 0, final: null, best: null, params: 0, act_params: 0, train_img_per_s: 0, wall_s: (Date.now() - started) / 1000 }),
        status: e instanceof DivergedError ? 'diverged' : 'failed',
        activation_sites: { mode: config.activation.sites, replaced: trainer ? countActivationSites(trainer.model) : 0, total: trainer ? countAllSites(trainer.model) : 0 },
        error: e instanceof Error ? e.message : String(e),
      };
      try {
        run.writeSummary(summary);
      } catch (w) {
        log.error({ err: (w as Error).message }, 'could not write summary.json');
      }
    }
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'training stopped');
    throw e;
  } finally {
    signals.dispose();
    await log.close();
    lock.release();
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
    ['best', s.best ? `epoch ${s.best.epoch} (chosen on ${s.best.split}: top-1 ${f(s.best.top1)} %), test top-1 ${f(s.best.test_top1 ?? undefined)} %` : 'n/a'],
    ['parameters', `${s.params.toLocaleString('en-US')} (activation: ${s.act_params})`],
    ['backend', `${s.backend.name} (${s.backend.reason})`],
    ['throughput', `${Math.round(s.train_img_per_s)} train img/s`],
    ['wall time', `${(s.wall_s / 60).toFixed(1)} min`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}
