/**
 * One training run from a request to its summary: open (or lock, to resume) the run directory, join
 * the process group of a data-parallel run, select the backend, load the data, build the trainer, run
 * it, and write summary.json through one `buildSummary` whatever the ending (finished, interrupted,
 * diverged, failed). `pwlu train` only turns flags into a request and prints the result.
 *
 * A new run directory that this invocation created is removed again when the run fails before
 * training begins (no data, a bad model setting): a failed attempt leaves no empty `results/<run>/`.
 */
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { fallbackWarning, selectBackend, type BackendChoice } from '../backends/select.js';
import { processTensorPeakBytes, rssPeakBytes } from '../backends/memory.js';
import { stringifyConfig } from '../config/format.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { loadDataset } from '../data/load.js';
import { distEnvFrom, type DistEnv } from '../distributed/env.js';
import { disposeModel } from '../models/infer.js';
import { countActivationSites, countAllSites } from '../models/sites.js';
import { RUN_FILES } from '../run/files.js';
import type { Lock } from '../run/lock.js';
import type { BestRecord, Summary, SummaryStatus } from '../run/records.js';
import { createRunDir, defaultRunName, openRunDir, type RunDir } from '../run/run-dir.js';
import { BackendError } from '../util/errors.js';
import { createLogger, type Logger } from '../util/log.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { createProgress } from '../util/progress.js';
import { codeVersion, versions } from '../util/provenance.js';
import { resultsDir } from '../util/workspace.js';
import type { TrainPosition } from './checkpoint-contents.js';
import { joinDataParallel, type DataParallel } from './data-parallel.js';
import { registryChecks } from './registry-checks.js';
import { DivergedError, Trainer, type TrainProgress } from './trainer.js';
import { classificationTask } from './classification.js';
import { detectionTask, openDetectionData } from './detection/task.js';
import { opaqueTask, type TrainTask } from './task.js';
import { initFromFile } from './init.js';
import type { Config } from '../config/schema.js';

/** What to train: a new run from a config, or an existing run to continue. */
export interface TrainingRequest {
  /** A new run's config file (absent: the schema defaults). */
  config?: string;
  /** A new run's KEY=VALUE overrides, applied after the file. */
  sets: string[];
  /** Machine settings (backend, threads, device) as KEY=VALUE: applied to a new run and to a resumed one alike. */
  machineSets: string[];
  /** A new run's directory (absent: results/<arch>-<activation>-<dataset>-s<seed>-<time>). */
  out?: string;
  /** The run directory to continue from its last checkpoint (with its own saved config). */
  resume?: string;
  /** Log only warnings on stderr (the run log keeps everything). */
  quiet: boolean;
  /** Show a progress bar on stderr (rank 0 only). */
  progressBar: boolean;
  /** Polled between steps; when it returns true a checkpoint is written and training stops (interrupted). */
  shouldStop?: () => boolean;
}

/** How a session ended without an error. */
export type TrainingResult =
  /** `resume` named a run that has finished already: nothing was done. */
  | { kind: 'already-finished'; dir: string; summary: Partial<Summary> }
  /** Training ran (to the end, or until stopped); `reports` is false on ranks > 0, which print nothing. */
  | { kind: 'trained'; dir: string; summary: Summary; reports: boolean };

/** The summary fields fixed before training: what runs, on what, from which code. */
export type SummaryBase = Pick<
  Summary,
  | 'arch'
  | 'activation'
  | 'dataset'
  | 'seed'
  | 'epochs'
  | 'img_size'
  | 'backend'
  | 'versions'
  | 'git_commit'
  | 'git_dirty'
  | 'config_hash'
  | 'distributed'
  | 'task'
>;

/** How a run ended, with what it achieved, for buildSummary. */
export interface RunEnding {
  status: SummaryStatus;
  progress: TrainProgress;
  /** The trained model, for its activation sites. */
  model: tfl.LayersModel;
  /** The error that stopped it (diverged, failed). */
  error?: string;
}

/** Loads the config's data and builds its task (classification or detection); the image size is what the summary records. */
async function buildTask(config: Config, log: Logger): Promise<{ task: TrainTask; imgSize: number }> {
  const info = (m: string) => log.info(m);
  if (config.task === 'detection') {
    const ds = await openDetectionData(config, { projectRoot: PROJECT_ROOT, threads: config.threads, log: info });
    log.info({ dataset: ds.name, train: ds.train.n, test: ds.test.n, val: ds.val?.n ?? 0, classes: ds.numClasses, from: ds.source }, 'data');
    return { task: opaqueTask(detectionTask(config, ds)), imgSize: config.detection.min_size };
  }
  const { dataset, val, location } = await loadDataset(config.data, { projectRoot: PROJECT_ROOT, seed: config.seed, log: info });
  log.info({ dataset: dataset.name, train: dataset.train.n, test: dataset.test.n, val: val?.n ?? 0, from: location }, 'data');
  return { task: opaqueTask(classificationTask(config, dataset, val)), imgSize: dataset.height };
}

/**
 * Starts the model from model.init's file: a detector takes its backbone (FPN and heads keep their init), a
 * classifier every weight but those model.init_exclude names. A relative path is taken from the working directory.
 */
function initModel(model: tfl.LayersModel, config: Config, log: Logger): void {
  const exclude = [...(config.task === 'detection' ? [/^(fpn|head)\./] : []), ...config.model.init_exclude.map((e) => new RegExp(e))];
  const r = initFromFile(model, resolve(config.model.init!), { exclude, log });
  log.info({ file: r.file, format: r.format, loaded: r.loaded, unused_in_file: r.skippedSource.length, kept_init: r.missingTarget.length }, 'model.init');
}

/** Whether batch-norm statistics span every rank: train.sync_bn, or a detector whose backbone BN is `sync`. */
function syncBatchNorm(config: Config): boolean {
  return config.train.sync_bn || (config.task === 'detection' && config.detection.backbone_bn === 'sync');
}

/** Loads the request's config: the new run's file and overrides, or the saved config of the run to resume (only machine settings may differ on resume: another machine does not change a result's meaning). */
export function loadTrainingConfig(req: TrainingRequest): LoadedConfig {
  if (req.resume) return loadConfig(openRunDir(resolve(req.resume)).path('config'), req.machineSets, { extraChecks: registryChecks });
  return loadConfig(req.config ?? null, [...req.sets, ...req.machineSets], { extraChecks: registryChecks });
}

/** The run directory a session works in, locked, and whether this invocation created it (so only then may a failure remove it). */
interface OpenedRun {
  run: RunDir;
  lock: Lock;
  loaded: LoadedConfig;
  created: boolean;
}

/** Opens the run directory, locked: a new one from the config, or the one to resume; null when that run has finished already. */
function openRun(req: TrainingRequest): OpenedRun | { finished: RunDir; summary: Partial<Summary> } {
  if (req.resume) {
    const run = openRunDir(resolve(req.resume));
    const done = run.readSummary();
    if (done?.status === 'finished') return { finished: run, summary: done };
    const loaded = loadTrainingConfig(req);
    return { run, lock: run.lock('pwlu train --resume'), loaded, created: false };
  }
  const loaded = loadTrainingConfig(req);
  const c = loaded.config;
  const dir = req.out ? resolve(req.out) : join(resultsDir(), c.name ?? defaultRunName([c.model.arch, c.activation.name, c.data.name, `s${c.seed}`]));
  const existed = existsSync(dir);
  const { run, lock } = createRunDir(dir);
  run.writeConfig(stringifyConfig(c));
  return { run, lock, loaded, created: !existed };
}

/** The summary's fixed part, once the backend and the data are known. */
function summaryBase(loaded: LoadedConfig, backend: BackendChoice, imgSize: number, dp: DataParallel | undefined): SummaryBase {
  const config = loaded.config;
  const code = codeVersion();
  return {
    ...(config.task === 'detection' ? { task: 'detection' as const } : {}),
    arch: config.model.arch,
    activation: config.activation.name,
    dataset: config.data.name,
    seed: config.seed,
    epochs: config.train.epochs,
    img_size: imgSize,
    backend: { name: backend.name, reason: backend.reason, detail: backend.detail },
    versions: versions(backend.detail),
    git_commit: code.commit,
    git_dirty: code.dirty,
    config_hash: loaded.hash,
    ...(dp
      ? {
          distributed: {
            world_size: dp.worldSize,
            backend: dp.backend,
            launcher: dp.env.launcher,
            per_rank_batch: config.train.batch,
            global_batch: config.train.batch * dp.worldSize,
            sync_bn: syncBatchNorm(config),
          },
        }
      : {}),
  };
}

/** A checkpoint's best epoch as summary.json records it: positions saved before selection on val recorded only top1 and epoch, chosen on test. */
function bestRecord(best: TrainPosition['best']): BestRecord | null {
  if (best === null) return null;
  if ('split' in best) return best;
  return { ...best, split: 'test', test_top1: best.top1, test_top5: null };
}

/**
 * summary.json for every ending of a run (finished, interrupted, diverged, failed), so that a run that
 * stops says exactly what a finished one would about how far it got; `best` is the epoch chosen on val,
 * null when the run selects nothing, and a checkpoint meta from before val selection reads as chosen on test.
 */
export function buildSummary(base: SummaryBase, end: RunEnding, run: RunDir, mode: Summary['activation_sites']['mode']): Summary {
  const p = end.progress;
  const epochs = run.readMetrics().epochs;
  const m = p.lastMetrics ?? epochs.at(-1) ?? null;
  const skipped = epochs.some((e) => e.skipped_images !== undefined) ? epochs.reduce((n, e) => n + (e.skipped_images ?? 0), 0) : null;
  return {
    ...base,
    status: end.status,
    epochs_completed: p.position.epoch,
    final: m && m.test_top1 !== null ? { top1: m.test_top1, top5: m.test_top5 ?? NaN, loss: m.test_loss ?? NaN } : null,
    ...(base.task === 'detection' ? { task: base.task, final_coco: epochs.findLast((e) => e.test_coco)?.test_coco ?? null } : {}),
    selection: p.selection,
    best: p.selection === 'none' ? null : bestRecord(p.position.best),
    params: p.params,
    act_params: p.actParams,
    wall_s: p.wallSeconds,
    train_img_per_s: p.trainImgPerS,
    ...(skipped !== null ? { skipped_images: skipped } : {}),
    memory: { peak_tensor_bytes: processTensorPeakBytes(String(base.backend.detail.device ?? 'cpu')), peak_rss_bytes: rssPeakBytes() },
    activation_sites: { mode, replaced: countActivationSites(end.model), total: countAllSites(end.model) },
    ...(end.error !== undefined ? { error: end.error } : {}),
  };
}

/**
 * Removes a run directory this invocation created when nothing was trained in it: only when it holds
 * nothing but the files this invocation wrote (config, log, lock), so that nothing else is ever lost.
 */
function discardUntrainedRun(run: RunDir, log: Logger): boolean {
  const ours = new Set<string>([RUN_FILES.config, RUN_FILES.log, RUN_FILES.lock]);
  let entries: string[];
  try {
    entries = readdirSync(run.dir);
  } catch {
    return false;
  }
  if (entries.some((e) => !ours.has(e))) {
    log.warn({ run: run.dir, files: entries.filter((e) => !ours.has(e)) }, 'the run stopped before training, but its directory holds other files: kept');
    return false;
  }
  log.info({ run: run.dir }, 'the run stopped before training: removing the run directory it created');
  return true;
}

/** Deletes what discardUntrainedRun approved, after the log is closed and the lock released. */
function removeUntrainedRun(run: RunDir): void {
  try {
    for (const f of [RUN_FILES.config, RUN_FILES.log, RUN_FILES.lock]) rmSync(join(run.dir, f), { force: true });
    rmdirSync(run.dir); // fails, and keeps the directory, if anything appeared meanwhile
  } catch (e) {
    process.stderr.write(`pwlu: could not remove the untrained run directory ${run.dir}: ${(e as Error).message}\n`);
  }
}

/** Joins the launcher's process group, then learns the run directory rank 0 opened; on failure nothing stays locked. */
async function joinGroup(env: DistEnv, loaded: LoadedConfig, opened: OpenedRun | null): Promise<{ backend: BackendChoice; dp: DataParallel; run: RunDir }> {
  let joined: { backend: BackendChoice; dp: DataParallel } | null = null;
  try {
    joined = await joinDataParallel(env, loaded.config, { syncBatchNorm: syncBatchNorm(loaded.config), what: 'a data-parallel run' });
    const dir = joined.dp.broadcastString(opened?.run.dir ?? null);
    if (dir === null) throw new BackendError('rank 0 did not open a run directory');
    return { ...joined, run: opened?.run ?? openRunDir(dir) };
  } catch (e) {
    // Nothing trained: leave the run directory unlocked for the next attempt.
    joined?.dp.leave();
    opened?.lock.release();
    throw e;
  }
}

/**
 * Runs one training session (on every rank of a data-parallel run; rank 0, or the only process, owns
 * the run directory and its summary). Errors are thrown after summary.json records how far the run got.
 */
export async function runTraining(req: TrainingRequest): Promise<TrainingResult> {
  const env = distEnvFrom(process.env);
  const main = !env || env.rank === 0;
  // Rank 0 (or the only process) creates or locks the run directory before anyone joins: a refusal
  // (an --out in use) stops it there, and the launcher stops the other ranks.
  const opening = main ? openRun(req) : null;
  if (opening && 'finished' in opening) return { kind: 'already-finished', dir: opening.finished.dir, summary: opening.summary };
  const opened = opening;
  const loaded = opened?.loaded ?? loadTrainingConfig(req);
  const config = loaded.config;
  const joined = env ? await joinGroup(env, loaded, opened) : null;
  const run = joined?.run ?? opened!.run;
  const dp = joined?.dp;
  const log = createLogger({ file: run.logPath(env?.rank ?? 0), level: req.quiet || !main ? 'warn' : 'info' });
  for (const w of main ? loaded.warnings : []) log.warn(w);
  let trainer: Trainer | null = null;
  let base: SummaryBase | null = null;
  let discard = false;
  try {
    log.info(
      {
        run: run.dir,
        config: loaded.file,
        config_hash: loaded.hash,
        resume: Boolean(req.resume),
        ...(env ? { rank: env.rank, world_size: env.worldSize, launcher: env.launcher } : {}),
      },
      'run directory',
    );
    const backend = joined?.backend ?? (await selectBackend(config.backend, { threads: config.threads, device: config.device }));
    log.info(
      { backend: backend.name, reason: backend.reason, ...backend.detail, skipped: backend.skipped.map((s) => `${s.name}: ${s.reason}`) },
      `backend ${backend.name}`,
    );
    const fallback = fallbackWarning(backend);
    if (fallback && main) log.warn(fallback);
    if (dp)
      log.info(
        { world_size: dp.worldSize, rank: dp.rank, collectives: dp.backend, global_batch: config.train.batch * dp.worldSize, sync_bn: syncBatchNorm(config) },
        `data-parallel over ${dp.worldSize} ranks (${dp.backend})`,
      );
    const { task, imgSize } = await buildTask(config, log);
    // A resumed run's weights come from its checkpoint; model.init only starts a new one.
    if (config.model.init && !req.resume) initModel(task.model, config, log);
    base = summaryBase(loaded, backend, imgSize, dp);
    trainer = new Trainer({
      config,
      configHash: loaded.hash,
      run,
      log,
      progress: createProgress(main && req.progressBar),
      task,
      resume: Boolean(req.resume),
      shouldStop: req.shouldStop,
      dp,
    });
    const outcome = await trainer.run();
    const summary = buildSummary(base, { status: outcome.status, progress: outcome, model: outcome.model }, run, config.activation.sites);
    if (main) run.writeSummary(summary);
    return { kind: 'trained', dir: run.dir, summary, reports: main };
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    if (main && base && trainer?.hasBegun) {
      // A run that stops on an error after it began still says how far it got and why (the last good checkpoint stays).
      const progress = e instanceof DivergedError ? (e.progress ?? trainer.progress()) : trainer.progress();
      try {
        run.writeSummary(
          buildSummary(
            base,
            { status: e instanceof DivergedError ? 'diverged' : 'failed', progress, model: trainer.model, error },
            run,
            config.activation.sites,
          ),
        );
      } catch (w) {
        log.error({ err: (w as Error).message }, 'could not write summary.json');
      }
    }
    log.error({ err: error }, 'training stopped');
    // Nothing trained in a directory this invocation created: leave no trace of the attempt but its message.
    discard = main && opened?.created === true && !(trainer?.hasBegun ?? false) && discardUntrainedRun(run, log);
    throw e;
  } finally {
    if (trainer) disposeModel(trainer.model);
    dp?.leave();
    await log.close();
    opened?.lock.release();
    if (discard) removeUntrainedRun(run);
  }
}
