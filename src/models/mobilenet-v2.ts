import type * as tfl from '@tensorflow/tfjs-layers';
import { buildMobileNet, makeDivisible, type BlockSpec, type MobileNetSpec } from './inverted-residual.js';
import { mobileFeatures, type FeatureModelEntry } from './features.js';
import type { ModelBuildOptions } from './types.js';

/**
 * MobileNet-V2 (Sandler et al. 2018) as torchvision builds it: ReLU6 at every site (the harness's
 * `relu` activation replaces it with plain ReLU; the reference build keeps ReLU6), BN eps 1e-5 /
 * momentum 0.1, Dropout(0.2) + Linear classifier with N(0, 0.01) init. `width` is the width
 * multiplier (channels rounded to multiples of 8; the last conv never narrower than 1280).
 *
 * Sites: `features.0.act` (stem), `features.{i}.expand.act`, `features.{i}.dw.act` (blocks
 * 1..17; block 1 has no expansion), `features.18.act` (last conv): 35 at width 1.
 */

/** One row of the paper's Table 2: expansion t, output channels c, repeats n, first stride s. */
interface V2Row {
  t: number;
  c: number;
  n: number;
  s: 1 | 2;
}

const V2_TABLE: readonly V2Row[] = [
  { t: 1, c: 16, n: 1, s: 1 },
  { t: 6, c: 24, n: 2, s: 2 },
  { t: 6, c: 32, n: 3, s: 2 },
  { t: 6, c: 64, n: 4, s: 2 },
  { t: 6, c: 96, n: 3, s: 1 },
  { t: 6, c: 160, n: 3, s: 2 },
  { t: 6, c: 320, n: 1, s: 1 },
];

/** Resolves the table at a width multiplier into absolute channel counts (torchvision's rounding). */
export function mobilenetV2Spec(width: number): MobileNetSpec {
  let input = makeDivisible(32 * width);
  const stem = { name: 'features.0', channels: input, act: 'relu6' as const, primary: true };
  const blocks: BlockSpec[] = [];
  for (const row of V2_TABLE) {
    const out = makeDivisible(row.c * width);
    for (let i = 0; i < row.n; i++) {
      blocks.push({
        name: `features.${blocks.length + 1}`,
        input,
        expanded: Math.round(input * row.t),
        out,
        kernel: 3,
        stride: i === 0 ? row.s : 1,
        act: 'relu6',
        primary: true,
        se: null,
      });
      input = out;
    }
  }
  return {
    stem,
    blocks,
    head: { name: `features.${blocks.length + 1}`, channels: makeDivisible(1280 * Math.max(1, width)), act: 'relu6', primary: true },
    classifier: { hidden: null, dropout: 0.2, init: { std: 0.01 } },
    bn: { epsilon: 1e-5, momentum: 0.1 },
    dropPath: 0,
  };
}

/** Detection features: C3 = `features.6` (stride 8), C4 = `features.13` (16), C5 = `features.17` (32), as timm's taps. */
export const mobilenetV2: FeatureModelEntry = {
  name: 'mobilenet_v2',
  family: 'mobilenet_v2',
  description: 'MobileNet-V2 (torchvision), inverted residuals, width multiplier; 3.5M params at width 1',
  referenceSize: 224,
  build: (o: ModelBuildOptions): tfl.LayersModel => buildMobileNet('mobilenet_v2', mobilenetV2Spec(o.width), o),
  features: (o) => mobileFeatures(mobilenetV2Spec(o.width), o),
};
