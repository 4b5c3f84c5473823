/**
 * A trained model as ONNX: the inference plan's schedule (conv + batch norm (+ ReLU/ReLU6) folded into one
 * Conv, src/models/infer.ts) written node by node in NCHW, with every other layer in its standard-operator
 * form (./layers.ts). The input is `input` [batch, C, H, W] float32, the output `logits` [batch, classes].
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { InferencePlan } from '../../models/infer.js';
import { OnnxBuilder, type Dim } from './builder.js';
import { convAttrs, convWeight, type OnnxValue } from '../../activations/onnx.js';
import { fixedActivation, LAYER_EXPORTERS } from './forms.js';

/** Export options: a fixed batch size or a symbolic one. */
export interface OnnxExportOptions {
  batch: number | 'dynamic';
  /** Fold batch norm (and ReLU/ReLU6) into the convolutions, as the inference plan does (default); false keeps BatchNormalization nodes. */
  foldBn?: boolean;
  /** Written into the model's metadata (e.g. the run's config hash). */
  metadata?: Record<string, string>;
  /** Per activation name, which of its alternative ONNX forms to write (e.g. { pwlu: 'table' }); absent: the spec's default. */
  forms?: Record<string, string>;
  /** Wrap PWLU in its model-local `pwlu.Pwlu` function (default); false writes the same nodes inline. */
  functions?: boolean;
}

/** The serialised ONNX model of a zoo model (functional, one input, one output). */
export function exportOnnx(model: tfl.LayersModel, opts: OnnxExportOptions): Uint8Array {
  const plan = InferencePlan.compile(model, { fold: opts.foldBn !== false });
  if (!plan) throw new Error(`${model.name}: its graph has no inference plan (shared layers or several inputs/outputs), so it cannot be exported`);
  try {
    const [, h, w, c] = model.inputs[0]!.shape;
    if (h == null || w == null || c == null) throw new Error(`${model.name}: the input size must be fixed to export`);
    const classes = model.outputs[0]!.shape[1]!;
    const batch: Dim = opts.batch === 'dynamic' ? 'batch' : opts.batch;
    const g = new OnnxBuilder({ forms: opts.forms, functions: opts.functions });
    const { input, output, steps } = plan.describe();
    const values = new Map<number, OnnxValue>([[input, { name: g.input('input', [batch, c, h, w]), rank: 4 }]]);
    const take = (id: number): OnnxValue => {
      const v = values.get(id);
      if (!v) throw new Error(`ONNX export: value ${id} used before it is computed`);
      return v;
    };
    for (const s of steps) {
      if (s.kind === 'conv') {
        const shape = s.filter.shape;
        const depthwise = s.convKind === 'depthwise';
        const w = convWeight(s.filter.dataSync(), s.filter.shape, depthwise);
        const weight = g.constant(`${s.name}.weight`, w.data, w.dims);
        const bias = g.constant(`${s.name}.bias`, s.bias.dataSync(), [w.dims[0]!]);
        const y = g.node(
          'Conv',
          [take(s.input).name, weight, bias],
          convAttrs(s.pad, s.strides, s.dilations, [shape[0], shape[1]], depthwise ? shape[2] : 1),
          g.name(s.name),
        );
        values.set(s.output, { name: fixedActivation(g, y, s.epilogue, 4), rank: 4 });
        continue;
      }
      const exporter = LAYER_EXPORTERS[s.layer.getClassName()];
      if (!exporter) throw new Error(`${s.layer.name}: no ONNX form for layer class ${s.layer.getClassName()}`);
      values.set(s.output, exporter(g, s.layer, s.inputs.map(take)));
    }
    const out = take(output);
    if (out.rank !== 2) throw new Error(`ONNX export: the model's output has rank ${out.rank}, expected [batch, classes]`);
    g.output(out.name, 'logits', [batch, classes]);
    return g.encode({ graphName: model.name, docString: 'pwlu export: NCHW float32 input, logits output', metadata: opts.metadata });
  } finally {
    plan.dispose();
  }
}
