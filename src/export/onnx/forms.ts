/**
 * ONNX forms of the layers an inference plan leaves unfolded, keyed by tfjs class name: the model's own layers here,
 * and every activation's from its spec (`spec.onnx`, src/activations/specs/), so a new activation needs no entry.
 * Every form computes the layer's inference function in NCHW with standard operators (PWLU's inside a model-local
 * function of the `pwlu` domain, src/activations/onnx.ts).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { arrayWeights, isSpecBacked } from '../../activations/layer.js';
import { convAttrs, convWeight, onnxScalar, type OnnxValue } from '../../activations/onnx.js';
import { ACTIVATION_SPECS } from '../../activations/specs/index.js';
import type { OnnxBuilder } from './builder.js';

export type { OnnxValue } from '../../activations/onnx.js';

/** Writes one layer's nodes for its inputs and returns its output. */
export type LayerExporter = (g: OnnxBuilder, layer: tfl.layers.Layer, inputs: OnnxValue[]) => OnnxValue;

function weights(layer: tfl.layers.Layer): Float32Array[] {
  return layer.getWeights().map((w) => w.dataSync() as Float32Array);
}

/** A conv or dense layer config's activation name ('linear' when it has none). */
function activationOf(cfg: tf.serialization.ConfigDict): string {
  return typeof cfg.activation === 'string' ? cfg.activation : 'linear';
}

/** Appends ReLU / ReLU6 / sigmoid after a node, as a conv's epilogue or a layer's activation config. */
export function fixedActivation(g: OnnxBuilder, x: string, kind: string, rank: number): string {
  switch (kind) {
    case 'linear':
      return x;
    case 'relu':
      return g.node('Relu', [x]);
    case 'relu6':
      return g.node('Clip', [x, onnxScalar(g, 'zero', 0), onnxScalar(g, 'six', 6)]);
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
  const w = convWeight(k!.dataSync(), k!.shape, depthwise);
  const ins = [x!.name, g.constant(`${layer.name}.weight`, w.data, w.dims)];
  if (b) ins.push(g.constant(`${layer.name}.bias`, b.dataSync(), [w.dims[0]!]));
  const y = g.node(
    'Conv',
    ins,
    convAttrs(
      cfg.padding as 'same' | 'valid',
      cfg.strides as number | number[],
      (cfg.dilationRate ?? 1) as number | number[],
      [shape[0], shape[1]!],
      depthwise ? shape[2]! : 1,
    ),
    g.name(layer.name),
  );
  return { name: fixedActivation(g, y, activationOf(cfg), 4), rank: 4 };
};

const batchNorm: LayerExporter = (g, layer, [x]) => {
  const [gamma, beta, mean, variance] = weights(layer);
  const eps = (layer as unknown as { epsilon: number }).epsilon;
  const c = gamma!.length;
  const p = layer.name;
  const y = g.node(
    'BatchNormalization',
    [
      x!.name,
      g.constant(`${p}.gamma`, gamma!, [c]),
      g.constant(`${p}.beta`, beta!, [c]),
      g.constant(`${p}.mean`, mean!, [c]),
      g.constant(`${p}.var`, variance!, [c]),
    ],
    { epsilon: { float: eps } },
    g.name(p),
  );
  return { name: y, rank: x!.rank };
};

const dense: LayerExporter = (g, layer, [x]) => {
  const [k, b] = layer.getWeights();
  const [inF, outF] = k!.shape as [number, number];
  const ins = [x!.name, g.constant(`${layer.name}.weight`, k!.dataSync(), [inF, outF])];
  if (b) ins.push(g.constant(`${layer.name}.bias`, b.dataSync(), [outF]));
  const y = g.node('Gemm', ins, {}, g.name(layer.name));
  return { name: fixedActivation(g, y, activationOf(layer.getConfig()), 2), rank: 2 };
};

/** SE's reshape of pooled features [N, C] to a [1, 1, C] map: in NCHW, [N, C, 1, 1]. */
const reshape: LayerExporter = (g, layer, [x]) => {
  const target = layer.getConfig().targetShape as number[];
  if (x!.rank !== 2 || target.length !== 3 || target[0] !== 1 || target[1] !== 1)
    throw new Error(`${layer.name}: only the [N, C] -> [N, 1, 1, C] reshape has an ONNX form here (target ${JSON.stringify(target)})`);
  return { name: g.node('Unsqueeze', [x!.name, g.ints('axes', [2, 3])], {}, g.name(layer.name)), rank: 4 };
};

const zeroPadding: LayerExporter = (g, layer, [x]) => {
  const [[t, bt], [l, r]] = layer.getConfig().padding as [[number, number], [number, number]];
  return { name: g.node('Pad', [x!.name, g.ints('pads', [0, 0, t, l, 0, 0, bt, r])], { mode: 'constant' }, g.name(layer.name)), rank: 4 };
};

const maxPool: LayerExporter = (g, layer, [x]) => {
  const { poolSize, strides } = layer.getConfig() as { poolSize: number; strides: number };
  const p = Math.floor(poolSize / 2);
  return {
    name: g.node('MaxPool', [x!.name], { kernel_shape: [poolSize, poolSize], strides: [strides, strides], pads: [p, p, p, p] }, g.name(layer.name)),
    rank: 4,
  };
};

const globalPool: LayerExporter = (g, layer, [x]) => ({
  name: g.node('Flatten', [g.node('GlobalAveragePool', [x!.name])], { axis: 1 }, g.name(layer.name)),
  rank: 2,
});

const binary =
  (op: 'Add' | 'Mul'): LayerExporter =>
  (g, layer, ins) => {
    let y = ins[0]!.name;
    for (const v of ins.slice(1)) y = g.node(op, [y, v.name]);
    return { name: g.node('Identity', [y], {}, g.name(layer.name)), rank: Math.max(...ins.map((v) => v.rank)) };
  };

const fixed: LayerExporter = (g, layer, [x]) => ({
  name: fixedActivation(g, x!.name, String((layer as unknown as { kind: string }).kind), x!.rank),
  rank: x!.rank,
});

const identity: LayerExporter = (_g, _layer, [x]) => x!;

/** An activation layer's form: its spec's, on the weights it holds (a training layer or a loaded `pwlu/layers` one). */
const activationForm: LayerExporter = (g, layer, [x]) => {
  if (!isSpecBacked(layer)) throw new Error(`${layer.name}: a ${layer.getClassName()} layer that was not built from its activation spec`);
  const shape = layer.outputShape as tfl.Shape;
  const channels = x!.channels ?? shape[shape.length - 1] ?? undefined;
  return { name: layer.spec.onnx(g, { ...x!, channels }, arrayWeights(layer.namedWeights()), layer.options, layer.name), rank: x!.rank };
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
  ...Object.fromEntries(ACTIVATION_SPECS.map((s) => [s.className, activationForm])),
};
