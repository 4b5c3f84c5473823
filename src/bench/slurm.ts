/**
 * `pwlu bench --emit slurm`: the same grid as a Slurm job array, one array task per cell, writing the
 * same `cells/<name>` layout that `pwlu bench` and `pwlu report` use. Each task asks `pwlu bench --cell`
 * what its cell needs (the same rules as the local runner): finished → skip, checkpoint → resume, dead
 * attempt → move aside and start again, trained elsewhere → leave alone.
 */
import type { Cell } from './grid.js';
import { BENCH_FILES, RUN_FILES } from '../run/files.js';
import { CELL_EXIT } from './cells.js';
import { ExitCode } from '../util/errors.js';

/** What the script needs. Paths must be absolute and visible from the compute nodes (a shared filesystem). */
export interface SlurmSpec {
  out: string;
  /** The base config snapshot inside `out`. */
  config: string;
  /** The pwlu launcher (bin/pwlu.js) to run with node unless $PWLU overrides it. */
  bin: string;
  cells: Cell[];
  /** Cell-specific `--set` entries. */
  cellSets: (cell: Cell) => string[];
  /** The user's `--set` entries, for every cell. */
  sets: string[];
  backend: string | null;
  /** At most this many tasks at once (`--array=…%J`), or null. */
  throttle: number | null;
  /** Extra `#SBATCH` options, e.g. `--partition=gpu`, `--time=24:00:00`. */
  sbatch: string[];
  /** Ranks of each cell's data-parallel run (srun inside the array task); 1 = a single process. */
  tasksPerCell: number;
  /** GPUs per cell, one per rank (`--gpus-per-task=1`); 0 = CPU cells. */
  gpusPerCell: number;
}

/** Quotes one word for bash (single quotes; a quote inside becomes '\''). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The sbatch script text. */
export function renderSlurmScript(spec: SlurmSpec): string {
  const n = spec.cells.length;
  const q = shellQuote;
  const has = (opt: string) => spec.sbatch.some((s) => s.replace(/^--?/, '').startsWith(opt));
  const directives = [
    '--job-name=pwlu-bench',
    `--array=0-${n - 1}${spec.throttle ? `%${spec.throttle}` : ''}`,
    `--output=${spec.out}/${BENCH_FILES.slurmLogs}/%A_%a.out`,
    ...(has('cpus-per-task') || has('c=') ? [] : ['--cpus-per-task=8']),
    // A distributed cell: its ranks are tasks of the array task, each with its own GPU when it has GPUs.
    ...(spec.tasksPerCell > 1 ? [`--ntasks=${spec.tasksPerCell}`] : []),
    ...(spec.gpusPerCell > 0 ? ['--gpus-per-task=1'] : []),
    // Five minutes before the time limit the script gets SIGINT and passes it on: the cell saves a checkpoint.
    '--signal=B:INT@300',
    ...spec.sbatch.map((s) => (s.startsWith('-') ? s : `--${s}`)),
  ];
  const cases = spec.cells
    .map(
      (c, i) =>
        `  ${i}) CELL=${q(c.name)}; CELL_SETS=(${spec
          .cellSets(c)
          .flatMap((s) => ['--set', q(s)])
          .join(' ')}) ;;`,
    )
    .join('\n');
  const backend = spec.backend ? ` --backend ${q(spec.backend)}` : '';
  return `#!/bin/bash
# pwlu bench as a Slurm job array: ${n} cell${n === 1 ? '' : 's'}, one array task each.
#   submit:   sbatch ${spec.out}/${BENCH_FILES.slurmScript}
#   progress: ls ${spec.out}/${BENCH_FILES.cells}; logs in ${spec.out}/${BENCH_FILES.slurmLogs}/
#   report:   pwlu report ${spec.out}
# Re-submitting is safe: finished cells are skipped, cells with a checkpoint resume (--resume), and a
# cell that died before its first checkpoint is moved aside to cells/<name>.failed-<n> and started again.
# Set PWLU to override the command, e.g. PWLU="node /path/to/pwlu/bin/pwlu.js".
${directives.map((d) => `#SBATCH ${d}`).join('\n')}
set -uo pipefail

OUT=${q(spec.out)}
CONFIG=${q(spec.config)}
if [ -n "\${PWLU:-}" ]; then read -r -a PWLU_CMD <<< "$PWLU"; else PWLU_CMD=(node ${q(spec.bin)}); fi
THREADS="\${SLURM_CPUS_PER_TASK:-0}"
${
  spec.tasksPerCell > 1
    ? `# Each cell is one data-parallel run over ${spec.tasksPerCell} ranks: srun starts them, pwlu reads SLURM_PROCID/SLURM_NTASKS and
# rendezvouses on the first node (port from SLURM_JOB_ID); a rank that fails takes the others down.
LAUNCH=(srun --ntasks=${spec.tasksPerCell} --kill-on-bad-exit=1)
STOP=TERM`
    : `LAUNCH=()
STOP=INT`
}
COMMON_SETS=(${spec.sets.flatMap((s) => ['--set', q(s)]).join(' ')})

case "\${SLURM_ARRAY_TASK_ID:?run this script with sbatch (SLURM_ARRAY_TASK_ID is not set)}" in
${cases}
  *) echo "pwlu bench: no cell for array task $SLURM_ARRAY_TASK_ID (0-${n - 1})" >&2; exit 1 ;;
esac

DIR="$OUT/${BENCH_FILES.cells}/$CELL"
mkdir -p "$OUT/${BENCH_FILES.cells}" "$OUT/${BENCH_FILES.slurmLogs}"
# pwlu decides what the cell needs from its directory, by the same rules as pwlu bench (lock, summary,
# checkpoint), and prepares it: a dead attempt is moved aside, a resumed cell's old bench-error.txt set aside.
"\${PWLU_CMD[@]}" bench --out "$OUT" --cell "$CELL"
STATE=$?
case "$STATE" in
  ${CELL_EXIT.done}) echo "pwlu bench: $CELL is done; skipping"; exit 0 ;;
  ${CELL_EXIT.busy}) echo "pwlu bench: $CELL is being trained by another process; leaving it alone"; exit 0 ;;
  ${CELL_EXIT.resume}) MODE=resume
     CMD=("\${LAUNCH[@]}" "\${PWLU_CMD[@]}" train --resume "$DIR" --json --threads "$THREADS"${backend}) ;;
  ${CELL_EXIT.new}) MODE=new
     CMD=("\${LAUNCH[@]}" "\${PWLU_CMD[@]}" train --config "$CONFIG" "\${COMMON_SETS[@]}" "\${CELL_SETS[@]}" --out "$DIR" --json --threads "$THREADS"${backend}) ;;
  *) echo "pwlu bench: could not decide what cell $CELL needs (pwlu bench --cell exited $STATE)" >&2; exit "$STATE" ;;
esac

echo "pwlu bench: $CELL ($MODE): \${CMD[*]}"
ERR="$OUT/${BENCH_FILES.slurmLogs}/$CELL.stderr"
# Job control gives the child its own SIGINT disposition; the trap passes Slurm's signal on to it.
set -m
"\${CMD[@]}" 2> "$ERR" &
CHILD=$!
# srun forwards SIGTERM to every rank (a single SIGINT only makes it print status); pwlu treats both alike.
trap 'kill -"$STOP" "$CHILD" 2>/dev/null' INT TERM
while :; do
  wait "$CHILD"; CODE=$?
  kill -0 "$CHILD" 2>/dev/null || break
done
cat "$ERR" >&2
case "$CODE" in
  0|${ExitCode.diverged}|${ExitCode.interrupted}) ;;
  *) mkdir -p "$DIR"
     { echo "pwlu bench: cell $CELL failed (exit code $CODE) in slurm task \${SLURM_ARRAY_JOB_ID:-?}_\${SLURM_ARRAY_TASK_ID}"
       echo "command: \${CMD[*]}"
       echo "--- last lines of its stderr ---"
       tail -n 60 "$ERR"; } > "$DIR/${RUN_FILES.benchError}" ;;
esac
exit "$CODE"
`;
}

/** What to tell the user after writing the script. */
export function slurmInstructions(scriptPath: string, out: string, n: number): string {
  return [
    `wrote ${scriptPath} (${n} array task${n === 1 ? '' : 's'}, one per cell)`,
    `submit:   sbatch ${scriptPath}`,
    `re-submit the same script after a crash or a time limit: finished cells are skipped, the others resume`,
    `report:   pwlu report ${out}`,
    '',
  ].join('\n');
}
