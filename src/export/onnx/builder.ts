/**
 * An ONNX graph under construction: named values, float32/int32/int64 initialisers and nodes of the standard
 * operator set (no custom domains, so any ONNX runtime runs the result), serialised with onnx-proto's
 * protobuf classes. Names are made unique per prefix, so exporters never clash.
 */
import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

/** The standard opset the exporters write against (HardSwish needs 14; 17 is widely supported). */
export const OPSET = 17;

/** An attribute value: a number is an INT when integral and `int` is not false, else a FLOAT. */
export type AttrValue = number | number[] | string | { floats: number[] } | { float: number };

/** A dimension: a fixed size or a symbolic name (e.g. the batch). */
export type Dim = number | string;

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

function attribute(name: string, v: AttrValue): OnnxNs.IAttributeProto {
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger)) throw new Error(`ONNX attribute ${name}: integers expected, got ${JSON.stringify(v)}`);
    return { name, type: AT.INTS, ints: v };
  }
  if (typeof v === 'object' && 'floats' in v) return { name, type: AT.FLOATS, floats: v.floats };
  if (typeof v === 'object') return { name, type: AT.FLOAT, f: v.float };
  return Number.isInteger(v) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
}

function valueInfo(name: string, dims: Dim[]): OnnxNs.IValueInfoProto {
  return { name, type: { tensorType: { elemType: DT.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

/** Builds one graph; `encode` returns the serialised model. */
export class OnnxBuilder {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private readonly inputs: OnnxNs.IValueInfoProto[] = [];
  private readonly outputs: OnnxNs.IValueInfoProto[] = [];
  private readonly used = new Map<string, number>();

  /** A fresh value name from a readable prefix (layer names keep their dots). */
  name(prefix: string): string {
    const k = this.used.get(prefix) ?? 0;
    this.used.set(prefix, k + 1);
    return k === 0 ? prefix : `${prefix}_${k}`;
  }

  /** Declares the graph input. */
  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, dims));
    this.used.set(name, 1);
    return name;
  }

  /** Declares a value as a graph output. */
  output(value: string, name: string, dims: Dim[]): void {
    const out = name === value ? value : this.node('Identity', [value], {}, name);
    this.outputs.push(valueInfo(out, dims));
  }

  /** A float32 constant. */
  constant(prefix: string, values: ArrayLike<number>, dims: number[]): string {
    const name = this.name(prefix);
    const data = Float32Array.from(values);
    this.initializers.push({ name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** An int64 constant (shapes, axes), or int32 where an operator takes either (Gather indices: half the bytes). */
  ints(prefix: string, values: number[], dims: number[] = [values.length], bits: 32 | 64 = 64): string {
    const name = this.name(prefix);
    const data = bits === 64 ? BigInt64Array.from(values.map((v) => BigInt(v))) : Int32Array.from(values);
    this.initializers.push({ name, dims, dataType: bits === 64 ? DT.INT64 : DT.INT32, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Appends a node with one output and returns the output's name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    const output = out ?? this.name(`${inputs[0] ?? op}.${op.toLowerCase()}`);
    this.nodes.push({
      opType: op,
      input: inputs,
      output: [output],
      name: this.name(`node.${output}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  /** The serialised ModelProto. */
  encode(meta: { graphName: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'pwlu',
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: meta.graphName, input: this.inputs, output: this.outputs, initializer: this.initializers, node: this.nodes },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
