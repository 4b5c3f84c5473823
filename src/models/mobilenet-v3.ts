import type * as tfl from '@tensorflow/tfjs-layers';
import { buildMobileNet, makeDivisible, type BlockSpec, type MobileNetSpec } from './inverted-residual.js';
import type { ModelBuildOptions, ModelEntry } from './types.js';

/**
 * MobileNet-V3 Large and Small (Howard et al. 2019) as torchvision builds them: hard-swish (HS)
 * and ReLU (RE) sites, SE blocks with an inner ReLU and a hard-sigmoid gate, BN eps 1e-3 /
 * momentum 0.01, classifier Linear -> hard-swish -> Dropout(0.2) -> Linear (N(0, 0.01) init).
 *
 * Sites: `features.0.act` (stem, HS), `features.{i}.expand.act`, `features.{i}.dw.act`,
 * `features.{i}.se.act` (the SE's inner ReLU), `features.{n+1}.act` (last conv, HS),
 * `classifier.act` (HS). The SE gates are not sites. `sites: 'all'` replaces every site;
 * `sites: 'default'` only the hard-swish ones (the paper's "default" sites), the ReLU sites (RE
 * blocks and every SE's inner ReLU) staying ReLU.
 */

/** One row of torchvision's `InvertedResidualConfig` table (before width scaling). */
interface V3Row {
  input: number;
  kernel: number;
  expanded: number;
  out: number;
  se: boolean;
  act: 'RE' | 'HS';
  stride: 1 | 2;
}

function row(input: number, kernel: number, expanded: number, out: number, se: boolean, act: 'RE' | 'HS', stride: 1 | 2): V3Row {
  return { input, kernel, expanded, out, se, act, stride };
}

const LARGE: readonly V3Row[] = [
  row(16, 3, 16, 16, false, 'RE', 1),
  row(16, 3, 64, 24, false, 'RE', 2),
  row(24, 3, 72, 24, false, 'RE', 1),
  row(24, 5, 72, 40, true, 'RE', 2),
  row(40, 5, 120, 40, true, 'RE', 1),
  row(40, 5, 120, 40, true, 'RE', 1),
  row(40, 3, 240, 80, false, 'HS', 2),
  row(80, 3, 200, 80, false, 'HS', 1),
  row(80, 3, 184, 80, false, 'HS', 1),
  row(80, 3, 184, 80, false, 'HS', 1),
  row(80, 3, 480, 112, true, 'HS', 1),
  row(112, 3, 672, 112, true, 'HS', 1),
  row(112, 5, 672, 160, true, 'HS', 2),
  row(160, 5, 960, 160, true, 'HS', 1),
  row(160, 5, 960, 160, true, 'HS', 1),
];

const SMALL: readonly V3Row[] = [
  row(16, 3, 16, 16, true, 'RE', 2),
  row(16, 3, 72, 24, false, 'RE', 2),
  row(24, 3, 88, 24, false, 'RE', 1),
  row(24, 5, 96, 40, true, 'HS', 2),
  row(40, 5, 240, 40, true, 'HS', 1),
  row(40, 5, 240, 40, true, 'HS', 1),
  row(40, 5, 120, 48, true, 'HS', 1),
  row(48, 5, 144, 48, true, 'HS', 1),
  row(48, 5, 288, 96, true, 'HS', 2),
  row(96, 5, 576, 96, true, 'HS', 1),
  row(96, 5, 576, 96, true, 'HS', 1),
];

const VARIANTS = { large: { table: LARGE, lastChannel: 1280 }, small: { table: SMALL, lastChannel: 1024 } } as const;

/** Resolves a variant's table at a width multiplier (torchvision's `adjust_channels` rounding). */
export function mobilenetV3Spec(variant: 'large' | 'small', width: number): MobileNetSpec {
  const { table, lastChannel } = VARIANTS[variant];
  const adjust = (c: number): number => makeDivisible(c * width);
  const kind = (a: 'RE' | 'HS') => (a === 'HS' ? 'hardswish' : 'relu');
  const blocks: BlockSpec[] = table.map((r, i) => {
    const expanded = adjust(r.expanded);
    return {
      name: `features.${i + 1}`,
      input: adjust(r.input),
      expanded,
      out: adjust(r.out),
      kernel: r.kernel,
      stride: r.stride,
      act: kind(r.act),
      primary: r.act === 'HS',
      se: r.se ? { squeeze: makeDivisible(Math.floor(expanded / 4)), act: 'relu', primary: false, gate: 'hardsigmoid' } : null,
    };
  });
  const lastOut = blocks[blocks.length - 1].out;
  return {
    stem: { name: 'features.0', channels: blocks[0].input, act: 'hardswish', primary: true },
    blocks,
    head: { name: `features.${blocks.length + 1}`, channels: 6 * lastOut, act: 'hardswish', primary: true },
    classifier: { hidden: { units: adjust(lastChannel), act: 'hardswish', primary: true }, dropout: 0.2, init: { std: 0.01 } },
    bn: { epsilon: 1e-3, momentum: 0.01 },
    dropPath: 0,
  };
}

export const mobilenetV3Large: ModelEntry = {
  name: 'mobilenet_v3_large',
  family: 'mobilenet_v3',
  description: 'MobileNet-V3-Large (torchvision), h-swish/ReLU, SE with h-sigmoid gates; 5.5M params',
  referenceSize: 224,
  build: (o: ModelBuildOptions): tfl.LayersModel => buildMobileNet('mobilenet_v3_large', mobilenetV3Spec('large', o.width), o),
};

export const mobilenetV3Small: ModelEntry = {
  name: 'mobilenet_v3_small',
  family: 'mobilenet_v3',
  description: 'MobileNet-V3-Small (torchvision), h-swish/ReLU, SE with h-sigmoid gates; 2.5M params',
  referenceSize: 224,
  build: (o: ModelBuildOptions): tfl.LayersModel => buildMobileNet('mobilenet_v3_small', mobilenetV3Spec('small', o.width), o),
};
