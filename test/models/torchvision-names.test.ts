/**
 * The pwlu → torchvision name and layout mapping (src/models/torchvision-names.ts) against keys read off torchvision's
 * own state dicts (torchvision 0.14: `resnet18().state_dict().keys()` etc.) and layouts permuted by hand. The whole
 * mapping of every zoo architecture is checked against torchvision's logits by scripts/check-torchvision.mjs.
 */
import { describe, expect, it } from 'vitest';

import { pwluShape, toPwluLayout, torchvisionFamily, torchvisionKeys } from '../../src/models/torchvision-names.js';

/** Weight names with a shape of the given rank (only the rank matters to the mapping). */
const weights = (names: Record<string, number>): { name: string; shape: number[] }[] =>
  Object.entries(names).map(([name, rank]) => ({ name, shape: new Array<number>(rank).fill(2) }));

const keyMap = (names: Record<string, number>): Record<string, string> => {
  const { keys } = torchvisionKeys(weights(names));
  return Object.fromEntries([...keys].map(([n, s]) => [n, `${s.key} ${s.layout}`]));
};

const RESNET = {
  'stem.conv/kernel': 4,
  'stem.bn/gamma': 1,
  'stem.bn/moving_variance': 1,
  'layer1.0.conv1/kernel': 4,
  'layer2.0.downsample.conv/kernel': 4,
  'layer2.0.downsample.bn/beta': 1,
  'layer4.1.bn2/moving_mean': 1,
};

describe('torchvision names', () => {
  it('ResNet: stem, blocks, downsample and classifier', () => {
    expect(keyMap({ ...RESNET, 'fc/kernel': 2, 'fc/bias': 1 })).toEqual({
      'stem.conv/kernel': 'conv1.weight conv',
      'stem.bn/gamma': 'bn1.weight same',
      'stem.bn/moving_variance': 'bn1.running_var same',
      'layer1.0.conv1/kernel': 'layer1.0.conv1.weight conv',
      'layer2.0.downsample.conv/kernel': 'layer2.0.downsample.0.weight conv',
      'layer2.0.downsample.bn/beta': 'layer2.0.downsample.1.bias same',
      'layer4.1.bn2/moving_mean': 'layer4.1.bn2.running_mean same',
      'fc/kernel': 'fc.weight linear',
      'fc/bias': 'fc.bias same',
    });
  });

  it("a detector's backbone maps as the classifier does; its FPN, heads and activation parameters map to nothing", () => {
    const detector = { ...RESNET, 'fpn.inner5/kernel': 4, 'fpn.p6/bias': 1, 'head.cls.conv0/kernel': 4, 'head.cls.logits/bias': 1, 'stem.act/kl': 1 };
    expect(keyMap(detector)).toEqual(keyMap(RESNET));
    expect(Object.keys(keyMap(RESNET))).toHaveLength(Object.keys(RESNET).length);
  });

  it('MobileNet-V2: blocks with and without expansion, the bare project conv and BN, last conv, classifier', () => {
    expect(
      keyMap({
        'features.0.conv/kernel': 4,
        'features.1.dw.conv/depthwise_kernel': 4,
        'features.1.project.conv/kernel': 4,
        'features.1.project.bn/gamma': 1,
        'features.2.expand.conv/kernel': 4,
        'features.2.dw.conv/depthwise_kernel': 4,
        'features.2.dw.bn/beta': 1,
        'features.2.project.conv/kernel': 4,
        'features.2.project.bn/moving_mean': 1,
        'features.18.bn/gamma': 1,
        'classifier.fc/kernel': 2,
      }),
    ).toEqual({
      'features.0.conv/kernel': 'features.0.0.weight conv',
      'features.1.dw.conv/depthwise_kernel': 'features.1.conv.0.0.weight depthwise',
      'features.1.project.conv/kernel': 'features.1.conv.1.weight conv',
      'features.1.project.bn/gamma': 'features.1.conv.2.weight same',
      'features.2.expand.conv/kernel': 'features.2.conv.0.0.weight conv',
      'features.2.dw.conv/depthwise_kernel': 'features.2.conv.1.0.weight depthwise',
      'features.2.dw.bn/beta': 'features.2.conv.1.1.bias same',
      'features.2.project.conv/kernel': 'features.2.conv.2.weight conv',
      'features.2.project.bn/moving_mean': 'features.2.conv.3.running_mean same',
      'features.18.bn/gamma': 'features.18.1.weight same',
      'classifier.fc/kernel': 'classifier.1.weight linear',
    });
  });

  it('MobileNet-V3: squeeze-excitation shifts the project index; two-layer classifier', () => {
    expect(
      keyMap({
        'features.1.dw.conv/depthwise_kernel': 4,
        'features.1.se.fc1/kernel': 4,
        'features.1.se.fc2/bias': 1,
        'features.1.project.bn/gamma': 1,
        'features.2.expand.conv/kernel': 4,
        'features.2.project.bn/moving_variance': 1,
        'features.4.expand.conv/kernel': 4,
        'features.4.se.fc1/kernel': 4,
        'features.4.se.fc1/bias': 1,
        'features.4.project.conv/kernel': 4,
        'classifier.fc1/kernel': 2,
        'classifier.fc/bias': 1,
      }),
    ).toEqual({
      'features.1.dw.conv/depthwise_kernel': 'features.1.block.0.0.weight depthwise',
      'features.1.se.fc1/kernel': 'features.1.block.1.fc1.weight conv',
      'features.1.se.fc2/bias': 'features.1.block.1.fc2.bias same',
      'features.1.project.bn/gamma': 'features.1.block.2.1.weight same',
      'features.2.expand.conv/kernel': 'features.2.block.0.0.weight conv',
      'features.2.project.bn/moving_variance': 'features.2.block.2.1.running_var same',
      'features.4.expand.conv/kernel': 'features.4.block.0.0.weight conv',
      'features.4.se.fc1/kernel': 'features.4.block.2.fc1.weight conv',
      'features.4.se.fc1/bias': 'features.4.block.2.fc1.bias same',
      'features.4.project.conv/kernel': 'features.4.block.3.0.weight conv',
      'classifier.fc1/kernel': 'classifier.0.weight linear',
      'classifier.fc/bias': 'classifier.3.bias same',
    });
  });

  it('EfficientNet: stage.block prefixes', () => {
    expect(
      keyMap({
        'features.1.0.dw.conv/depthwise_kernel': 4,
        'features.1.0.se.fc1/kernel': 4,
        'features.1.0.project.conv/kernel': 4,
        'features.2.1.expand.bn/gamma': 1,
        'features.2.1.dw.conv/depthwise_kernel': 4,
        'features.2.1.se.fc2/kernel': 4,
        'features.2.1.project.conv/kernel': 4,
        'classifier.fc/kernel': 2,
      }),
    ).toEqual({
      'features.1.0.dw.conv/depthwise_kernel': 'features.1.0.block.0.0.weight depthwise',
      'features.1.0.se.fc1/kernel': 'features.1.0.block.1.fc1.weight conv',
      'features.1.0.project.conv/kernel': 'features.1.0.block.2.0.weight conv',
      'features.2.1.expand.bn/gamma': 'features.2.1.block.0.1.weight same',
      'features.2.1.dw.conv/depthwise_kernel': 'features.2.1.block.1.0.weight depthwise',
      'features.2.1.se.fc2/kernel': 'features.2.1.block.2.fc2.weight conv',
      'features.2.1.project.conv/kernel': 'features.2.1.block.3.0.weight conv',
      'classifier.fc/kernel': 'classifier.1.weight linear',
    });
  });

  it('families from layer names; none for architectures torchvision does not have', () => {
    expect(torchvisionFamily(['stem.conv', 'layer1.0.conv1'])).toBe('resnet');
    expect(torchvisionFamily(['features.0.conv', 'features.1.dw.conv'])).toBe('mobilenet_v2');
    expect(torchvisionFamily(['features.0.conv', 'features.1.dw.conv', 'features.1.se.fc1'])).toBe('mobilenet_v3');
    expect(torchvisionFamily(['features.0.conv', 'features.1.0.dw.conv'])).toBe('efficientnet');
    expect(torchvisionFamily(['conv1', 'block1.conv'])).toBeNull();
    expect(torchvisionKeys(weights({ 'conv1/kernel': 4 })).family).toBeNull();
  });

  it('layouts: torchvision tensors permuted into tfjs order (values 0..n-1, hand-permuted)', () => {
    const seq = (n: number) => Float32Array.from({ length: n }, (_, i) => i);
    // conv [O=2, I=3, kh=1, kw=2] -> [kh, kw, I, O]: out[h][w][i][o] = o*6 + i*2 + w
    expect(pwluShape('conv', [2, 3, 1, 2])).toEqual([1, 2, 3, 2]);
    expect(Array.from(toPwluLayout('conv', [2, 3, 1, 2], seq(12)))).toEqual([0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11]);
    // depthwise [C=3, 1, kh=1, kw=2] -> [kh, kw, C, 1]: out[h][w][c] = c*2 + w
    expect(pwluShape('depthwise', [3, 1, 1, 2])).toEqual([1, 2, 3, 1]);
    expect(Array.from(toPwluLayout('depthwise', [3, 1, 1, 2], seq(6)))).toEqual([0, 2, 4, 1, 3, 5]);
    // linear [out=2, in=3] -> [in, out]
    expect(pwluShape('linear', [2, 3])).toEqual([3, 2]);
    expect(Array.from(toPwluLayout('linear', [2, 3], seq(6)))).toEqual([0, 3, 1, 4, 2, 5]);
    expect(toPwluLayout('same', [4], seq(4))).toEqual(seq(4));
    expect(pwluShape('linear', [2, 3, 4])).toBeNull();
  });
});
