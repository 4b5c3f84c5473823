import type * as tfl from '@tensorflow/tfjs-layers';
import { buildMobileNet, makeDivisible, type BlockSpec, type MobileNetSpec } from './inverted-residual.js';
import { mobileFeatures, type FeatureModelEntry } from './features.js';
import type { ModelBuildOptions } from './types.js';

/**
 * EfficientNet-B0 (Tan & Le 2019) as torchvision builds it: MBConv blocks with SE (squeeze =
 * input/4, inner SiLU, sigmoid gate), SiLU (Swish) at every site, stochastic depth 0.2 (block i of
 * 16 drops its residual branch per sample with rate 0.2 * i / 16), Dropout(0.2) + Linear with
 * U(+-1/sqrt(classes)) init. BN: torchvision's B0 uses PyTorch's defaults, eps 1e-5 / momentum
 * 0.1 (only B5-B7 use eps 1e-3 / momentum 0.01). `width` is the width multiplier (depth fixed).
 *
 * Sites: `features.0.act` (stem), per block `features.{stage}.{j}.expand.act` (not in stage 1),
 * `.dw.act` and `.se.act` (the SE's inner SiLU: the reference applies its activation there, so it
 * is a site; the sigmoid gate is not), `features.8.act` (last conv): 49 at B0.
 */

/** One stage row of torchvision's `MBConvConfig` table: expand ratio, kernel, stride, in, out, layers. */
interface B0Row {
  ratio: number;
  kernel: number;
  stride: 1 | 2;
  input: number;
  out: number;
  layers: number;
}

const B0_TABLE: readonly B0Row[] = [
  { ratio: 1, kernel: 3, stride: 1, input: 32, out: 16, layers: 1 },
  { ratio: 6, kernel: 3, stride: 2, input: 16, out: 24, layers: 2 },
  { ratio: 6, kernel: 5, stride: 2, input: 24, out: 40, layers: 2 },
  { ratio: 6, kernel: 3, stride: 2, input: 40, out: 80, layers: 3 },
  { ratio: 6, kernel: 5, stride: 1, input: 80, out: 112, layers: 3 },
  { ratio: 6, kernel: 5, stride: 2, input: 112, out: 192, layers: 4 },
  { ratio: 6, kernel: 3, stride: 1, input: 192, out: 320, layers: 1 },
];

/** Resolves the B0 table at a width multiplier; the classifier init depends on the class count. */
export function efficientnetB0Spec(width: number, numClasses: number): MobileNetSpec {
  const adjust = (c: number): number => makeDivisible(c * width);
  const blocks: BlockSpec[] = [];
  B0_TABLE.forEach((r, stage) => {
    for (let j = 0; j < r.layers; j++) {
      const input = j === 0 ? adjust(r.input) : adjust(r.out);
      blocks.push({
        name: `features.${stage + 1}.${j}`,
        input,
        expanded: makeDivisible(input * r.ratio),
        out: adjust(r.out),
        kernel: r.kernel,
        stride: j === 0 ? r.stride : 1,
        act: 'silu',
        primary: true,
        se: { squeeze: Math.max(1, Math.floor(input / 4)), act: 'silu', primary: true, gate: 'sigmoid' },
      });
    }
  });
  const lastOut = blocks[blocks.length - 1].out;
  return {
    stem: { name: 'features.0', channels: blocks[0].input, act: 'silu', primary: true },
    blocks,
    head: { name: `features.${B0_TABLE.length + 1}`, channels: 4 * lastOut, act: 'silu', primary: true },
    classifier: { hidden: null, dropout: 0.2, init: { limit: 1 / Math.sqrt(numClasses) } },
    bn: { epsilon: 1e-5, momentum: 0.1 },
    dropPath: 0.2,
  };
}

/**
 * Detection features: C3 = `features.3.1` (stride 8), C4 = `features.5.2` (16), C5 = `features.7.0`
 * (32), as timm's taps; the classifier's init (which depends on the class count) is never built.
 */
export const efficientnetB0: FeatureModelEntry = {
  name: 'efficientnet_b0',
  family: 'efficientnet',
  description: 'EfficientNet-B0 (torchvision), MBConv + SE, SiLU, stochastic depth 0.2; 5.3M params',
  referenceSize: 224,
  build: (o: ModelBuildOptions): tfl.LayersModel => buildMobileNet('efficientnet_b0', efficientnetB0Spec(o.width, o.numClasses), o),
  features: (o) => mobileFeatures(efficientnetB0Spec(o.width, 1), o),
};
