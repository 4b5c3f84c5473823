import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { EpilogueActivation } from '../activations/types.js';
import { BatchNorm } from '../nn/batch-norm.js';

/**
 * Inference for the zoo's models without tfjs-layers' graph executor, with conv + batch norm (+ ReLU/ReLU6)
 * folded into one fused convolution, as inference engines do:
 *   W' = W * k,  b' = beta + (b - mean) * k,  k = gamma / sqrt(var + eps)   (k per output channel).
 * In eval mode batch norm is affine, so the folded network computes the same function (to float rounding);
 * it saves one pass over every conv output for the batch norm and one for the activation, and one kernel
 * launch each. Folded weights are cached and rebuilt only when a weight tensor changes.
 */

type Sym = tfl.SymbolicTensor;
type ConvKind = 'conv' | 'depthwise';
type Epilogue = EpilogueActivation['epilogue'];

/** A conv -> batch norm (-> fixed activation) chain run as one fused convolution. */
interface FusedStep {
  kind: 'fused';
  conv: tfl.layers.Layer;
  convKind: ConvKind;
  /** The conv's padding, or the size of a symmetric ZeroPadding2D in front of it that the conv absorbs. */
  pad: 'same' | 'valid' | number;
  strides: [number, number];
  dilations: [number, number];
  bn: BatchNorm;
  epilogue: Epilogue | 'linear';
  input: number;
  output: number;
}

/** Any other layer, called as it is. */
interface LayerStep {
  kind: 'layer';
  layer: tfl.layers.Layer;
  inputs: number[];
  output: number;
}

type Step = FusedStep | LayerStep;

interface Folded {
  key: object[];
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
}

const CONV_CLASSES: Record<string, ConvKind> = { Conv2D: 'conv', DepthwiseConv2D: 'depthwise' };

/** p when the layer is a ZeroPadding2D with p on every side, else null. */
function symmetricZeroPad(layer: tfl.layers.Layer): number | null {
  if (layer.getClassName() !== 'ZeroPadding2D') return null;
  const p = (layer.getConfig().padding as number[][]).flat();
  return p.every((v) => v === p[0]) ? p[0]! : null;
}

function epilogueOf(layer: tfl.layers.Layer): Epilogue | null {
  const e = (layer as Partial<EpilogueActivation>).epilogue;
  return e === 'relu' || e === 'relu6' ? e : null;
}

/** The single node of a layer used once; null for shared layers (the plan then declines the model). */
function onlyNode(layer: tfl.layers.Layer): { inputs: Sym[]; outputs: Sym[] } | null {
  if (layer.inboundNodes.length !== 1) return null;
  const n = layer.inboundNodes[0]!;
  return { inputs: n.inputTensors, outputs: n.outputTensors };
}

/** What an exporter sees of a plan step: a fused convolution with its folded weights (owned by the plan), or a layer as it is. */
export type PlanStep =
  | {
      kind: 'conv';
      name: string;
      convKind: ConvKind;
      pad: 'same' | 'valid' | number;
      strides: [number, number];
      dilations: [number, number];
      epilogue: Epilogue | 'linear';
      filter: tf.Tensor4D;
      bias: tf.Tensor1D;
      input: number;
      output: number;
    }
  | { kind: 'layer'; layer: tfl.layers.Layer; inputs: number[]; output: number };

/** A compiled inference schedule of one model. */
export class InferencePlan {
  private readonly folded = new Map<FusedStep, Folded>();
  /** How many steps read each intermediate tensor: it is freed after its last reader (as tfjs-layers does). */
  private readonly readers = new Map<number, number>();

  private constructor(
    private readonly steps: Step[],
    private readonly inputId: number,
    private readonly outputId: number,
  ) {
    for (const s of steps) for (const id of s.kind === 'fused' ? [s.input] : s.inputs) this.readers.set(id, (this.readers.get(id) ?? 0) + 1);
  }

  /**
   * The plan of a functional model, or null when its graph is not one the plan can run (shared layers, several
   * inputs/outputs). `fold: false` keeps every layer as it is (an export that keeps batch norm as its own node).
   */
  static compile(model: tfl.LayersModel, opts: { fold?: boolean } = {}): InferencePlan | null {
    if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
    const consumers = new Map<number, tfl.layers.Layer[]>();
    const nodes = new Map<tfl.layers.Layer, { inputs: Sym[]; outputs: Sym[] }>();
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      const node = onlyNode(layer);
      if (!node || node.outputs.length !== 1) return null;
      nodes.set(layer, node);
      for (const s of node.inputs) consumers.set(s.id, [...(consumers.get(s.id) ?? []), layer]);
    }
    const outputId = model.outputs[0]!.id;
    const soleConsumer = (s: Sym): tfl.layers.Layer | null => {
      const c = consumers.get(s.id);
      return c && c.length === 1 && s.id !== outputId ? c[0]! : null;
    };
    /** The batch norm a conv feeds alone, when the conv can be folded into a fused step. */
    const foldableBn = (conv: tfl.layers.Layer): BatchNorm | null => {
      if (opts.fold === false) return null;
      const cfg = conv.getConfig();
      if (!CONV_CLASSES[conv.getClassName()] || cfg.activation !== 'linear' || cfg.dataFormat === 'channels_first') return null;
      const bn = soleConsumer(nodes.get(conv)!.outputs[0]!);
      return bn instanceof BatchNorm ? bn : null;
    };
    const steps: Step[] = [];
    const absorbed = new Set<tfl.layers.Layer>();
    for (const [layer, node] of nodes) {
      if (absorbed.has(layer)) continue;
      // PyTorch-style padding: ZeroPadding2D(p) -> conv('valid') becomes one conv with padding p
      const padSize = symmetricZeroPad(layer);
      const padded = padSize !== null ? soleConsumer(node.outputs[0]!) : null;
      const conv = padded && padded.getConfig().padding === 'valid' && foldableBn(padded) ? padded : layer;
      const bn = foldableBn(conv);
      if (bn) {
        const bnOut = nodes.get(bn)!.outputs[0]!;
        const act = soleConsumer(bnOut);
        const epilogue = act ? epilogueOf(act) : null;
        for (const l of [conv, bn, ...(epilogue && act ? [act] : [])]) absorbed.add(l);
        const out = epilogue && act ? nodes.get(act)!.outputs[0]! : bnOut;
        const cfg = conv.getConfig();
        const pad = conv === layer ? (cfg.padding as 'same' | 'valid') : padSize!;
        const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [Number(v ?? 1), Number(v ?? 1)]) as [number, number];
        const [strides, dilations] = [pair(cfg.strides), pair(cfg.dilationRate)];
        const convKind = CONV_CLASSES[conv.getClassName()]!;
        const epi = epilogue ?? 'linear';
        steps.push({ kind: 'fused', conv, convKind, pad, strides, dilations, bn, epilogue: epi, input: node.inputs[0]!.id, output: out.id });
        continue;
      }
      steps.push({ kind: 'layer', layer, inputs: node.inputs.map((s) => s.id), output: node.outputs[0]!.id });
    }
    return new InferencePlan(steps, model.inputs[0]!.id, outputId);
  }

  /** Logits of a batch in inference mode (the caller owns the result). */
  run(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[this.inputId, x]]);
      const take = (id: number): tf.Tensor => {
        const v = values.get(id);
        if (!v) throw new Error(`inference plan: tensor ${id} is not computed yet`);
        return v;
      };
      const left = new Map(this.readers);
      for (const s of this.steps) {
        const inputs = s.kind === 'fused' ? [s.input] : s.inputs;
        const out = tf.tidy(() => {
          if (s.kind === 'fused') return this.fusedConv(s, take(s.input));
          const ins = inputs.map(take);
          const o = s.layer.call(ins.length === 1 ? ins[0]! : ins, { training: false });
          return Array.isArray(o) ? o[0]! : o;
        });
        values.set(s.output, out);
        for (const id of inputs) {
          const n = left.get(id)! - 1;
          left.set(id, n);
          if (n > 0 || id === this.inputId || id === this.outputId) continue;
          const t = values.get(id)!;
          values.delete(id);
          // a layer may return its input unchanged (dropout at inference): free only what nothing else holds
          if (![...values.values()].includes(t)) t.dispose();
        }
      }
      return take(this.outputId);
    });
  }

  /** The schedule as exporters walk it (src/export): the model's input and output ids and every step in order. */
  describe(): { input: number; output: number; steps: PlanStep[] } {
    const steps = this.steps.map((s): PlanStep => {
      if (s.kind === 'layer') return s;
      const { filter, bias } = this.foldedWeights(s);
      return {
        kind: 'conv',
        name: s.conv.name,
        convKind: s.convKind,
        pad: s.pad,
        strides: s.strides,
        dilations: s.dilations,
        epilogue: s.epilogue,
        filter,
        bias,
        input: s.input,
        output: s.output,
      };
    });
    return { input: this.inputId, output: this.outputId, steps };
  }

  /** Number of conv + batch-norm chains folded (for tests and logs). */
  get foldedCount(): number {
    return this.steps.filter((s) => s.kind === 'fused').length;
  }

  /** Number of zero-padding layers absorbed into the convolution after them. */
  get absorbedPads(): number {
    return this.steps.filter((s) => s.kind === 'fused' && typeof s.pad === 'number').length;
  }

  /** Releases the cached folded weights. */
  dispose(): void {
    for (const f of this.folded.values()) tf.dispose([f.filter, f.bias]);
    this.folded.clear();
  }

  private fusedConv(s: FusedStep, x: tf.Tensor): tf.Tensor {
    const { filter, bias } = this.foldedWeights(s);
    const { pad, strides, dilations, epilogue: activation } = s;
    if (s.convKind === 'depthwise') {
      return tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter, strides, pad, dilations, bias, activation });
    }
    return tf.fused.conv2d({ x: x as tf.Tensor4D, filter, strides, pad, dilations, bias, activation });
  }

  private foldedWeights(s: FusedStep): Folded {
    const conv = s.conv.weights.map((w) => w.read());
    const bnw = [s.bn.gamma, s.bn.beta, s.bn.movingMean, s.bn.movingVariance].map((w) => w.read());
    // tf.Variable keeps its identity across assign() but changes dataId: the dataIds say whether anything changed
    const key = [...conv, ...bnw].map((t) => t.dataId);
    const cached = this.folded.get(s);
    if (cached && cached.key.length === key.length && cached.key.every((k, i) => k === key[i])) return cached;
    if (cached) tf.dispose([cached.filter, cached.bias]);
    const [kernel, convBias] = conv as [tf.Tensor4D, tf.Tensor1D | undefined];
    const [gamma, beta, mean, variance] = bnw as tf.Tensor1D[];
    const [filter, bias] = tf.tidy(() => {
      const k = tf.mul(gamma!, tf.rsqrt(tf.add(variance!, s.bn.epsilon)));
      // conv: [kh,kw,ci,co] scales its last axis; depthwise: [kh,kw,c,m] with output channel c*m + j
      const kShape = s.convKind === 'depthwise' ? [kernel.shape[2], kernel.shape[3]] : [kernel.shape[3]];
      const f = tf.mul(kernel, tf.reshape(k, kShape)) as tf.Tensor4D;
      const centred = convBias ? tf.sub(convBias, mean!) : tf.neg(mean!);
      return [tf.keep(f), tf.keep(tf.add(beta!, tf.mul(centred, k)) as tf.Tensor1D)] as const;
    });
    const folded = { key, filter, bias };
    this.folded.set(s, folded);
    return folded;
  }
}

const plans = new WeakMap<tfl.LayersModel, InferencePlan | null>();

/**
 * Inference-mode logits of `model` for `x`: through its folded plan when the model has one, else
 * model.apply. The plan is compiled once per model and keeps its folded weights until they go stale.
 */
export function predict(model: tfl.LayersModel, x: tf.Tensor): tf.Tensor {
  let plan = plans.get(model);
  if (plan === undefined) {
    plan = InferencePlan.compile(model);
    plans.set(model, plan);
  }
  return plan ? plan.run(x) : (model.apply(x, { training: false }) as tf.Tensor);
}

/** Disposes a model together with the folded weights its inference plan cached. */
export function disposeModel(model: tfl.LayersModel): void {
  plans.get(model)?.dispose();
  plans.delete(model);
  model.dispose();
}
