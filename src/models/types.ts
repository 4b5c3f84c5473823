import type * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationFactory } from '../activations/types.js';

/** Everything a model family needs to build one network; the activation is injected, never named. */
export interface ModelBuildOptions {
  /** [height, width, channels] of one input image. */
  inputShape: [number, number, number];
  numClasses: number;
  /** Channel width multiplier. */
  width: number;
  /** 'imagenet' for 224x224 inputs; 'small' for 32x32/28x28 (stride-1 3x3 stem, no early downsampling). */
  stem: 'imagenet' | 'small';
  activation: ActivationFactory;
  /** Seed for the weight initialisers. */
  seed: number;
  /**
   * Which activation sites take the configured activation (config `activation.sites`):
   * 'all' (default) every site; 'default' only the sites of the family's main activation, the
   * others keeping their reference function (MobileNet-V3: hard-swish sites are replaced, its
   * ReLU sites stay ReLU). Families with one activation treat both the same.
   */
  sites?: 'all' | 'default';
  /** Dropout before the classifier; default: the reference's (0.2 in the mobile families, none in ResNets). */
  dropout?: number;
  /** Stochastic-depth rate of the last block (scaled linearly by block index); default: the reference's (EfficientNet 0.2). */
  dropPath?: number;
}

/** A registry entry: one per architecture; a family file may register several. */
export interface ModelEntry {
  name: string;
  family: string;
  description: string;
  /** Input side length the reference uses (224 for ImageNet nets, 32 for CIFAR nets). */
  referenceSize: number;
  build(options: ModelBuildOptions): tfl.LayersModel;
}
