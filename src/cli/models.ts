import { Option, type Command } from 'commander';
import type { DescribeOptions } from '../models/describe.js';
import { UserError } from '../util/errors.js';
import { formatTable } from '../util/table.js';
import { parseFloatArg, parseIntArg } from './options.js';

/** Options of `pwlu models`. */
export interface ModelsCliOptions extends DescribeOptions {
  json: boolean;
}

/** Defines `pwlu models` and its options, so the flags sit beside the code that reads them. */
export function register(program: Command): void {
  program
    .command('models')
    .description('List every architecture with its parameter count, activation sites and multiply-accumulates (MACs) at an input size.')
    .option('--size <n>', 'input side length (the small stem is used below 64)', (v) => parseIntArg('--size', v), 224)
    .option('--classes <n>', 'number of classes', (v) => parseIntArg('--classes', v), 1000)
    .option('--channels <n>', 'input channels', (v) => parseIntArg('--channels', v), 3)
    .option('--width <w>', 'width multiplier', (v) => parseFloatArg('--width', v), 1)
    .option('--activation <name>', "activation at every site, or 'reference' for each architecture's own", 'relu')
    .addOption(
      new Option('--sites <which>', 'which sites take the activation: all, or default (MobileNet-V3: only the hard-swish sites)')
        .choices(['all', 'default'])
        .default('all'),
    )
    .option('--json', 'print JSON', false)
    .action(async (opts: ModelsCliOptions) => {
      await modelsCommand(opts);
    });
}

function formatMacs(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : `${(n / 1e6).toFixed(1)} M`;
}

/**
 * `pwlu models`: every architecture with its trainable parameters, activation sites and MACs at
 * the given input size, so that a config can be sized before a run.
 */
export async function modelsCommand(opts: ModelsCliOptions): Promise<void> {
  if (!Number.isInteger(opts.size) || opts.size < 8) throw new UserError(`--size must be an integer >= 8 (got ${opts.size})`);
  if (!Number.isInteger(opts.classes) || opts.classes < 1) throw new UserError(`--classes must be a positive integer (got ${opts.classes})`);
  const [{ selectBackend }, { describeModels }] = await Promise.all([import('../backends/select.js'), import('../models/describe.js')]);
  await selectBackend('cpu', { threads: 0, device: 'cpu' });
  const rows = describeModels(opts);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const header = ['arch', 'family', 'params', 'act params', 'sites', 'MACs', 'stem'];
  const table = rows.map((r) => [
    r.name,
    r.family,
    r.params.toLocaleString('en-US'),
    r.activationParams.toLocaleString('en-US'),
    r.sites === r.allSites ? String(r.sites) : `${r.sites}/${r.allSites}`,
    formatMacs(r.macs),
    r.stem,
  ]);
  const out = [
    `${opts.size}x${opts.size}x${opts.channels ?? 3} input, ${opts.classes} classes, activation ${opts.activation}${opts.sites === 'default' ? ' (sites: default)' : ''}; MACs per image (conv + dense)`,
    ...formatTable([header, ...table], (i) => (i >= 2 && i <= 5 ? 'right' : 'left')),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
