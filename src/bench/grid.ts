/** The bench grid: architecture × activation × sweep values × seed, one `pwlu train` run ("cell") each. */
import { UserError } from '../util/errors.js';
import { formatOverride, parseOverride, splitOverride } from '../util/overrides.js';

/** One cell of the grid; its run directory is `<out>/cells/<name>`. */
export interface Cell {
  name: string;
  arch: string;
  activation: string;
  seed: number;
  /** The cell's `--sweep` values, `key=value` config overrides in the order the sweeps were given (absent: none). */
  overrides?: string[];
}

/** One `--sweep KEY=V1,V2,…`: a config key path and its values (YAML, as `--set` takes them). */
export interface Sweep {
  key: string;
  values: string[];
}

/**
 * The cell's directory name, e.g. resnet20-pwlu-s0, or resnet20-pwlu-n16-realignfalse-s0 with sweeps
 * (each override as its key's last part and its value); what `pwlu report` and the slurm script use too.
 */
export function cellName(arch: string, activation: string, seed: number, overrides: readonly string[] = []): string {
  const parts = overrides.flatMap((raw) => {
    const o = splitOverride(raw);
    return o ? [`${o.key.split('.').pop()!}${o.value.replace(/[^A-Za-z0-9.]+/g, '_')}`] : [];
  });
  return [arch, activation, ...parts, `s${seed}`].join('-');
}

/** Parses `--sweep KEY=V1,V2,…` (values comma-separated, at least one; each value a YAML scalar as --set takes it). */
export function parseSweep(spec: string): Sweep {
  const parsed = parseOverride(spec);
  const key = parsed.ok ? parsed.override.key : '';
  if (!parsed.ok || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(key))
    throw new UserError(`--sweep '${spec}': expected KEY=V1,V2,… with a config key path such as activation.pwlu.n`);
  const values = parsed.override.value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  if (values.length === 0) throw new UserError(`--sweep '${spec}': give at least one value`);
  if (new Set(values).size !== values.length) throw new UserError(`--sweep '${spec}': a value is repeated`);
  return { key, values };
}

/** Whether a sweep value is what the base config already has (`key=value`): such a value is no override. */
export type IsBaseValue = (override: string) => boolean;

/**
 * Every combination of the sweeps' values, as override lists in sweep order ([[]] without sweeps). A value
 * equal to the base config's is left out of its combination, so the base config is one cell however many
 * sweeps include its values: `--sweep n=4,16` then `--sweep realign=true,false` into one folder (base n=16,
 * realign=true) runs the base cell once, and the folder grows into a one-factor-at-a-time ablation.
 */
export function sweepCombinations(sweeps: readonly Sweep[], isBase: IsBaseValue = () => false): string[][] {
  const keys = sweeps.map((s) => s.key);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup) throw new UserError(`--sweep ${dup} is given twice; list all its values in one --sweep`);
  return sweeps.reduce<string[][]>(
    (acc, s) =>
      acc.flatMap((combo) =>
        s.values.map((v) => {
          const o = formatOverride(s.key, v);
          return isBase(o) ? combo : [...combo, o];
        }),
      ),
    [[]],
  );
}

/**
 * Expands the grid seed-major (every arch × activation for the first seed, then the next seed), so a
 * bench stopped half-way has complete comparisons for its first seeds rather than all seeds of a few cells.
 */
export function expandGrid(
  archs: readonly string[],
  activations: readonly string[],
  seeds: readonly number[],
  sweeps: readonly Sweep[] = [],
  isBase?: IsBaseValue,
): Cell[] {
  const combos = sweepCombinations(sweeps, isBase);
  const cells: Cell[] = [];
  for (const seed of seeds) {
    for (const arch of archs) {
      for (const activation of activations) {
        for (const overrides of combos) {
          cells.push({ name: cellName(arch, activation, seed, overrides), arch, activation, seed, ...(overrides.length > 0 ? { overrides } : {}) });
        }
      }
    }
  }
  const names = cells.map((c) => c.name);
  const clash = names.find((n, i) => names.indexOf(n) !== i);
  if (clash) throw new UserError(`two sweep cells would share the directory ${clash}: their values differ only in characters a folder name cannot keep`);
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
  return [`model.arch=${cell.arch}`, `activation.name=${cell.activation}`, `seed=${cell.seed}`, ...(cell.overrides ?? [])];
}
