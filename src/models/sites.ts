import type * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationFactory } from '../activations/types.js';
import { isActivationLayer } from '../activations/types.js';
import { FixedActivation, type FixedKind } from '../nn/fixed-layers.js';

/** The function the reference architecture applies at an activation site. */
export type SiteKind = Extract<FixedKind, 'relu' | 'relu6' | 'hardswish' | 'silu'>;

/**
 * Sentinel factory: pass it as `ModelBuildOptions.activation` to build a network exactly as the
 * reference does, each site with its own function (ReLU in ResNet, ReLU6 in MobileNet-V2,
 * hard-swish + ReLU in MobileNet-V3, SiLU in EfficientNet), for parameter counts and the
 * torchvision check. `Builder.site` recognises it by identity; called directly (by `Builder.act`,
 * which knows no site kind) it gives ReLU.
 */
export const referenceActivation: ActivationFactory = (site) => new FixedActivation({ name: site.name, kind: 'relu', role: 'configured' });

/**
 * Number of activation sites that took the configured activation, i.e. layers marked as
 * activation layers. With `sites: default`, MobileNet-V3's kept ReLU sites are not counted.
 */
export function countActivationSites(model: tfl.LayersModel): number {
  return model.layers.filter((l) => isActivationLayer(l)).length;
}

/** All activation sites, configured or kept at the reference function (SE gates excluded). */
export function countAllSites(model: tfl.LayersModel): number {
  return model.layers.filter((l) => isActivationLayer(l) || (l instanceof FixedActivation && l.isSite)).length;
}
