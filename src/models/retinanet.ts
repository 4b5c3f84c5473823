/**
 * RetinaNet (Lin et al. 2017) as torchvision's `retinanet_resnet50_fpn` (v1) lays it out, on any
 * backbone of the zoo that exposes C3..C5 (src/models/features.ts):
 *
 * - FPN (`FeaturePyramidNetwork` + `LastLevelP6P7(256, 256)`): 1x1 lateral convs `fpn.inner3..5`
 *   (bias) on C3..C5, top-down nearest 2x upsampling + add, 3x3 output convs `fpn.out3..5` (bias);
 *   P6 = `fpn.p6` (3x3/2) on P5 (not C5: in_channels == out_channels), P7 = `fpn.p7` (3x3/2) on
 *   act(P6), where the act is an activation site `fpn.p6.act` (ReLU in the reference). Init
 *   kaiming_uniform_(a=1), bias 0.
 * - Heads shared across P3..P7 (one set of layers applied to every level, as torchvision's):
 *   classification = `headConvs` x (3x3 conv `head.cls.conv{i}` + bias, site `head.cls.act{i}`)
 *   then `head.cls.logits` (3x3, A*K, bias -log((1 - prior) / prior)); box = the same with
 *   `head.box.*` and `head.box.reg` (3x3, A*4, bias 0). Head convs init N(0, 0.01).
 * - Outputs `cls` [N, A_total, K] and `box` [N, A_total, 4]: each level's NHWC map [N, H, W, A*K]
 *   reshaped to [N, H*W*A, K] (location row-major, then the A anchors; torchvision's
 *   view/permute/reshape), the levels P3..P7 concatenated on axis 1.
 *
 * Layers are created in torchvision's module order (backbone, FPN inner then layer blocks, P6, P7,
 * classification head, regression head), so creation order maps onto its state dict. Every
 * activation site (backbone, FPN, heads) comes from the configured activation factory; a head's
 * site is one instance applied to all five levels, so its state (PWLU's statistics) accumulates
 * over the levels as a shared torch module's does.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { UserError } from '../util/errors.js';
import type { Builder, ConvInit, ConvOptions } from './blocks.js';
import { hasFeatures, type DetectorBuildOptions } from './features.js';
import { getModel, modelNames } from './registry.js';

type Sym = tfl.SymbolicTensor;

function shapeList(s: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
  return (Array.isArray(s[0]) ? s : [s]) as tfl.Shape[];
}

/**
 * FPN's top-down upsampling: nearest-neighbour 2x of `x`, cropped to the spatial size of `like`
 * (torchvision's `F.interpolate(x, size=like.shape[-2:], mode="nearest")`, which for a size of
 * 2H or 2H - 1 from H picks source row floor(i / 2) either way). Built from a broadcasting add and
 * reshapes, whose gradient is a sum: no ResizeNearestNeighbor kernel needed (the torch backend has
 * none), and the sizes are read from the tensors at call time (images of any size).
 */
export class NearestUpsample extends tfl.layers.Layer {
  static className = 'PwluNearestUpsample';

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const [x, like] = shapeList(inputShape);
    return [x![0]!, like![1]!, like![2]!, x![3]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error(`${this.name}: expects [x, like]`);
    const [x, like] = inputs as [tf.Tensor4D, tf.Tensor4D];
    const [n, h, w, c] = x.shape;
    const [th, tw] = [like.shape[1], like.shape[2]];
    if (th > 2 * h || tw > 2 * w || th < 2 * h - 1 || tw < 2 * w - 1) {
      throw new Error(`${this.name}: cannot upsample ${h}x${w} by 2 to ${th}x${tw} (not a stride-2 level below it)`);
    }
    return tf.tidy(() => {
      const up = tf.reshape(tf.add(tf.reshape(x, [n, h, 1, w, 1, c]), tf.zeros([1, 1, 2, 1, 2, 1])), [n, 2 * h, 2 * w, c]);
      return th === 2 * h && tw === 2 * w ? up : tf.slice(up, [0, 0, 0, 0], [n, th, tw, c]);
    });
  }
}
tf.serialization.registerClass(NearestUpsample);

/** P3..P7 from C3..C5 (torchvision's FeaturePyramidNetwork + LastLevelP6P7 on P5). */
function pyramid(b: Builder, c: [Sym, Sym, Sym], width: number): Sym[] {
  const init: ConvOptions = { bias: true, init: 'kaimingUniformA1' };
  const [lat3, lat4, lat5] = c.map((x, i) => b.conv(x, `fpn.inner${i + 3}`, width, 1, 1, init)) as [Sym, Sym, Sym];
  const up = (x: Sym, like: Sym, level: number): Sym => new NearestUpsample({ name: `fpn.up${level}` }).apply([x, like]) as Sym;
  const td4 = b.add(lat4, up(lat5, lat4, 4), 'fpn.add4');
  const td3 = b.add(lat3, up(td4, lat3, 3), 'fpn.add3');
  const [p3, p4, p5] = [td3, td4, lat5].map((x, i) => b.conv(x, `fpn.out${i + 3}`, width, 3, 1, init)) as [Sym, Sym, Sym];
  const p6 = b.conv(p5, 'fpn.p6', width, 3, 2, init);
  const p7 = b.conv(b.site(p6, 'fpn.p6.act', 'relu'), 'fpn.p7', width, 3, 2, init);
  return [p3, p4, p5, p6, p7];
}

/**
 * One RetinaNet head (RetinaNetClassificationHead / RetinaNetRegressionHead): its layers created
 * once and applied to every level; returns [N, sum H*W*A, perAnchor].
 */
function head(
  b: Builder,
  levels: Sym[],
  o: { name: 'cls' | 'box'; predictor: string; width: number; convs: number; anchors: number; perAnchor: number; bias: number; hidden: ConvInit },
): Sym {
  const layers: tfl.layers.Layer[] = [];
  for (let i = 0; i < o.convs; i++) {
    layers.push(b.sharedConv(`head.${o.name}.conv${i}`, o.width, 3, { bias: true, init: o.hidden }));
    layers.push(b.sharedSite(`head.${o.name}.act${i}`, o.width, 'relu'));
  }
  layers.push(b.sharedConv(`head.${o.name}.${o.predictor}`, o.anchors * o.perAnchor, 3, { bias: true, init: { std: 0.01 }, biasValue: o.bias }));
  const flat = levels.map((p, l) => {
    const y = layers.reduce((x, layer) => layer.apply(x) as Sym, p);
    return tfl.layers.reshape({ targetShape: [-1, o.perAnchor], name: `head.${o.name}.flat${l + 3}` }).apply(y) as Sym;
  });
  return tfl.layers.concatenate({ axis: 1, name: o.name }).apply(flat) as Sym;
}

function check(ok: boolean, what: string, value: unknown): void {
  if (!ok) throw new UserError(`RetinaNet: ${what}, got ${String(value)}`);
}

/** Builds RetinaNet on a zoo backbone: the detector the detection task trains (outputs `cls`, `box`). */
export function buildRetinaNet(o: DetectorBuildOptions): tfl.LayersModel {
  const entry = getModel(o.backbone);
  if (!entry || !hasFeatures(entry)) {
    const ok = modelNames().filter((n) => {
      const e = getModel(n);
      return e !== undefined && hasFeatures(e);
    });
    throw new UserError(`model.arch '${o.backbone}' cannot be a RetinaNet backbone (one of: ${ok.join(', ')})`);
  }
  const int = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;
  check(int(o.numClasses, 1), 'the class count must be a positive integer', o.numClasses);
  check(int(o.headWidth, 1), 'the head width must be a positive integer', o.headWidth);
  check(int(o.headConvs, 0), 'the head conv count must be a non-negative integer', o.headConvs);
  check(int(o.anchorsPerLocation, 1), 'the anchors per location must be a positive integer', o.anchorsPerLocation);
  check(o.priorProb > 0 && o.priorProb < 1, 'the prior probability must be in (0, 1)', o.priorProb);
  const f = entry.features({
    width: o.width,
    channels: o.channels,
    stem: o.stem ?? 'imagenet',
    activation: o.activation,
    sites: o.sites,
    seed: o.seed,
    bn: o.backboneBn,
  });
  const b = f.builder;
  const levels = pyramid(b, [f.c3, f.c4, f.c5], o.headWidth);
  // torchvision's N(0, 0.01) for every head conv, or He-normal for the hidden ones (see DetectorBuildOptions.headInit).
  const hidden: ConvInit = (o.headInit ?? 'normal') === 'normal' ? { std: 0.01 } : 'kaimingNormalFanOut';
  const common = { width: o.headWidth, convs: o.headConvs, anchors: o.anchorsPerLocation, hidden };
  const cls = head(b, levels, { ...common, name: 'cls', predictor: 'logits', perAnchor: o.numClasses, bias: -Math.log((1 - o.priorProb) / o.priorProb) });
  const box = head(b, levels, { ...common, name: 'box', predictor: 'reg', perAnchor: 4, bias: 0 });
  return tfl.model({ inputs: f.input, outputs: [cls, box], name: `retinanet_${o.backbone}` });
}
