/**
 * ONNX forms of the layers an inference plan leaves unfolded, keyed by tfjs class name (a registry: a new
 * layer or activation adds one entry). Every form uses standard operators only and computes the layer's
 * inference function in NCHW: rank-4 values are [N, C, H, W], rank-2 values [N, C]; per-channel parameters
 * are shaped [C, 1, 1] or [C] to broadcast along axis 1.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { OnnxBuilder } from './builder.js';

/** A value in the graph: its name and rank (4: NCHW feature map, 2: features). */
export interface OnnxValue {
  name: string;
  rank: number;
}

/** Writes one layer's nodes for its inputs and returns its output. */
export type LayerExporter = (g: OnnxBuilder, layer: tfl.layers.Layer, inputs: OnnxValue[]) => OnnxValue;

type Json = Record<string, unknown>;

/** The layer's describe() record (activation layers report their learned parameters through it). */
function described(layer: tfl.layers.Layer): Json {
  const d = (layer as unknown as { describe?: () => Json }).describe;
  if (typeof d !== 'function') throw new Error(`${layer.name}: no describe() to read its parameters from`);
  return d.call(layer);
}

function weights(layer: tfl.layers.Layer): Float32Array[] {
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

/** A per-channel parameter vector shaped to broadcast along axis 1 of a value of `rank`. */
export function perChannel(g: OnnxBuilder, prefix: string, v: ArrayLike<number>, rank: number): string {
  return g.constant(prefix, v, rank === 4 ? [v.length, 1, 1] : [v.length]);
}

function scalar(g: OnnxBuilder, prefix: string, v: number): string {
  return g.constant(prefix, [v], []);
}

/**
 * A row-major 4-D array with its axes permuted (output axis i is input axis perm[i]): how tfjs's NHWC data and HWIO
 * kernels become ONNX's NCHW and OIHW.
 */
export function transpose4(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): { data: Float32Array; dims: number[] } {
  const stride = [shape[1]! * shape[2]! * shape[3]!, shape[2]! * shape[3]!, shape[3]!, 1];
  const dims = perm.map((a) => shape[a]!);
  const [s0, s1, s2, s3] = perm.map((a) => stride[a]!);
  const data = new Float32Array(x.length);
  let o = 0;
  for (let i = 0; i < dims[0]!; i++)
    for (let j = 0; j < dims[1]!; j++)
      for (let k = 0; k < dims[2]!; k++) for (let l = 0; l < dims[3]!; l++) data[o++] = x[i * s0! + j * s1! + k * s2! + l * s3!]!;
  return { data, dims };
}

/**
 * A tfjs conv kernel ([kh, kw, ci, co]; depthwise [kh, kw, c, m]) as ONNX's Conv weight [co, ci / group, kh, kw]
 * (depthwise: [c * m, 1, kh, kw], output channel c * m + j, as tfjs orders it).
 */
export function convWeight(k: tf.Tensor, depthwise: boolean): { data: Float32Array; dims: number[] } {
  const [kh, kw, c, m] = k.shape as [number, number, number, number];
  if (!depthwise) return transpose4(k.dataSync(), k.shape, [3, 2, 0, 1]);
  return { data: transpose4(k.dataSync(), k.shape, [2, 3, 0, 1]).data, dims: [c * m, 1, kh, kw] };
}

/** Conv attributes for tfjs padding ('same' as TF's SAME: extra padding at the end, ONNX SAME_UPPER). */
export function convAttrs(pad: 'same' | 'valid' | number, strides: number | number[], dilations: number | number[], kernel: number[], group: number) {
  const pair = (v: number | number[]) => (Array.isArray(v) ? v : [v, v]);
  const base = { kernel_shape: kernel, strides: pair(strides), dilations: pair(dilations), group };
  if (pad === 'same') return { ...base, auto_pad: 'SAME_UPPER' };
  const p = pad === 'valid' ? 0 : pad;
  return { ...base, pads: [p, p, p, p] };
}

/** Appends ReLU / ReLU6 / sigmoid after a node, as a conv's epilogue or a layer's activation config. */
export function fixedActivation(g: OnnxBuilder, x: string, kind: string, rank: number): string {
  switch (kind) {
    case 'linear':
      return x;
    case 'relu':
      return g.node('Relu', [x]);
    case 'relu6':
      return g.node('Clip', [x, scalar(g, 'zero', 0), scalar(g, 'six', 6)]);
    case 'sigmoid':
      return g.node('Sigmoid', [x]);
    case 'hardsigmoid':
      return g.node('HardSigmoid', [x], { alpha: { float: 1 / 6 }, beta: { float: 0.5 } });
    case 'hardswish':
      return g.node('HardSwish', [x]);
    case 'silu':
    case 'swish':
      return g.node('Mul', [x, g.node('Sigmoid', [x])]);
    default:
      throw new Error(`no ONNX form for the activation '${kind}' (rank ${rank})`);
  }
}

/** Conv2D / DepthwiseConv2D that the plan did not fold (no batch norm after it: e.g. squeeze-excitation). */
const conv: LayerExporter = (g, layer, [x]) => {
  const cfg = layer.getConfig();
  const [k, b] = layer.getWeights();
  const shape = k!.shape;
  const depthwise = layer.getClassName() === 'DepthwiseConv2D';
  const w = convWeight(k!, depthwise);
  const ins = [x!.name, g.constant(`${layer.name}.weight`, w.data, w.dims)];
  if (b) ins.push(g.constant(`${layer.name}.bias`, b.dataSync(), [w.dims[0]!]));
  const y = g.node('Conv', ins, convAttrs(cfg.padding as 'same' | 'valid', cfg.strides as number | number[], (cfg.dilationRate ?? 1) as number | number[], [shape[0]!, shape[1]!], depthwise ? shape[2]! : 1), g.name(layer.name));
  return { name: fixedActivation(g, y, String(cfg.activation), 4), rank: 4 };
};

const batchNorm: LayerExporter = (g, layer, [x]) => {
  const [gamma, beta, mean, variance] = weights(layer);
  const eps = (layer as unknown as { epsilon: number }).epsilon;
  const c = gamma!.length;
  const p = layer.name;
  const y = g.node('BatchNormalization', [x!.name, g.constant(`${p}.gamma`, gamma!, [c]), g.constant(`${p}.beta`, beta!, [c]), g.constant(`${p}.mean`, mean!, [c]), g.constant(`${p}.var`, variance!, [c])], { epsilon: { float: eps } }, g.name(p));
  return { name: y, rank: x!.rank };
};

const dense: LayerExporter = (g, layer, [x]) => {
  const [k, b] = layer.getWeights();
  const [inF, outF] = k!.shape as [number, number];
  const ins = [x!.name, g.constant(`${layer.name}.weight`, k!.dataSync(), [inF, outF])];
  if (b) ins.push(g.constant(`${layer.name}.bias`, b.dataSync(), [outF]));
  const y = g.node('Gemm', ins, {}, g.name(layer.name));
  return { name: fixedActivation(g, y, String(layer.getConfig().activation), 2), rank: 2 };
};

/** SE's reshape of pooled features [N, C] to a [1, 1, C] map: in NCHW, [N, C, 1, 1]. */
const reshape: LayerExporter = (g, layer, [x]) => {
  const target = layer.getConfig().targetShape as number[];
  if (x!.rank !== 2 || target.length !== 3 || target[0] !== 1 || target[1] !== 1) throw new Error(`${layer.name}: only the [N, C] -> [N, 1, 1, C] reshape has an ONNX form here (target ${JSON.stringify(target)})`);
  return { name: g.node('Unsqueeze', [x!.name, g.ints('axes', [2, 3])], {}, g.name(layer.name)), rank: 4 };
};

const zeroPadding: LayerExporter = (g, layer, [x]) => {
  const [[t, bt], [l, r]] = layer.getConfig().padding as number[][];
  return { name: g.node('Pad', [x!.name, g.ints('pads', [0, 0, t!, l!, 0, 0, bt!, r!])], { mode: 'constant' }, g.name(layer.name)), rank: 4 };
};

const maxPool: LayerExporter = (g, layer, [x]) => {
  const { poolSize, strides } = layer.getConfig() as { poolSize: number; strides: number };
  const p = Math.floor(poolSize / 2);
  return { name: g.node('MaxPool', [x!.name], { kernel_shape: [poolSize, poolSize], strides: [strides, strides], pads: [p, p, p, p] }, g.name(layer.name)), rank: 4 };
};

const globalPool: LayerExporter = (g, layer, [x]) => ({ name: g.node('Flatten', [g.node('GlobalAveragePool', [x!.name])], { axis: 1 }, g.name(layer.name)), rank: 2 });

const binary =
  (op: 'Add' | 'Mul'): LayerExporter =>
  (g, layer, ins) => {
    let y = ins[0]!.name;
    for (const v of ins.slice(1)) y = g.node(op, [y, v.name]);
    return { name: g.node('Identity', [y], {}, g.name(layer.name)), rank: Math.max(...ins.map((v) => v.rank)) };
  };

const fixed: LayerExporter = (g, layer, [x]) => ({ name: fixedActivation(g, x!.name, String((layer as unknown as { kind: string }).kind), x!.rank), rank: x!.rank });

const identity: LayerExporter = (_g, _layer, [x]) => x!;

// ---- learned activations ------------------------------------------------------------------------

const swish: LayerExporter = (g, layer, [x]) => {
  const w = layer.getWeights();
  const beta = w.length ? w[0]!.dataSync()[0]! : Number(layer.getConfig().beta ?? 1);
  const bx = beta === 1 ? x!.name : g.node('Mul', [x!.name, scalar(g, `${layer.name}.beta`, beta)]);
  return { name: g.node('Mul', [x!.name, g.node('Sigmoid', [bx])], {}, g.name(layer.name)), rank: x!.rank };
};

const prelu: LayerExporter = (g, layer, [x]) => {
  const alpha = described(layer).alpha as number[];
  return { name: g.node('PRelu', [x!.name, perChannel(g, `${layer.name}.alpha`, alpha, x!.rank)], {}, g.name(layer.name)), rank: x!.rank };
};

/** APL: max(0, x) + sum_s a_s max(0, b_s - x), per channel. */
const apl: LayerExporter = (g, layer, [x]) => {
  const d = described(layer) as { a: number[][]; b: number[][] };
  let y = g.node('Relu', [x!.name]);
  d.a.forEach((a, s) => {
    const hinge = g.node('Relu', [g.node('Sub', [perChannel(g, `${layer.name}.b${s}`, d.b[s]!, x!.rank), x!.name])]);
    y = g.node('Add', [y, g.node('Mul', [perChannel(g, `${layer.name}.a${s}`, a, x!.rank), hinge])]);
  });
  return { name: g.node('Identity', [y], {}, g.name(layer.name)), rank: x!.rank };
};

/** PAU (safe, version A): P(x) / (1 + |b1||x| + … + |b4||x|^4), both by Horner's rule as the kernels evaluate them. */
const pau: LayerExporter = (g, layer, [x]) => {
  const d = described(layer) as { numerator: number[]; denominator: number[] };
  const a = d.numerator;
  const b = d.denominator.map(Math.abs);
  const c = (v: number, k: string) => scalar(g, `${layer.name}.${k}`, v);
  let p = c(a[5]!, 'a5');
  for (let j = 4; j >= 0; j--) p = g.node('Add', [g.node('Mul', [p, x!.name]), c(a[j]!, `a${j}`)]);
  const ax = g.node('Abs', [x!.name]);
  let q = c(b[3]!, 'b4');
  for (let k = 2; k >= 0; k--) q = g.node('Add', [g.node('Mul', [q, ax]), c(b[k]!, `b${k + 1}`)]);
  q = g.node('Add', [g.node('Mul', [q, ax]), c(1, 'one')]);
  return { name: g.node('Div', [p, q], {}, g.name(layer.name)), rank: x!.rank };
};

/** FReLU: max(x, BN(depthwise 3x3 conv(x))), the conv with same padding and stride 1. */
const frelu: LayerExporter = (g, layer, [x]) => {
  const [k, gamma, beta, mean, variance] = layer.getWeights();
  const eps = (layer as unknown as { epsilon: number }).epsilon;
  const c = k!.shape[2]!;
  const p = layer.name;
  const w = convWeight(k!, true);
  const dw = g.node('Conv', [x!.name, g.constant(`${p}.kernel`, w.data, w.dims)], convAttrs(1, [1, 1], [1, 1], [3, 3], c));
  const bn = g.node('BatchNormalization', [dw, ...[gamma, beta, mean, variance].map((t, i) => g.constant(`${p}.bn${i}`, t!.dataSync(), [c]))], { epsilon: { float: eps } });
  return { name: g.node('Max', [x!.name, bn], {}, g.name(p)), rank: 4 };
};

/**
 * PWLU in the kernels' table form (src/ops/pwlu.ts): the segment (left, N intervals, right) picks a slope S and an
 * intercept O from tables of N + 2 entries, out = S x + O. The segment is trunc(clip(x / d + 1 - BL / d, 0, N + 1)):
 * one multiply-add, a clip and a cast, then two Gathers; eight element-wise passes whatever N is, where the
 * sum-of-ReLUs form needs three per breakpoint. Channel-wise: one table per channel, flattened, the segment offset
 * by channel * (N + 2). The indices are int32: the Gathers dominate the cost in onnxruntime (they copy one element
 * per index), and int32 indices made the ResNet-20 export 17% faster than int64 (median of 3 alternating runs, 2 threads),
 * while dropping the multiply-add (folding it into the previous Conv) gained under 3%, so it stays.
 */
const pwlu: LayerExporter = (g, layer, [x]) => {
  const d = described(layer) as { n: number; instances: { bl: number; br: number; kl: number; kr: number; heights: number[] }[] };
  const n = d.n;
  const segs = n + 2;
  const slope: number[] = [];
  const offset: number[] = [];
  const bl: number[] = [];
  const step: number[] = [];
  for (const q of d.instances) {
    const dd = Math.fround(Math.fround(q.br - q.bl) / n);
    const y = q.heights.map(Math.fround);
    slope.push(q.kl);
    offset.push(y[0]! - q.kl * q.bl);
    for (let i = 0; i < n; i++) {
      const k = (y[i + 1]! - y[i]!) / dd;
      slope.push(k);
      offset.push(y[i]! - k * (q.bl + i * dd));
    }
    slope.push(q.kr);
    offset.push(y[n]! - q.kr * q.br);
    bl.push(q.bl);
    step.push(dd);
  }
  const p = layer.name;
  const channelWise = d.instances.length > 1;
  const vec = (name: string, v: number[]) => (channelWise ? perChannel(g, `${p}.${name}`, v, x!.rank) : scalar(g, `${p}.${name}`, v[0]!));
  // u + 1 = x / d + (1 - BL / d) in one multiply-add; clipped to [0, N + 1] and cast (truncation = floor there).
  const inv = step.map((dd) => 1 / dd);
  const u1 = g.node('Add', [g.node('Mul', [x!.name, vec('inv_d', inv)]), vec('shift', bl.map((b, i) => 1 - b * inv[i]!))]);
  const seg = g.node('Clip', [u1, scalar(g, 'zero', 0), scalar(g, `${p}.last`, n + 1)]);
  let index = g.node('Cast', [seg], { to: 6 }); // INT32
  if (channelWise) {
    const base = Array.from({ length: d.instances.length }, (_, c) => c * segs);
    index = g.node('Add', [index, g.ints(`${p}.base`, base, x!.rank === 4 ? [base.length, 1, 1] : [base.length], 32)]);
  }
  const s = g.node('Gather', [g.constant(`${p}.slopes`, slope, [slope.length]), index]);
  const o = g.node('Gather', [g.constant(`${p}.offsets`, offset, [offset.length]), index]);
  return { name: g.node('Add', [g.node('Mul', [s, x!.name]), o], {}, g.name(p)), rank: x!.rank };
};

/** tfjs class name → its ONNX form. */
export const LAYER_EXPORTERS: Readonly<Record<string, LayerExporter>> = {
  Conv2D: conv,
  DepthwiseConv2D: conv,
  PwluBatchNorm: batchNorm,
  Dense: dense,
  Reshape: reshape,
  ZeroPadding2D: zeroPadding,
  PwluTorchMaxPool: maxPool,
  GlobalAveragePooling2D: globalPool,
  Add: binary('Add'),
  Multiply: binary('Mul'),
  PwluFixedActivation: fixed,
  PwluSeededDropout: identity,
  PwluReLU: (g, layer, [x]) => ({ name: g.node('Relu', [x!.name], {}, g.name(layer.name)), rank: x!.rank }),
  PwluHardSwish: (g, layer, [x]) => ({ name: g.node('HardSwish', [x!.name], {}, g.name(layer.name)), rank: x!.rank }),
  PwluSwish: swish,
  PwluPReLU: prelu,
  PwluAPL: apl,
  PwluPAU: pau,
  PwluFReLU: frelu,
  PwluPWLU: pwlu,
};
