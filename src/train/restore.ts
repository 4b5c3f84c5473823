/** A finished (or stopped) run's model rebuilt from its saved config and one of its checkpoints. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend, type BackendChoice } from '../backends/select.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { loadDataset } from '../data/load.js';
import type { Dataset } from '../data/types.js';
import type { ConfigIssue } from '../config/load.js';
import type { RunDir } from '../run/run-dir.js';
import { UserError } from '../util/errors.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { readTrainCheckpoint } from './checkpoint-contents.js';
import { loadModelTensors } from './state.js';
import { buildModel } from './step.js';
import type { DetectionDataset } from '../data/coco/dataset.js';
import { buildDetectorModel, openDetectionData } from './detection/task.js';

/** What `pwlu eval` and `pwlu export` start from, whichever the run's task. */
interface RestoredBase {
  config: Config;
  /** The config's hash, as summary.json records it. */
  configHash: string;
  warnings: string[];
  model: tfl.LayersModel;
  /** The checkpoint loaded: the one asked for, except `best` of a run that selects nothing (see restoreRun). */
  checkpoint: 'best' | 'last';
  /** Why another checkpoint than the one asked for was loaded, for the command to say; null when none. */
  note: string | null;
  /** The epoch the checkpoint was written at. */
  epoch: number;
  backend: BackendChoice;
}

/** A classification run restored, with its dataset (test split = the whole test set). */
export interface RestoredRun extends RestoredBase {
  task: 'classification';
  dataset: Dataset;
}

/** A detection run restored, with its COCO-format dataset. */
export interface RestoredDetectionRun extends RestoredBase {
  task: 'detection';
  dataset: DetectionDataset;
}

/**
 * Which checkpoint `best` means for this run. A run without a validation split selects nothing (its
 * result is the last epoch) and has no best checkpoint, so `best` loads `last` and says so; runs
 * written before that rule keep their best checkpoint (chosen on test) and load it as before.
 */
function resolveCheckpoint(run: RunDir, config: Config, asked: 'best' | 'last'): { file: 'best' | 'last'; note: string | null } {
  if (asked === 'best' && !run.has('best') && run.has('last') && config.data.val_split === 0) {
    return {
      file: 'last',
      note: `${run.dir} holds out no validation split, so nothing was selected: loading the last checkpoint (the epoch summary.json reports)`,
    };
  }
  if (!run.has(asked)) throw new UserError(`${run.dir} has no ${asked} checkpoint yet (no epoch has finished)`);
  return { file: asked, note: null };
}

/**
 * Rebuilds the model of a run from its config.yaml (with `sets` applied, e.g. a backend) on the config's
 * backend and loads the checkpoint's weights (optimizer state left out). The dataset is opened for its shapes,
 * classes and normalisation, with no validation split, so its test split is the whole test set.
 */
export async function restoreRun(
  run: RunDir,
  checkpoint: 'best' | 'last',
  opts: { sets?: string[]; extraChecks?: (c: Config) => ConfigIssue[] } = {},
): Promise<RestoredRun | RestoredDetectionRun> {
  const { config, hash, warnings } = loadConfig(run.path('config'), opts.sets ?? [], { extraChecks: opts.extraChecks });
  const { file, note } = resolveCheckpoint(run, config, checkpoint);
  const backend = await selectBackend(config.backend, { threads: config.threads, device: config.device });
  const ckpt = readTrainCheckpoint(run.path(file));
  const base = { config, configHash: hash, warnings, checkpoint: file, note, epoch: ckpt.meta.epoch, backend };
  if (config.task === 'detection') {
    const dataset = await openDetectionData(config, { projectRoot: PROJECT_ROOT, threads: config.threads });
    const model = buildDetectorModel(config, dataset.numClasses);
    loadModelTensors(model, ckpt.weights, run.path(file));
    return { ...base, task: 'detection', dataset, model };
  }
  const { dataset } = await loadDataset({ ...config.data, val_split: 0, train_subset: null }, { projectRoot: PROJECT_ROOT, seed: config.seed });
  const model = buildModel(config, dataset);
  loadModelTensors(model, ckpt.weights, run.path(file));
  return { ...base, task: 'classification', dataset, model };
}
