import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { selectBackend, type ConcreteBackend } from '../backends/select.js';
import { loadDataset } from '../data/load.js';
import { readCheckpoint } from '../run/checkpoint.js';
import { openRunDir } from '../run/run-dir.js';
import { loadModelTensors } from '../train/state.js';
import { buildModel, evaluate } from '../train/step.js';
import { UserError } from '../util/errors.js';
import { printConfigWarnings, registryChecks } from './common.js';
import type { EvalCliOptions } from './main.js';
import { PROJECT_ROOT } from '../util/paths.js';
import { disposeModel } from '../models/infer.js';

/** `pwlu eval`: rebuilds a run's model from its saved config, loads a checkpoint, scores the test split. */
export async function evalCommand(opts: EvalCliOptions): Promise<void> {
  const run = openRunDir(resolve(opts.run));
  const sets = opts.backend ? [`backend=${opts.backend}`] : [];
  const { config, warnings } = loadConfig(run.path('config'), sets, { extraChecks: registryChecks });
  printConfigWarnings('eval', warnings);
  const file = opts.checkpoint === 'best' ? 'best' : 'last';
  if (!run.has(file)) throw new UserError(`${run.dir} has no ${opts.checkpoint} checkpoint yet (no epoch has finished)`);
  const backend = await selectBackend(config.backend as 'auto' | ConcreteBackend, { threads: config.threads, device: config.device });
  const { dataset } = await loadDataset({ ...config.data, val_split: 0, train_subset: null }, { projectRoot: PROJECT_ROOT, seed: config.seed });
  const model = buildModel(config, dataset);
  const ckpt = readCheckpoint<{ epoch: number }>(run.path(file));
  loadModelTensors(model, ckpt.tensors.filter((t) => !t.name.startsWith('opt:')), run.path(file));
  const r = await evaluate(model, dataset.test, dataset, config.train.eval_batch ?? config.train.batch * 2);
  disposeModel(model);
  const result = { run: run.dir, checkpoint: opts.checkpoint, epoch: ckpt.meta.epoch, dataset: dataset.name, n: r.n, top1: r.top1, top5: r.top5, loss: r.loss, backend: backend.name };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${opts.checkpoint} checkpoint (epoch ${result.epoch}) on ${result.dataset} test (${r.n} images): top-1 ${r.top1.toFixed(2)} %  top-5 ${r.top5.toFixed(2)} %  loss ${r.loss.toFixed(4)}  [${backend.name}]\n`);
}
