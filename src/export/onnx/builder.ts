/**
 * An ONNX graph under construction: named values, float32/int32/int64 initialisers and nodes of the standard
 * operator set, serialised with onnx-proto's protobuf classes. Names are made unique per prefix, so exporters never
 * clash. Forms may call model-local functions (ModelProto.functions, IR version 8): a custom domain such as `pwlu`
 * whose bodies are standard operators only, so a runtime with a fused kernel for the op can take it and any other
 * runtime inlines the body; `functions: false` writes the bodies inline instead (nothing but the standard domain).
 */
import { createRequire } from 'node:module';
import type { onnx as OnnxNs } from 'onnx-proto';
import type { OnnxBody, OnnxFunction } from '../../activations/onnx.js';

const require = createRequire(import.meta.url);
const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

/**
 * The standard opset the exporters write against: 14, as HardSwish needs, and no later, because onnxruntime's NCHWc
 * layout pass (nchwc_transformer.cc, onnxruntime 1.23) converts BatchNormalization only up to version 14: at opset 15
 * and later, PWLU's BatchNormalization + Relu hinges stay NCHW behind reorders (checked on the optimised graph of the
 * ResNet-20 export, which is all NCHWc at 14). Every operator the forms write means the same at 14 as at 17.
 */
export const OPSET = 14;

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

function nodeProto(op: string, inputs: string[], output: string, name: string, attrs: Record<string, AttrValue>, domain = ''): OnnxNs.INodeProto {
  return { opType: op, domain, input: inputs, output: [output], name, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) };
}

/** The version every custom function domain is imported with. */
export const FUNCTION_DOMAIN_VERSION = 1;

/** How the graph is written: alternative activation forms, and whether forms may call functions. */
export interface OnnxBuilderOptions {
  /** Per activation name, which of its alternative ONNX forms to write (absent: the spec's default). */
  forms?: Readonly<Record<string, string>>;
  /** Write function-wrapped forms as model-local functions (default); false writes their bodies inline. */
  functions?: boolean;
}

/** Builds one graph; `encode` returns the serialised model. */
export class OnnxBuilder {
  private readonly nodes: OnnxNs.INodeProto[] = [];
  private readonly initializers: OnnxNs.ITensorProto[] = [];
  private readonly inputs: OnnxNs.IValueInfoProto[] = [];
  private readonly outputs: OnnxNs.IValueInfoProto[] = [];
  private readonly used = new Map<string, number>();
  /** Defined functions by domain and op type, with the serialised body that identifies each definition. */
  private readonly functions = new Map<string, { proto: OnnxNs.IFunctionProto; key: string }>();
  readonly forms: Readonly<Record<string, string>>;
  private readonly writeFunctions: boolean;

  constructor(opts: OnnxBuilderOptions = {}) {
    this.forms = opts.forms ?? {};
    this.writeFunctions = opts.functions !== false;
  }

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
    this.nodes.push(nodeProto(op, inputs, output, this.name(`node.${output}`), attrs));
    return output;
  }

  /**
   * Calls the function `fn` on `args`: its first call defines it (a second body under the same domain and op type,
   * e.g. another parameter count, is defined as `name_2`, ...), each call is one node of its domain. Without
   * functions the body is written inline on the arguments.
   */
  call(fn: OnnxFunction, args: string[], out?: string): string {
    if (args.length !== fn.inputs.length) throw new Error(`ONNX function ${fn.domain}.${fn.name}: ${args.length} arguments for ${fn.inputs.length} inputs`);
    if (!this.writeFunctions) {
      const y = fn.body(this, Object.fromEntries(fn.inputs.map((f, i) => [f, args[i]!])));
      return out === undefined ? y : this.node('Identity', [y], {}, out);
    }
    const proto = functionProto(fn);
    const key = JSON.stringify(onnx.FunctionProto.toObject(onnx.FunctionProto.create(proto)));
    let name = fn.name;
    for (let k = 2; ; k++) {
      const have = this.functions.get(`${fn.domain}.${name}`);
      if (!have) {
        this.functions.set(`${fn.domain}.${name}`, { proto: { ...proto, name }, key });
        break;
      }
      if (have.key === key) break;
      name = `${fn.name}_${k}`;
    }
    const output = out ?? this.name(`${args[0]!}.${name.toLowerCase()}`);
    this.nodes.push(nodeProto(name, args, output, this.name(`node.${output}`), {}, fn.domain));
    return output;
  }

  /** The serialised ModelProto. */
  encode(meta: { graphName: string; docString?: string; metadata?: Record<string, string> }): Uint8Array {
    const functions = [...this.functions.values()].map((f) => f.proto);
    const domains = [...new Set(functions.map((f) => f.domain!))];
    const model = onnx.ModelProto.create({
      // IR 8: the first with model-local functions (ModelProto.functions).
      irVersion: 8,
      opsetImport: [{ domain: '', version: OPSET }, ...domains.map((domain) => ({ domain, version: FUNCTION_DOMAIN_VERSION }))],
      functions,
      producerName: 'pwlu',
      docString: meta.docString ?? '',
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: { name: meta.graphName, input: this.inputs, output: this.outputs, initializer: this.initializers, node: this.nodes },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** A function's FunctionProto: its body written with local value names t0, t1, ... and the standard opset imported. */
function functionProto(fn: OnnxFunction): OnnxNs.IFunctionProto {
  const nodes: OnnxNs.INodeProto[] = [];
  const body: OnnxBody = {
    node(op, inputs, attrs = {}) {
      const output = `t${nodes.length}`;
      nodes.push(nodeProto(op, inputs, output, `n${nodes.length}`, attrs));
      return output;
    },
  };
  const y = fn.body(body, Object.fromEntries(fn.inputs.map((f) => [f, f])));
  if (fn.inputs.includes(y)) throw new Error(`ONNX function ${fn.domain}.${fn.name}: the body returns an input unchanged`);
  return { name: fn.name, domain: fn.domain, input: fn.inputs, output: [y], node: nodes, docString: fn.doc, opsetImport: [{ domain: '', version: OPSET }] };
}
