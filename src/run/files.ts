/**
 * The names of every file pwlu keeps in a run directory or a bench folder, defined once: every
 * command reads and writes them through src/run/, never by spelling a name itself.
 */

/** The files of one run directory. */
export const RUN_FILES = {
  config: 'config.yaml',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  log: 'train.log',
  last: 'checkpoint-last.ckpt',
  best: 'checkpoint-best.ckpt',
  /** Learned activation parameters and shapes, rewritten at every epoch end. */
  activations: 'activations.json',
  /** Held while a process trains in the directory (pid and host inside). */
  lock: 'run.lock',
  /** Left by `pwlu bench` in a cell whose process failed: the command and its stderr tail. */
  benchError: 'bench-error.txt',
  /** `pwlu export`'s default destination: one folder per format and checkpoint inside it. */
  exports: 'exports',
} as const;

/** `pwlu eval`'s detections of a detection run's test split, in COCO's results format, one file per checkpoint. */
export function detectionsFile(checkpoint: 'best' | 'last'): string {
  return `detections-${checkpoint}.json`;
}

/** The log of rank `rank` > 0 of a data-parallel run (rank 0 writes train.log). */
export function rankLogFile(rank: number): string {
  return `train.rank${rank}.log`;
}

/** A file of a run directory, by role. */
export type RunFile = keyof typeof RUN_FILES;

/** The files of a bench folder (its cells are run directories under `cells/`). */
export const BENCH_FILES = {
  manifest: 'bench.json',
  lock: 'bench.lock',
  /** A copy of the base config the cells were started from. */
  snapshot: 'base-config.yaml',
  cells: 'cells',
  /** `pwlu bench --emit slurm`'s job script. */
  slurmScript: 'bench.sbatch',
  /** The Slurm tasks' stdout and each cell's stderr. */
  slurmLogs: 'slurm',
} as const;

/** A bench-error.txt set aside before a resume: `bench-error.prev-<n>.txt` (n may be a shell variable in the Slurm script). */
export function archivedBenchError(n: number | string): string {
  return `bench-error.prev-${n}.txt`;
}

/** Moved-aside attempts of a bench cell: `<cell>.failed-<n>`; never counted as results. */
export const SUPERSEDED_RE = /\.failed-\d+$/;

/** The prefix of the names a dead attempt of cell `name` is moved aside to (`<name>.failed-<n>`). */
export function supersededPrefix(name: string): string {
  return `${name}.failed-`;
}
