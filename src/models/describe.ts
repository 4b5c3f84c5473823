/** A census of the model zoo: every architecture's parameters, activation sites and MACs at an input size. */
import { activationNames, makeActivationFactory } from '../activations/registry.js';
import { specOf } from '../activations/specs/index.js';
import type { ActivationFactory } from '../activations/types.js';
import { ActivationSchema } from '../config/schema.js';
import { UserError } from '../util/errors.js';
import { activationParamCount, countTrainable } from './census.js';
import { countMacs } from './macs.js';
import { getModel, modelNames, resolveStem } from './registry.js';
import { countActivationSites, countAllSites, referenceActivation } from './sites.js';

/** What the census builds each architecture with. */
export interface DescribeOptions {
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

/** Builds every registered architecture once and measures it, so a config can be sized before a run (`pwlu models`). */
export function describeModels(o: DescribeOptions): ModelRow[] {
  const channels = o.channels ?? 3;
  const stem = resolveStem('auto', o.size);
  let factory: () => ActivationFactory;
  if (o.activation === 'reference') {
    factory = () => referenceActivation;
  } else {
    if (!specOf(o.activation)) {
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
