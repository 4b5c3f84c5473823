/**
 * The ONNX vocabulary activation forms are written in (ActivationSpec.onnx): the graph calls they need, which
 * src/export/onnx/builder.ts implements, and the layout helpers they share with the exporter's other forms. Every
 * form's nodes are standard operators and work in NCHW: rank-4 values are [N, C, H, W], rank-2 values [N, C];
 * per-channel parameters are shaped [C, 1, 1] or [C] to broadcast along axis 1. A form may wrap its nodes in a
 * model-local function (`call`: a FunctionProto of a custom domain whose body is standard operators, so a runtime
 * without a fused kernel inlines it). No runtime imports.
 */

/** An attribute value: a number is an INT when integral, else a FLOAT; `{ float }` forces a FLOAT. */
export type OnnxAttr = number | number[] | string | { floats: number[] } | { float: number };

/** The graph-building calls an ONNX form needs. */
export interface OnnxGraph {
  /** A fresh value name from a prefix. */
  name(prefix: string): string;
  /** A float32 initialiser. */
  constant(prefix: string, values: ArrayLike<number>, dims: number[]): string;
  /** An int64 (or int32) initialiser. */
  ints(prefix: string, values: number[], dims?: number[], bits?: 32 | 64): string;
  /** One node with one output; returns the output's name. */
  node(op: string, inputs: string[], attrs?: Record<string, OnnxAttr>, out?: string): string;
  /** The export's choice among an activation's alternative forms, keyed by activation name (absent: the spec's default). */
  readonly forms?: Readonly<Record<string, string>>;
  /**
   * Calls a model-local function on `args` (actual inputs in the order of `fn.inputs`): defined once per model from
   * `fn.body`, or the body written inline where the export writes no functions. Returns the output's name.
   */
  call(fn: OnnxFunction, args: string[], out?: string): string;
}

/** Where a function body writes its nodes: node calls only (a FunctionProto has no initialisers). */
export interface OnnxBody {
  /** One node with one output; returns the output's name. */
  node(op: string, inputs: string[], attrs?: Record<string, OnnxAttr>): string;
}

/** A model-local ONNX function: its domain and op type, formal inputs and a body of standard operators. */
export interface OnnxFunction {
  domain: string;
  name: string;
  /** Formal input names: the data input first, then the parameters. */
  inputs: string[];
  /** What the function computes and what its inputs are (its doc_string). */
  doc: string;
  /** Writes the body: `v` maps each formal input name to the value to use; returns the output's name. */
  body: (g: OnnxBody, v: Readonly<Record<string, string>>) => string;
}

/** One numeric parameter of a function-wrapped form, written as an initialiser at each call site. */
export interface OnnxParam {
  name: string;
  values: ArrayLike<number>;
  dims: number[];
  /** An int32 initialiser (Gather indices) rather than float32. */
  int32?: boolean;
}

/** Writes `params` as initialisers named after `prefix` and calls `fn` on x and them: one function call per site. */
export function onnxCallWithParams(g: OnnxGraph, fn: OnnxFunction, x: string, prefix: string, params: OnnxParam[], out?: string): string {
  const names = params.map((p) =>
    p.int32 ? g.ints(`${prefix}.${p.name}`, Array.from(p.values), p.dims, 32) : g.constant(`${prefix}.${p.name}`, p.values, p.dims),
  );
  const formals = [fn.inputs[0]!, ...params.map((p) => p.name)];
  if (formals.join() !== fn.inputs.join())
    throw new Error(`ONNX function ${fn.domain}.${fn.name}: parameters ${formals.join()} do not match its inputs ${fn.inputs.join()}`);
  return g.call(fn, [x, ...names], out);
}

/** A value in the graph: its name and rank (4: an NCHW feature map, 2: [N, C] features). */
export interface OnnxValue {
  name: string;
  rank: number;
  /** The channel count C where the exporter knows it (forms whose per-channel constants must be [C] need it). */
  channels?: number;
}

/** A per-channel parameter vector as a constant that broadcasts along axis 1 of a value of `rank`. */
export function onnxPerChannel(g: OnnxGraph, prefix: string, v: ArrayLike<number>, rank: number): string {
  return g.constant(prefix, v, rank === 4 ? [v.length, 1, 1] : [v.length]);
}

/** A scalar constant. */
export function onnxScalar(g: OnnxGraph, prefix: string, v: number): string {
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
export function convWeight(data: ArrayLike<number>, shape: readonly number[], depthwise: boolean): { data: Float32Array; dims: number[] } {
  const [kh, kw, c, m] = shape as [number, number, number, number];
  if (!depthwise) return transpose4(data, shape, [3, 2, 0, 1]);
  return { data: transpose4(data, shape, [2, 3, 0, 1]).data, dims: [c * m, 1, kh, kw] };
}

/** Conv attributes for tfjs padding ('same' as TF's SAME: extra padding at the end, ONNX SAME_UPPER). */
export function convAttrs(
  pad: 'same' | 'valid' | number,
  strides: number | number[],
  dilations: number | number[],
  kernel: number[],
  group: number,
): Record<string, OnnxAttr> {
  const pair = (v: number | number[]) => (Array.isArray(v) ? v : [v, v]);
  const base = { kernel_shape: kernel, strides: pair(strides), dilations: pair(dilations), group };
  if (pad === 'same') return { ...base, auto_pad: 'SAME_UPPER' };
  const p = pad === 'valid' ? 0 : pad;
  return { ...base, pads: [p, p, p, p] };
}
