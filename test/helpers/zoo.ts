import { makeActivationFactory } from '../../src/activations/registry.js';
import type { ActivationFactory } from '../../src/activations/types.js';
import { ActivationSchema } from '../../src/config/schema.js';
import { getModel } from '../../src/models/registry.js';
import { referenceActivation } from '../../src/models/sites.js';
import type { ModelBuildOptions } from '../../src/models/types.js';

/** The ImageNet architectures of the zoo (torchvision names). */
export const ZOO = ['resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0'] as const;

/** A factory for a registered activation with its options, or the per-architecture reference. */
export function factory(act: string, options: Record<string, unknown> = {}): ActivationFactory {
  return act === 'reference' ? referenceActivation : makeActivationFactory(ActivationSchema.parse({ name: act, [act]: options }), 0);
}

/** Builds a registered architecture; unspecified options: 32x32x3, 10 classes, width 1, small stem, ReLU. */
export function buildArch(arch: string, o: Partial<ModelBuildOptions> = {}) {
  const entry = getModel(arch);
  if (!entry) throw new Error(`unknown arch ${arch}`);
  return entry.build({
    inputShape: [32, 32, 3],
    numClasses: 10,
    width: 1,
    stem: 'small',
    activation: factory('relu'),
    seed: 0,
    ...o,
  });
}

/** Micro-scale build options per architecture (small width multipliers), for fast training/inference tests. */
export const MICRO_OPTIONS: Record<string, Partial<ModelBuildOptions>> = {
  resnet18: { width: 0.0625 },
  resnet34: { width: 0.0625 },
  resnet50: { width: 0.0625 },
  resnet20: { width: 0.25 },
  resnet56: { width: 0.25 },
  mobilenet_v2: { width: 0.1 },
  mobilenet_v3_large: { width: 0.1 },
  mobilenet_v3_small: { width: 0.1, sites: 'default' },
  efficientnet_b0: { width: 0.1 },
};
