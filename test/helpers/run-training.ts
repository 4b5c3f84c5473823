/** Runs the training loop in-process on a run directory, as `pwlu train` would, for the trainer tests. */
import type { Config } from '../../src/config/schema.js';
import type { Dataset } from '../../src/data/types.js';
import { createRunDir, RunDir } from '../../src/run/run-dir.js';
import { train, type TaskSource, type TrainOutcome } from '../../src/train/trainer.js';
import { createLogger } from '../../src/util/log.js';
import { createProgress } from '../../src/util/progress.js';

/**
 * Trains `cfg` on `ds` into a new run directory `dir`, or resumes the run in `dir`; with `stopAfter`,
 * asks to stop before step stopAfter + 1 (as Ctrl-C would).
 */
export async function runTraining(
  cfg: Config,
  ds: Dataset | TaskSource,
  dir: string,
  opts: { resume?: boolean; stopAfter?: number } = {},
): Promise<{ outcome: TrainOutcome; dir: string }> {
  const run = opts.resume ? new RunDir(dir) : createRunDir(dir).run;
  let steps = 0;
  const outcome = await train({
    config: cfg,
    configHash: 'test',
    run,
    log: createLogger({ quiet: true }),
    progress: createProgress(false),
    ...('task' in ds || 'dataset' in ds ? ds : { dataset: ds, val: null }),
    resume: Boolean(opts.resume),
    shouldStop: () => opts.stopAfter !== undefined && steps++ >= opts.stopAfter,
  });
  return { outcome, dir };
}
