/**
 * The feature-extraction interface of the zoo's backbones for detection: a backbone built on an
 * image of any size that returns C3, C4 and C5 (strides 8, 16 and 32 with the 'imagenet' stem).
 * Each family builds its features with the same code as its classifier (resnet.ts' trunk,
 * inverted-residual.ts' mobileTrunk), so the layer names, creation order and, for one seed, the
 * initial weights are the classifier's (without its head): a pwlu classification checkpoint loads
 * into the backbone by name.
 *
 * Where C3..C5 come from:
 * - ResNet-18/34/50: the outputs of layer2, layer3, layer4 (torchvision's
 *   `resnet_fpn_backbone(returned_layers=[2, 3, 4])`).
 * - MobileNet-V2, EfficientNet-B0: the output of the last block at strides 8, 16 and 32 of the
 *   reference network (timm's `features_only` taps): MobileNet-V2 `features.6` (32 channels at
 *   width 1), `features.13` (96), `features.17` (320); EfficientNet-B0 `features.3.1` (40),
 *   `features.5.2` (112), `features.7.0` (320). The final 1x1 conv (`features.18` / `features.8`,
 *   1280 channels) and the classifier are not built.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationFactory } from '../activations/types.js';
import { Builder } from './blocks.js';
import { mobileTrunk, type MobileNetSpec } from './inverted-residual.js';
import type { ModelEntry } from './types.js';

type Sym = tfl.SymbolicTensor;

/**
 * Backbone batch norm: 'frozen' = torchvision's FrozenBatchNorm2d (running statistics, no trainable
 * weights); 'train' = ordinary batch norm; 'sync' = ordinary batch norm whose statistics are
 * synchronised across ranks (BatchNorm does that when train.sync_bn is set: the caller sets it).
 */
export type BackboneBn = 'frozen' | 'train' | 'sync';

/** What a backbone needs to build its feature extractor. */
export interface BackboneOptions {
  /** Channel width multiplier (as ModelBuildOptions.width). */
  width: number;
  /** Input channels (3 for RGB). */
  channels: number;
  stem: 'imagenet' | 'small';
  activation: ActivationFactory;
  sites: 'all' | 'default';
  seed: number;
  bn: BackboneBn;
}

/** A backbone's multi-scale features on an input of any size. */
export interface BackboneFeatures {
  /** `[null, null, channels]`: any image size (batches are padded to a multiple of 128). */
  input: Sym;
  c3: Sym;
  c4: Sym;
  c5: Sym;
  /** Channels of C3, C4, C5. */
  channels: [number, number, number];
  /** The backbone's builder, so that the layers after it (FPN, heads) continue its seed stream and activation sites. */
  builder: Builder;
}

/** A backbone that can serve a detector. */
export interface FeatureBackbone {
  features(o: BackboneOptions): BackboneFeatures;
}

/** A registry entry whose architecture exposes C3..C5. */
export type FeatureModelEntry = ModelEntry & FeatureBackbone;

/** Tells the registry's entries that can be a detector's backbone from the others. */
export function hasFeatures(e: ModelEntry): e is FeatureModelEntry {
  return typeof (e as Partial<FeatureBackbone>).features === 'function';
}

/** The backbone's builder: 'sync' is ordinary batch norm here (the synchronisation is BatchNorm's, under train.sync_bn). */
export function backboneBuilder(o: BackboneOptions): Builder {
  return new Builder(o.seed, o.activation, o.sites, o.bn === 'frozen' ? 'frozen' : 'train');
}

/** The detector's image input, of any size, named as the classifier's. */
export function backboneInput(channels: number): Sym {
  return tfl.input({ shape: [null, null, channels], name: 'input' });
}

function channelsOf(x: Sym): number {
  const c = x.shape[x.shape.length - 1];
  if (c == null) throw new Error(`${x.name}: channel dimension must be known`);
  return c;
}

/** Packs a backbone's taps with their channel counts. */
export function featuresOf(builder: Builder, input: Sym, c3: Sym, c4: Sym, c5: Sym): BackboneFeatures {
  return { input, c3, c4, c5, channels: [channelsOf(c3), channelsOf(c4), channelsOf(c5)], builder };
}

/**
 * Indices of the blocks whose outputs are C3, C4, C5: the last block at strides 8, 16 and 32 of
 * the reference network (stem stride 2, then each block's stride), as timm's feature taps.
 */
export function mobileFeatureTaps(spec: MobileNetSpec): [number, number, number] {
  let stride = 2;
  const last = new Map<number, number>();
  spec.blocks.forEach((s, i) => {
    stride *= s.stride;
    last.set(stride, i);
  });
  const taps = [8, 16, 32].map((st) => last.get(st));
  if (taps.some((t) => t === undefined)) throw new Error(`mobile spec has no block at stride 8, 16 or 32`);
  return taps as [number, number, number];
}

/** The mobile families' features (MobileNet-V2, EfficientNet-B0): their blocks' outputs at strides 8/16/32. */
export function mobileFeatures(spec: MobileNetSpec, o: BackboneOptions): BackboneFeatures {
  const b = backboneBuilder(o);
  const input = backboneInput(o.channels);
  const blocks = mobileTrunk(b, input, spec, { stem: o.stem });
  const [i3, i4, i5] = mobileFeatureTaps(spec);
  // The trunk builds every block; the tap at stride 32 is the last one, so nothing is left dangling.
  if (i5 !== blocks.length - 1) throw new Error(`mobile spec: blocks after the stride-32 tap`);
  return featuresOf(b, input, blocks[i3]!, blocks[i4]!, blocks[i5]!);
}

/** Everything a detector needs: backbone, widths, activation, batch-norm mode and its head's priors. */
export interface DetectorBuildOptions {
  /** Registry architecture with `features` (see `detectorBackbones`). */
  backbone: string;
  /** Backbone width multiplier. */
  width: number;
  /** Input channels (3). */
  channels: number;
  /** K: object classes (no background class: sigmoid classification). */
  numClasses: number;
  activation: ActivationFactory;
  sites: 'all' | 'default';
  seed: number;
  /** Width of the FPN and of the head convolutions (256 in the reference). */
  headWidth: number;
  /** Convolutions per head before its predictor (4 in the reference). */
  headConvs: number;
  backboneBn: BackboneBn;
  /** A: anchors per location (9: 3 scales x 3 ratios). */
  anchorsPerLocation: number;
  /** Prior probability of the classification logits' initial bias (0.01). */
  priorProb: number;
  /**
   * Init of the heads' hidden convolutions: 'normal' = torchvision's N(0, 0.01) (default); 'kaiming' = He-normal, which
   * keeps the signal's scale through the heads. N(0, 0.01) scales its variance by 9·width·0.01²/2 per conv + ReLU (0.03
   * at width 64, 0.12 at 256), so four of them leave a narrow head's outputs, and its gradients, near zero. The
   * predictors keep N(0, 0.01) and the prior bias either way.
   */
  headInit?: 'normal' | 'kaiming';
  /** Backbone stem (default 'imagenet'; 'small' divides every stride by 4, which the anchors do not assume). */
  stem?: 'imagenet' | 'small';
}
