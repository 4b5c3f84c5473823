/**
 * Option builders and parsers that several commands' `register` functions share. Light on purpose:
 * `pwlu --help` loads every command's registration, and nothing here may pull in tfjs.
 */
import { Option } from 'commander';
import { BACKENDS, DEVICES } from '../backends/names.js';
import { UserError } from '../util/errors.js';

/** Repeatable options accumulate; their default is an empty list, not shown in --help. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses a count flag, so that a typo is a usage error naming the flag rather than a NaN deep in the run. */
export function parseIntArg(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`${flag} must be a non-negative integer (got '${v}')`);
  return n;
}

/** Parses a positive real flag (a width multiplier), so that a typo is a usage error naming the flag. */
export function parseFloatArg(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UserError(`${flag} must be a positive number (got '${v}')`);
  return n;
}

/** The torch backend's device, the same choice for every command that computes. */
export function deviceOption(): Option {
  return new Option('--device <device>', 'torch backend device (default: auto = CUDA when available)').choices(DEVICES);
}

/** The --backend option every command shares; its choices come from the one backend list (src/backends/names.ts). */
export function backendOption(): Option {
  return new Option('-b, --backend <name>', `tfjs backend: ${BACKENDS.join(' | ')} (default: the config's backend, "auto" = fastest available)`).choices(
    BACKENDS,
  );
}
