import * as tfl from '@tensorflow/tfjs-layers';
import { Builder, type LinearInit } from './blocks.js';
import type { SiteKind } from './sites.js';
import type { ModelBuildOptions } from './types.js';

type Sym = tfl.SymbolicTensor;

/**
 * The one interpreter of the mobile families (MobileNet-V2, MobileNet-V3, EfficientNet-B0).
 * Each family file holds a typed table in its paper's / torchvision's terms and resolves it into
 * `MobileNetSpec` (absolute channel counts after width rounding); `buildMobileNet` turns that into
 * layers. Layers are created in torchvision's module order, so creation order maps one-to-one
 * onto torchvision's state dict (scripts/check-torchvision.mjs relies on it).
 */

/** torchvision's `_make_divisible`: round to the nearest multiple of `divisor`, never below 90% of v. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let n = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** A squeeze-excitation block: squeeze width, its inner activation site, its gate. */
export interface SeSpec {
  squeeze: number;
  act: SiteKind;
  /** Whether the inner site is one of the family's main activation (see `ModelBuildOptions.sites`). */
  primary: boolean;
  gate: 'sigmoid' | 'hardsigmoid';
}

/** One inverted-residual block (MBConv): [1x1 expand] -> kxk depthwise -> [SE] -> 1x1 project. */
export interface BlockSpec {
  /** Layer-name prefix, e.g. `features.3` (MobileNets) or `features.2.1` (EfficientNet stage.block). */
  name: string;
  input: number;
  /** Expanded width; no expansion conv when it equals `input` (as torchvision). */
  expanded: number;
  out: number;
  kernel: number;
  stride: 1 | 2;
  act: SiteKind;
  primary: boolean;
  se: SeSpec | null;
}

/** A conv + BN + activation layer outside the blocks (stem, last conv). */
export interface ConvSpec {
  name: string;
  channels: number;
  act: SiteKind;
  primary: boolean;
}

/** A whole mobile network, resolved: what `buildMobileNet` interprets. */
export interface MobileNetSpec {
  stem: ConvSpec;
  blocks: BlockSpec[];
  head: ConvSpec;
  classifier: {
    /** MobileNet-V3's extra Linear + activation before the dropout. */
    hidden: { units: number; act: SiteKind; primary: boolean } | null;
    dropout: number;
    init: LinearInit;
  };
  /** BatchNorm epsilon / momentum (PyTorch convention). */
  bn: { epsilon: number; momentum: number };
  /** Stochastic-depth rate: block i of n drops its residual branch with rate * i / n (0: none). */
  dropPath: number;
}

function convBnAct(
  b: Builder,
  x: Sym,
  prefix: string,
  channels: number,
  kernel: number,
  stride: number,
  bn: MobileNetSpec['bn'],
  act: { kind: SiteKind; primary: boolean } | null,
): Sym {
  let y = b.bn(b.conv(x, `${prefix}.conv`, channels, kernel, stride), `${prefix}.bn`, bn);
  if (act) y = b.site(y, `${prefix}.act`, act.kind, act.primary);
  return y;
}

function invertedResidual(b: Builder, x: Sym, s: BlockSpec, stride: number, bn: MobileNetSpec['bn'], dropPath: number): Sym {
  const act = { kind: s.act, primary: s.primary };
  let y = x;
  if (s.expanded !== s.input) y = convBnAct(b, y, `${s.name}.expand`, s.expanded, 1, 1, bn, act);
  y = b.bn(b.dwConv(y, `${s.name}.dw.conv`, s.kernel, stride), `${s.name}.dw.bn`, bn);
  y = b.site(y, `${s.name}.dw.act`, s.act, s.primary);
  if (s.se) y = b.se(y, `${s.name}.se`, s.se.squeeze, s.se.act, s.se.gate, s.se.primary);
  y = convBnAct(b, y, `${s.name}.project`, s.out, 1, 1, bn, null);
  if (stride === 1 && s.input === s.out) {
    if (dropPath > 0) y = b.dropout(y, `${s.name}.drop_path`, dropPath, 'row');
    y = b.add(y, x, `${s.name}.add`);
  }
  return y;
}

/**
 * The stem and the blocks, shared by the classifier (`buildMobileNet`) and the detection backbone
 * (src/models/features.ts), so both have the same layer names and creation order; returns every
 * block's output in order. Stems and rates as `buildMobileNet`.
 */
export function mobileTrunk(b: Builder, input: Sym, spec: MobileNetSpec, o: { stem: 'imagenet' | 'small'; dropPath?: number }): Sym[] {
  const small = o.stem === 'small';
  let x = convBnAct(b, input, spec.stem.name, spec.stem.channels, 3, small ? 1 : 2, spec.bn, { kind: spec.stem.act, primary: spec.stem.primary });
  const firstDown = small ? spec.blocks.findIndex((s) => s.stride === 2) : -1;
  const dropPath = o.dropPath ?? spec.dropPath;
  return spec.blocks.map((s, i) => {
    x = invertedResidual(b, x, s, i === firstDown ? 1 : s.stride, spec.bn, (dropPath * i) / spec.blocks.length);
    return x;
  });
}

/**
 * Builds a resolved mobile network. Stems: 'imagenet' = the reference (3x3/2 stem conv, 32x
 * downsampling, 224 -> 7); 'small' = 3x3/1 stem and the first stride-2 block at stride 1
 * (8x downsampling, 32 -> 4, 28 -> 4), as the usual CIFAR ports of MobileNet-V2 do. A block whose
 * stride becomes 1 gets the residual connection when its input and output widths agree.
 * `o.dropout` / `o.dropPath` override the reference rates (the drop-path rate of block i is
 * `dropPath * i / blocks`, as torchvision).
 */
export function buildMobileNet(name: string, spec: MobileNetSpec, o: ModelBuildOptions): tfl.LayersModel {
  const b = new Builder(o.seed, o.activation, o.sites ?? 'all');
  const input = tfl.input({ shape: o.inputShape, name: 'input' });
  const blocks = mobileTrunk(b, input, spec, o);
  let x = blocks[blocks.length - 1];
  x = convBnAct(b, x, spec.head.name, spec.head.channels, 1, 1, spec.bn, { kind: spec.head.act, primary: spec.head.primary });
  x = b.globalPool(x);
  const c = spec.classifier;
  if (c.hidden) {
    x = b.linear(x, 'classifier.fc1', c.hidden.units, c.init);
    x = b.site(x, 'classifier.act', c.hidden.act, c.hidden.primary);
  }
  const rate = o.dropout ?? c.dropout;
  if (rate > 0) x = b.dropout(x, 'classifier.dropout', rate);
  const logits = b.linear(x, 'classifier.fc', o.numClasses, c.init);
  return tfl.model({ inputs: input, outputs: logits, name });
}
