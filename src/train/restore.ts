/** A finished (or stopped) run's model rebuilt from its saved config and one of its checkpoints. */
import type * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend, type ConcreteBackend, type BackendChoice } from '../backends/select.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { loadDataset } from '../data/load.js';
import type { Dataset } from '../data/types.js';
import type { ConfigIssue } from '../config/load.js';
import { readCheckpoint } from '../run/checkpoint.js';
import type { RunDir } from '../run/run-dir.js';
import { UserError } from '../util/errors.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { loadModelTensors } from './state.js';
import { buildModel } from './step.js';

/** What `pwlu eval` and `pwlu export` start from. */
export interface RestoredRun {
  config: Config;
  /** The config's hash, as summary.json records it. */
  configHash: string;
  warnings: string[];
  dataset: Dataset;
  model: tfl.LayersModel;
  /** The epoch the checkpoint was written at. */
  epoch: number;
  backend: BackendChoice;
}

/**
 * Rebuilds the model of a run from its config.yaml (with `sets` applied, e.g. a backend) on the config's
 * backend and loads the checkpoint's weights (optimizer state left out). The dataset is opened for its shapes,
 * classes and normalisation, with no validation split, so its test split is the whole test set.
 */
export async function restoreRun(run: RunDir, checkpoint: 'best' | 'last', opts: { sets?: string[]; extraChecks?: (c: Config) => ConfigIssue[] } = {}): Promise<RestoredRun> {
  const { config, hash, warnings } = loadConfig(run.path('config'), opts.sets ?? [], { extraChecks: opts.extraChecks });
  if (!run.has(checkpoint)) throw new UserError(`${run.dir} has no ${checkpoint} checkpoint yet (no epoch has finished)`);
  const backend = await selectBackend(config.backend as 'auto' | ConcreteBackend, { threads: config.threads, device: config.device });
  const { dataset } = await loadDataset({ ...config.data, val_split: 0, train_subset: null }, { projectRoot: PROJECT_ROOT, seed: config.seed });
  const model = buildModel(config, dataset);
  const ckpt = readCheckpoint<{ epoch: number }>(run.path(checkpoint));
  loadModelTensors(model, ckpt.tensors.filter((t) => !t.name.startsWith('opt:')), run.path(checkpoint));
  return { config, configHash: hash, warnings, dataset, model, epoch: ckpt.meta.epoch, backend };
}
