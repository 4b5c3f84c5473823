import * as tfl from '@tensorflow/tfjs-layers';
import { Builder } from './blocks.js';
import type { ModelBuildOptions, ModelEntry } from './types.js';

type Sym = tfl.SymbolicTensor;

/** He et al. (2016) basic block; 1x1 conv + BN projection when the shape changes. */
function basicBlock(b: Builder, x: Sym, prefix: string, filters: number, stride: number): Sym {
  const cin = x.shape[x.shape.length - 1];
  let out = b.conv(x, `${prefix}.conv1`, filters, 3, stride);
  out = b.bn(out, `${prefix}.bn1`);
  out = b.act(out, `${prefix}.act1`);
  out = b.conv(out, `${prefix}.conv2`, filters, 3, 1);
  out = b.bn(out, `${prefix}.bn2`);
  let shortcut = x;
  if (stride !== 1 || cin !== filters) {
    shortcut = b.conv(x, `${prefix}.shortcut.conv`, filters, 1, stride);
    shortcut = b.bn(shortcut, `${prefix}.shortcut.bn`);
  }
  return b.act(b.add(out, shortcut, `${prefix}.add`), `${prefix}.act2`);
}

/** The CIFAR ResNets (6n+2 layers): three stages of n basic blocks, 16/32/64 channels. */
function cifarResNet(depth: number, o: ModelBuildOptions): tfl.LayersModel {
  const n = (depth - 2) / 6;
  const b = new Builder(o.seed, o.activation);
  const widths = [16, 32, 64].map((c) => Math.max(1, Math.round(c * o.width)));
  const input = tfl.input({ shape: o.inputShape, name: 'input' });
  let x = input;
  if (o.stem === 'imagenet') {
    // Downsample 4x like an ImageNet stem, for large inputs.
    x = b.conv(x, 'stem.conv', widths[0], 7, 2);
    x = b.act(b.bn(x, 'stem.bn'), 'stem.act');
    x = b.maxPool(x, 'stem.pool', 3, 2);
  } else {
    x = b.conv(x, 'stem.conv', widths[0], 3, 1);
    x = b.act(b.bn(x, 'stem.bn'), 'stem.act');
  }
  widths.forEach((filters, stage) => {
    for (let i = 0; i < n; i++) {
      x = basicBlock(b, x, `stage${stage + 1}.block${i}`, filters, i === 0 && stage > 0 ? 2 : 1);
    }
  });
  const logits = b.dense(b.globalPool(x), 'fc', o.numClasses);
  return tfl.model({ inputs: input, outputs: logits, name: `resnet${depth}` });
}

export const resnet20: ModelEntry = {
  name: 'resnet20',
  family: 'resnet_cifar',
  description: 'ResNet-20, He et al. 2016 CIFAR net (3x3 basic blocks, 0.27M params)',
  referenceSize: 32,
  build: (o) => cifarResNet(20, o),
};

export const resnet56: ModelEntry = {
  name: 'resnet56',
  family: 'resnet_cifar',
  description: 'ResNet-56, He et al. 2016 CIFAR net (0.85M params)',
  referenceSize: 32,
  build: (o) => cifarResNet(56, o),
};
