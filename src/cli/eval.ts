/** `pwlu eval`: its options, and a run's checkpoint scored on the test split. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { backendOption } from './options.js';

/** `pwlu eval`'s options as commander parses them. */
export interface EvalCliOptions {
  run: string;
  checkpoint: 'best' | 'last';
  backend?: string;
  json: boolean;
  detections?: string;
}

/** Defines `pwlu eval` and its options on the program, so that main.ts only lists commands; the model code loads only when it runs. */
export function register(program: Command): void {
  program
    .command('eval')
    .description(
      "Evaluate a run's checkpoint on the test split: top-1, top-5 and loss; for a detection run COCO's twelve AP/AR figures, with the detections written in COCO's results format (<run>/detections-<checkpoint>.json).",
    )
    .requiredOption('-r, --run <run_dir>', 'run directory written by pwlu train')
    .addOption(
      new Option('--checkpoint <which>', 'which checkpoint to load (best: the epoch chosen on val; a run without a val split selects nothing and loads last)')
        .choices(['best', 'last'])
        .default('best'),
    )
    .addOption(backendOption())
    .option('--json', 'print the result as JSON', false)
    .option('--detections <file>', 'detection runs: where to write the detections (default <run>/detections-<checkpoint>.json, rewritten from the checkpoint)')
    .action(async (opts: EvalCliOptions) => {
      await evalCommand(opts);
    });
}

/** `pwlu eval`: rebuilds a run's model from its saved config, loads a checkpoint, scores the test split. */
export async function evalCommand(opts: EvalCliOptions): Promise<void> {
  const { openRunDir } = await import('../run/run-dir.js');
  const { restoreRun } = await import('../train/restore.js');
  const { evalBatchSize, evaluate } = await import('../train/step.js');
  const { disposeModel } = await import('../models/infer.js');
  const { registryChecks } = await import('../train/registry-checks.js');
  const { printConfigWarnings } = await import('./common.js');
  const run = openRunDir(resolve(opts.run));
  const sets = opts.backend ? [`backend=${opts.backend}`] : [];
  const restored = await restoreRun(run, opts.checkpoint, { sets, extraChecks: registryChecks });
  const { config, warnings, model, checkpoint, epoch, backend } = restored;
  printConfigWarnings('eval', warnings);
  if (restored.note) process.stderr.write(`pwlu eval: ${restored.note}\n`);
  if (restored.task === 'detection') {
    try {
      const { evaluateDetectionCommand } = await import('./eval-detection.js');
      await evaluateDetectionCommand(restored, run, opts);
    } finally {
      disposeModel(model);
    }
    return;
  }
  const dataset = restored.dataset;
  const r = await evaluate(model, dataset.test, dataset, evalBatchSize(config.train));
  disposeModel(model);
  const result = { run: run.dir, checkpoint, epoch, dataset: dataset.name, n: r.n, top1: r.top1, top5: r.top5, loss: r.loss, backend: backend.name };
  if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      `${checkpoint} checkpoint (epoch ${result.epoch}) on ${result.dataset} test (${r.n} images): top-1 ${r.top1.toFixed(2)} %  top-5 ${r.top5.toFixed(2)} %  loss ${r.loss.toFixed(4)}  [${backend.name}]\n`,
    );
}
