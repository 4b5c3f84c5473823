import '@tensorflow/tfjs-backend-cpu';
import { activationNames, getActivation, makeActivationFactory } from '../activations/registry.js';
import type { ActivationFactory } from '../activations/types.js';
import { ActivationSchema } from '../config/schema.js';
import { countMacs } from '../models/macs.js';
import { getModel, modelNames, resolveStem } from '../models/registry.js';
import { countActivationSites, countAllSites, referenceActivation } from '../models/sites.js';
import { activationParamCount, countTrainable } from '../train/state.js';
import { selectBackend } from '../backends/select.js';
import { UserError } from '../util/errors.js';

export interface ModelsCliOptions {
  json: boolean;
  /** Input side length; the stem is chosen as in training (small below 64 px). */
  size: number;
  classes: number;
  /** A registered activation, or 'reference' (each architecture's own: ReLU / ReLU6 / h-swish / SiLU). */
  activation: string;
  /** Which sites take the activation (config activation.sites); default 'all'. */
  sites?: 'all' | 'default';
  /** Width multiplier; default 1. */
  width?: number;
  /** Input channels; default 3. */
  channels?: number;
}

/** One architecture's row in `pwlu models`. */
export interface ModelRow {
  name: string;
  family: string;
  description: string;
  stem: 'imagenet' | 'small';
  size: number;
  params: number;
  activationParams: number;
  /** Sites that took the configured activation. */
  sites: number;
  /** All activation sites, kept ones included (differs with sites: default on MobileNet-V3). */
  allSites: number;
  /** Multiply-accumulates per image (convolutions and dense layers; see countMacs). */
  macs: number;
}

/** Builds every registered architecture once and measures it; shared by the CLI and tests. */
export function describeModels(o: ModelsCliOptions): ModelRow[] {
  const channels = o.channels ?? 3;
  const stem = resolveStem('auto', o.size);
  let factory: () => ActivationFactory;
  if (o.activation === 'reference') {
    factory = () => referenceActivation;
  } else {
    if (!getActivation(o.activation)) {
      throw new UserError(`--activation: unknown activation '${o.activation}'; choose one of: reference, ${activationNames().join(', ')}`);
    }
    factory = () => makeActivationFactory(ActivationSchema.parse({ name: o.activation, sites: o.sites ?? 'all' }), 0);
  }
  const rows: ModelRow[] = [];
  for (const name of modelNames()) {
    const entry = getModel(name);
    if (!entry) continue;
    const model = entry.build({
      inputShape: [o.size, o.size, channels],
      numClasses: o.classes,
      width: o.width ?? 1,
      stem,
      activation: factory(),
      seed: 0,
      sites: o.sites ?? 'all',
    });
    try {
      rows.push({
        name,
        family: entry.family,
        description: entry.description,
        stem,
        size: o.size,
        params: countTrainable(model),
        activationParams: activationParamCount(model),
        sites: countActivationSites(model),
        allSites: countAllSites(model),
        macs: countMacs(model),
      });
    } finally {
      model.dispose();
    }
  }
  return rows;
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
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= 2 && i <= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [
    `${opts.size}x${opts.size}x${opts.channels ?? 3} input, ${opts.classes} classes, activation ${opts.activation}${opts.sites === 'default' ? ' (sites: default)' : ''}; MACs per image (conv + dense)`,
    line(header),
    ...table.map(line),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
