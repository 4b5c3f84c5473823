import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { stringifyConfig } from '../config/format.js';
import { fallbackWarning, selectBackend, type BackendChoice, type ConcreteBackend } from '../backends/select.js';
import type { Config } from '../config/schema.js';
import { distEnvFrom, type DistEnv } from '../distributed/env.js';
import { launchLocal, withoutOptions } from '../distributed/launch.js';
import { DataParallel } from '../train/data-parallel.js';
import { loadDataset } from '../data/load.js';
import { countActivationSites, countAllSites } from '../models/sites.js';
import type { Lock } from '../run/lock.js';
import type { Summary } from '../run/records.js';
import { createRunDir, defaultRunName, openRunDir, type RunDir } from '../run/run-dir.js';
import { DivergedError, progressSummary, Trainer } from '../train/trainer.js';
import { BackendError, ExitCode, UserError } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { createProgress } from '../util/progress.js';
import { gitCommit, registryChecks, versions } from './common.js';
import type { TrainCliOptions } from './main.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { disposeModel } from '../models/infer.js';
import { processTensorPeakBytes, rssPeakBytes } from '../backends/memory.js';

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

/**
 * Rank > 0 of a data-parallel run: the same config as rank 0 (the same files and flags), then, once
 * the group is joined, the run directory rank 0 opened. It writes only its own log there.
 */
function followerConfig(opts: TrainCliOptions): ReturnType<typeof loadConfig> {
  if (opts.resume) return loadConfig(openRunDir(resolve(opts.resume)).path('config'), flagSets({ ...opts, set: [] }), { extraChecks: registryChecks });
  return loadConfig(opts.config ?? null, flagSets(opts), { extraChecks: registryChecks });
}

/** The torch backend on this rank's device, and the process group (data-parallel runs need the torch backend: c10d lives in its addon). */
async function joinGroup(env: DistEnv, config: Config): Promise<{ backend: BackendChoice; dp: DataParallel }> {
  if (config.backend !== 'auto' && config.backend !== 'torch') {
    throw new BackendError(`a data-parallel run (${env.launcher}, ${env.worldSize} ranks) needs the torch backend: its collectives are in the native addon; backend is '${config.backend}'`);
  }
  const backend = await selectBackend('torch', { threads: config.threads, device: config.device, cudaIndex: env.localRank });
  const device = backend.detail.device === 'cuda' ? 'cuda' : 'cpu';
  const dp = DataParallel.join(env, config.dist, { device, syncBatchNorm: config.train.sync_bn });
  return { backend, dp };
}

/** `pwlu train --nproc N`: checks the config once, then starts the N ranks of one data-parallel run and returns the run's exit code. */
async function launchRanks(opts: TrainCliOptions): Promise<number> {
  if (distEnvFrom(process.env)) throw new UserError(`--nproc ${opts.nproc} inside a launcher's rank (WORLD_SIZE or SLURM_NTASKS is set): let the launcher start the ranks, or drop --nproc`);
  const loaded = opts.resume ? followerConfig(opts) : loadConfig(opts.config ?? null, flagSets(opts), { extraChecks: registryChecks });
  const argv = withoutOptions(process.argv.slice(2), [{ long: '--nproc' }, { long: '--threads', short: '-t' }]);
  return launchLocal({ nproc: opts.nproc!, args: argv, threads: loaded.config.threads });
}

/** `pwlu train`: config → run directory → backend → data → training loop → summary (on every rank of a data-parallel run). */
export async function trainCommand(opts: TrainCliOptions): Promise<void> {
  if (opts.nproc !== undefined && opts.nproc > 1) {
    process.exitCode = await launchRanks(opts);
    return;
  }
  const env = distEnvFrom(process.env);
  const main = !env || env.rank === 0;
  // Rank 0 (or the only process) creates or locks the run directory before anyone joins: a refusal
  // (an --out in use) stops it there, and the launcher stops the other ranks.
  const opened = main ? openRun(opts) : { run: null, lock: null, loaded: followerConfig(opts) };
  if (!opened) return;
  const { lock, loaded } = opened;
  const config = loaded.config;
  let joined: { backend: BackendChoice; dp: DataParallel } | null = null;
  let run: RunDir;
  if (env) {
    try {
      joined = await joinGroup(env, config);
      const dir = joined.dp.broadcastString(opened.run?.dir ?? null);
      if (dir === null) throw new BackendError('rank 0 did not open a run directory');
      run = opened.run ?? openRunDir(dir);
    } catch (e) {
      // Nothing trained: leave the run directory unlocked for the next attempt.
      joined?.dp.leave();
      lock?.release();
      throw e;
    }
  } else {
    run = opened.run!;
  }
  const dp = joined?.dp;
  const log = createLogger({ file: run.logPath(env?.rank ?? 0), level: opts.quiet || !main ? 'warn' : 'info' });
  for (const w of main ? loaded.warnings : []) log.warn(w);
  const signals = stopOnSignals();
  const started = Date.now();
  let trainer: Trainer | null = null;
  let base: Pick<Summary, 'arch' | 'activation' | 'dataset' | 'seed' | 'epochs' | 'img_size' | 'backend' | 'versions' | 'git_commit' | 'config_hash' | 'distributed'> | null = null;
  try {
    log.info({ run: run.dir, config: loaded.file, config_hash: loaded.hash, resume: Boolean(opts.resume), ...(env ? { rank: env.rank, world_size: env.worldSize, launcher: env.launcher } : {}) }, 'run directory');
    const backend = joined?.backend ?? (await selectBackend(config.backend as 'auto' | ConcreteBackend, { threads: config.threads, device: config.device }));
    log.info({ backend: backend.name, reason: backend.reason, ...backend.detail, skipped: backend.skipped.map((s) => `${s.name}: ${s.reason}`) }, `backend ${backend.name}`);
    const fallback = fallbackWarning(backend);
    if (fallback && main) log.warn(fallback);
    if (dp) log.info({ world_size: dp.worldSize, rank: dp.rank, collectives: dp.backend, global_batch: config.train.batch * dp.worldSize, sync_bn: config.train.sync_bn }, `data-parallel over ${dp.worldSize} ranks (${dp.backend})`);
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
      ...(dp ? { distributed: { world_size: dp.worldSize, backend: dp.backend, launcher: dp.env.launcher, per_rank_batch: config.train.batch, global_batch: config.train.batch * dp.worldSize, sync_bn: config.train.sync_bn } } : {}),
    };
    trainer = new Trainer({
      config,
      configHash: loaded.hash,
      run,
      log,
      progress: createProgress(main && !opts.quiet && process.stderr.isTTY === true),
      dataset,
      val,
      resume: Boolean(opts.resume),
      shouldStop: signals.stopped,
      dp,
    });
    const outcome = await trainer.run();
    const summary: Summary = {
      ...base,
      ...progressSummary(outcome, run),
      memory: { peak_tensor_bytes: processTensorPeakBytes(String(backend.detail.device ?? 'cpu')), peak_rss_bytes: rssPeakBytes() },
      status: outcome.status,
      activation_sites: { mode: config.activation.sites, replaced: countActivationSites(outcome.model), total: countAllSites(outcome.model) },
    };
    if (main) run.writeSummary(summary);
    disposeModel(outcome.model);
    if (!main) {
      // Only rank 0 reports; the others end quietly with its exit status.
      if (outcome.status === 'interrupted') process.exitCode = ExitCode.interrupted;
      return;
    }
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stdout.write(textSummary(summary, run.dir));
    if (outcome.status === 'interrupted') process.exitCode = ExitCode.interrupted;
  } catch (e) {
    // A run that stops on an error still says how far it got and why (the last good checkpoint stays).
    const progress = e instanceof DivergedError ? (e.progress ?? null) : (trainer?.progress() ?? null);
    if (base && main) {
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
    dp?.leave();
    await log.close();
    lock?.release();
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
    ...(s.distributed ? [['data-parallel', `${s.distributed.world_size} ranks (${s.distributed.backend}, ${s.distributed.launcher}), global batch ${s.distributed.global_batch}${s.distributed.sync_bn ? ', sync BN' : ''}`]] : []),
    ['throughput', `${Math.round(s.train_img_per_s)} train img/s`],
    ['wall time', `${(s.wall_s / 60).toFixed(1)} min`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n`;
}
