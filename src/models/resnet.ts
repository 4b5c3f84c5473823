import * as tfl from '@tensorflow/tfjs-layers';
import { Builder } from './blocks.js';
import { backboneBuilder, backboneInput, featuresOf, type BackboneFeatures, type BackboneOptions, type FeatureModelEntry } from './features.js';
import type { ModelBuildOptions } from './types.js';

type Sym = tfl.SymbolicTensor;

/**
 * torchvision's ImageNet ResNets (He et al. 2016, "v1.5": the stride sits on the 3x3 conv of a
 * bottleneck). Layers are created in torchvision's module order (conv1, bn1, conv2, bn2, [conv3,
 * bn3], downsample), so creation order maps one-to-one onto the state dict
 * (scripts/check-torchvision.mjs relies on it). BN: PyTorch defaults (eps 1e-5, momentum 0.1).
 *
 * Activation sites (all ReLU in the reference): `stem.act`, and per block
 * `layer{s}.{b}.act1`, `act2` (basic: act2 after the residual add) or `act1..act3` (bottleneck).
 *
 * Stems: 'imagenet' = 7x7/2 conv + 3x3/2 max-pool (32x downsampling, 224 -> 7);
 * 'small' = 3x3/1 conv, no max-pool (8x downsampling, 32 -> 4, 28 -> 4), as in the usual CIFAR
 * ResNet-18 ports. `width` scales every stage's channels (64, 128, 256, 512).
 */

type BlockKind = 'basic' | 'bottleneck';

interface ResNetSpec {
  block: BlockKind;
  /** Blocks per stage (four stages). */
  layers: [number, number, number, number];
}

const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };

function block(b: Builder, x: Sym, prefix: string, kind: BlockKind, planes: number, stride: number): Sym {
  const cin = x.shape[x.shape.length - 1];
  const cout = planes * EXPANSION[kind];
  let out: Sym;
  if (kind === 'basic') {
    out = b.conv(x, `${prefix}.conv1`, planes, 3, stride);
    out = b.site(b.bn(out, `${prefix}.bn1`), `${prefix}.act1`, 'relu');
    out = b.bn(b.conv(out, `${prefix}.conv2`, planes, 3, 1), `${prefix}.bn2`);
  } else {
    out = b.conv(x, `${prefix}.conv1`, planes, 1, 1);
    out = b.site(b.bn(out, `${prefix}.bn1`), `${prefix}.act1`, 'relu');
    out = b.conv(out, `${prefix}.conv2`, planes, 3, stride);
    out = b.site(b.bn(out, `${prefix}.bn2`), `${prefix}.act2`, 'relu');
    out = b.bn(b.conv(out, `${prefix}.conv3`, cout, 1, 1), `${prefix}.bn3`);
  }
  let shortcut = x;
  if (stride !== 1 || cin !== cout) {
    shortcut = b.bn(b.conv(x, `${prefix}.downsample.conv`, cout, 1, stride), `${prefix}.downsample.bn`);
  }
  return b.site(b.add(out, shortcut, `${prefix}.add`), `${prefix}.act${kind === 'basic' ? 2 : 3}`, 'relu');
}

/**
 * conv1 ... layer4 (shared by the classifier and the detection backbone, so both have the same layer
 * names, creation order and, for one seed, the same initial weights); returns layer1..layer4's outputs.
 */
function trunk(b: Builder, input: Sym, spec: ResNetSpec, width: number, stem: 'imagenet' | 'small'): Sym[] {
  const base = Math.max(1, Math.round(64 * width));
  let x: Sym;
  if (stem === 'imagenet') {
    x = b.conv(input, 'stem.conv', base, 7, 2);
    x = b.site(b.bn(x, 'stem.bn'), 'stem.act', 'relu');
    x = b.maxPool(x, 'stem.pool', 3, 2);
  } else {
    x = b.conv(input, 'stem.conv', base, 3, 1);
    x = b.site(b.bn(x, 'stem.bn'), 'stem.act', 'relu');
  }
  const stages: Sym[] = [];
  spec.layers.forEach((n, stage) => {
    for (let i = 0; i < n; i++) {
      const stride = i === 0 && stage > 0 ? 2 : 1;
      x = block(b, x, `layer${stage + 1}.${i}`, spec.block, base * 2 ** stage, stride);
    }
    stages.push(x);
  });
  return stages;
}

function resnet(name: string, spec: ResNetSpec, o: ModelBuildOptions): tfl.LayersModel {
  const b = new Builder(o.seed, o.activation, o.sites ?? 'all');
  const input = tfl.input({ shape: o.inputShape, name: 'input' });
  let x = trunk(b, input, spec, o.width, o.stem)[3];
  x = b.globalPool(x);
  if ((o.dropout ?? 0) > 0) x = b.dropout(x, 'dropout', o.dropout ?? 0);
  const logits = b.linear(x, 'fc', o.numClasses, 'torch');
  return tfl.model({ inputs: input, outputs: logits, name });
}

/**
 * torchvision's `resnet_fpn_backbone(returned_layers=[2, 3, 4])`: C3 = layer2's output (stride 8),
 * C4 = layer3 (16), C5 = layer4 (32) with the 'imagenet' stem (the 'small' stem divides the strides by 4).
 */
function resnetFeatures(spec: ResNetSpec, o: BackboneOptions): BackboneFeatures {
  const b = backboneBuilder(o);
  const input = backboneInput(o.channels);
  const [, c3, c4, c5] = trunk(b, input, spec, o.width, o.stem);
  return featuresOf(b, input, c3, c4, c5);
}

function entry(name: string, description: string, spec: ResNetSpec): FeatureModelEntry {
  return { name, family: 'resnet', description, referenceSize: 224, build: (o) => resnet(name, spec, o), features: (o) => resnetFeatures(spec, o) };
}

export const resnet18 = entry('resnet18', 'ResNet-18 (torchvision), basic blocks [2,2,2,2], 11.7M params', { block: 'basic', layers: [2, 2, 2, 2] });
export const resnet34 = entry('resnet34', 'ResNet-34 (torchvision), basic blocks [3,4,6,3], 21.8M params', { block: 'basic', layers: [3, 4, 6, 3] });
export const resnet50 = entry('resnet50', 'ResNet-50 (torchvision v1.5), bottlenecks [3,4,6,3], 25.6M params', { block: 'bottleneck', layers: [3, 4, 6, 3] });
