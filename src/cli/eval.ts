import { resolve } from 'node:path';
import { openRunDir } from '../run/run-dir.js';
import { restoreRun } from '../train/restore.js';
import { evaluate } from '../train/step.js';
import { printConfigWarnings, registryChecks } from './common.js';
import type { EvalCliOptions } from './main.js';
import { disposeModel } from '../models/infer.js';

/** `pwlu eval`: rebuilds a run's model from its saved config, loads a checkpoint, scores the test split. */
export async function evalCommand(opts: EvalCliOptions): Promise<void> {
  const run = openRunDir(resolve(opts.run));
  const sets = opts.backend ? [`backend=${opts.backend}`] : [];
  const { config, warnings, dataset, model, epoch, backend } = await restoreRun(run, opts.checkpoint, { sets, extraChecks: registryChecks });
  printConfigWarnings('eval', warnings);
  const r = await evaluate(model, dataset.test, dataset, config.train.eval_batch ?? config.train.batch * 2);
  disposeModel(model);
  const result = { run: run.dir, checkpoint: opts.checkpoint, epoch, dataset: dataset.name, n: r.n, top1: r.top1, top5: r.top5, loss: r.loss, backend: backend.name };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${opts.checkpoint} checkpoint (epoch ${result.epoch}) on ${result.dataset} test (${r.n} images): top-1 ${r.top1.toFixed(2)} %  top-5 ${r.top5.toFixed(2)} %  loss ${r.loss.toFixed(4)}  [${backend.name}]\n`);
}
