/** The bench grid: architecture × activation × seed, one `pwlu train` run ("cell") each. */
import { UserError } from '../util/errors.js';

/** One cell of the grid; its run directory is `<out>/cells/<name>`. */
export interface Cell {
  name: string;
  arch: string;
  activation: string;
  seed: number;
}

/** The cell's directory name, e.g. resnet20-pwlu-s0 (what `pwlu report` and the slurm script use too). */
export function cellName(arch: string, activation: string, seed: number): string {
  return `${arch}-${activation}-s${seed}`;
}

/**
 * Expands the grid seed-major (every arch × activation for the first seed, then the next seed), so a
 * bench stopped half-way has complete comparisons for its first seeds rather than all seeds of a few cells.
 */
export function expandGrid(archs: readonly string[], activations: readonly string[], seeds: readonly number[]): Cell[] {
  const cells: Cell[] = [];
  for (const seed of seeds) for (const arch of archs) for (const activation of activations) cells.push({ name: cellName(arch, activation, seed), arch, activation, seed });
  return cells;
}

/** Parses a comma-separated option value ("relu,pwlu") into distinct non-empty names, for --archs and --activations. */
export function parseList(flag: string, value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new UserError(`${flag} needs at least one name (got '${value}')`);
  const bad = items.filter((s) => !/^[A-Za-z0-9_.-]+$/.test(s));
  if (bad.length) throw new UserError(`${flag}: '${bad[0]}' is not a valid name (letters, digits, '_', '.', '-')`);
  return [...new Set(items)];
}

/** Seeds of a bench: `count` consecutive seeds starting at the base config's seed. */
export function seedList(baseSeed: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => baseSeed + i);
}

/**
 * The `--set` entries that turn the base config into one cell. Only `activation.name` changes: every
 * activation's options have their own section, so the base config's (e.g. `activation.pwlu.n`) apply to its cells.
 */
export function cellSets(cell: Cell): string[] {
  return [`model.arch=${cell.arch}`, `activation.name=${cell.activation}`, `seed=${cell.seed}`];
}
