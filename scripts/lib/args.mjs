// The command-line parser of every script in scripts/: node:util's parseArgs (strict: unknown options and
// positionals are errors) plus typed defaults, value checks and a generated --help.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * One option, `--name value` (or a bare `--name` for booleans).
 * @typedef {object} OptionSpec
 * @property {'string' | 'number' | 'list' | 'boolean'} type  'list': comma-separated strings; 'boolean': a flag, false unless given
 * @property {string} help  one line for --help
 * @property {string | number | string[]} [default]  the value when the option is absent (undefined if none)
 * @property {readonly string[]} [choices]  the allowed values (of every element, for a list)
 * @property {string} [value]  the placeholder --help shows (default: N for numbers, LIST for lists, VALUE otherwise)
 */

const PLACEHOLDER = { number: 'N', list: 'LIST', string: 'VALUE' };

/** The --help text: what the script does, then one line per option with its default and choices. */
function helpText(script, description, options) {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = o.type === 'boolean' ? `--${name}` : `--${name} ${o.value ?? PLACEHOLDER[o.type]}`;
    const extra = [o.choices ? `one of ${o.choices.join(', ')}` : '', o.default !== undefined ? `default ${[o.default].flat().join(',')}` : '']
      .filter(Boolean)
      .join('; ');
    return [flag, extra ? `${o.help} (${extra})` : o.help];
  });
  rows.push(['-h, --help', 'print this help and exit']);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return `Usage: node scripts/${script} [options]\n\n${description.trim()}\n\nOptions:\n${rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`).join('\n')}\n`;
}

/** A raw option value as its spec's type; throws a message for the user when it does not fit. */
function convert(name, o, raw) {
  if (o.type === 'boolean') return raw;
  const value =
    o.type === 'number'
      ? Number(raw)
      : o.type === 'list'
        ? raw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : raw;
  if (o.type === 'number' && (raw.trim() === '' || !Number.isFinite(value))) throw new Error(`--${name}: expected a number, got '${raw}'`);
  if (o.type === 'list' && value.length === 0) throw new Error(`--${name}: expected a comma-separated list, got '${raw}'`);
  const bad = o.choices ? [value].flat().filter((v) => !o.choices.includes(v)) : [];
  if (bad.length) throw new Error(`--${name}: '${bad.join(',')}' is not one of ${o.choices.join(', ')}`);
  return value;
}

/**
 * Parses the script's arguments so that every script takes options the same way: returns each option's value
 * (typed; its default when absent), prints the help and exits 0 on --help, and prints the error and exits 1
 * on an unknown option, a missing or malformed value or a positional argument.
 * @param {{ description: string, options: Record<string, OptionSpec>, argv?: string[] }} spec
 * @returns {Record<string, string | number | boolean | string[] | undefined>}
 */
export function parseScriptArgs({ description, options, argv = process.argv.slice(2) }) {
  const script = basename(process.argv[1] ?? 'script.mjs');
  const parserOptions = { help: { type: 'boolean', short: 'h' } };
  for (const [name, o] of Object.entries(options)) parserOptions[name] = { type: o.type === 'boolean' ? 'boolean' : 'string' };
  try {
    const { values } = parseArgs({ args: argv, options: parserOptions, strict: true, allowPositionals: false });
    if (values.help) {
      process.stdout.write(helpText(script, description, options));
      process.exit(0);
    }
    return Object.fromEntries(
      Object.entries(options).map(([name, o]) => [
        name,
        values[name] === undefined ? (o.default ?? (o.type === 'boolean' ? false : undefined)) : convert(name, o, values[name]),
      ]),
    );
  } catch (err) {
    process.stderr.write(`${script}: ${err.message}\nRun \`node scripts/${script} --help\` for the options.\n`);
    process.exit(1);
  }
}
