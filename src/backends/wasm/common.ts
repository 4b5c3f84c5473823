/**
 * What the wasm training kernels share: their notation, argument parsing and geometry.
 *
 * Notation: x [N,H,W,C] (NHWC), filter [kh,kw,Ci,Co] (depthwise: [kh,kw,C,M]), dy [N,OH,OW,Co],
 * stride s, dilation d, pads pt/pl (top/left) as computed by tfjs for the forward convolution.
 */
import { util } from '@tensorflow/tfjs-core';
import type { Conv2DBackpropFilterAttrs, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The backend these kernels are registered for. */
export const WASM = 'wasm';

/** An (H, W) pair of strides or dilations. */
export type Pair = [number, number];
/** An NHWC shape or a filter shape. */
export type Shape4 = [number, number, number, number];
/** tfjs's padding and output-rounding attrs, as the convolution gradients take them. */
export type PadAttr = Conv2DBackpropFilterAttrs['pad'];
export type RoundingMode = Conv2DBackpropFilterAttrs['dimRoundingMode'];

/** tfjs's number-or-pair attrs as a pair (absent: 1), so that the kernels see one form. */
export function pair(v: number | number[] | undefined, name: string): Pair {
  if (v === undefined) return [1, 1];
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw new Error(`wasm training kernels: ${name} must have 2 values, got [${v.join(',')}]`);
  return [v[0]!, v[1]!];
}

/** A rank-4 shape, or an error naming the operand, so that shape mistakes fail before the heap is touched. */
export function shape4(t: TensorInfo | number[], what: string): Shape4 {
  const s = Array.isArray(t) ? t : t.shape;
  if (s.length !== 4) throw new Error(`wasm training kernels: ${what} must be rank 4, got shape [${s.join(',')}]`);
  return [s[0]!, s[1]!, s[2]!, s[3]!];
}

/** Rejects NCHW, which the wasm forward convolutions these kernels run on do not support either. */
export function requireNHWC(dataFormat: string | undefined, kernel: string): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`wasm ${kernel}: only dataFormat 'NHWC' is supported (the wasm forward Conv2D has the same limit), got '${dataFormat}'`);
  }
}

/** NHWC explicit padding from per-side amounts, the form the wasm Conv2D takes. */
export function explicitPad(top: number, bottom: number, left: number, right: number): number[][] {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/** Geometry of one spatial axis, shared by the filter- and input-gradient formulas. */
export interface Axis {
  /** input size */
  size: number;
  /** output (dy) size */
  out: number;
  /** filter taps */
  k: number;
  stride: number;
  dilation: number;
  /** padding before the input, as the forward convolution used it */
  padBefore: number;
}

/**
 * Rows of x that the forward convolution actually read, counted from row 0: the forward conv ignores
 * trailing rows when (size + pads - effective filter) is not divisible by the stride, and may have
 * padded below. Returns how many input rows to keep and how many zero rows to add below.
 */
export function filterGradInputExtent(a: Axis): { keep: number; padAfter: number } {
  const needed = (a.k - 1) * a.dilation + (a.out - 1) * a.stride - a.padBefore + 1;
  return { keep: Math.max(0, Math.min(a.size, needed)), padAfter: Math.max(0, needed - a.size) };
}

/** An internal shape check after a composed convolution: a wrong formula fails loudly, not with wrong numbers. */
export function checkShape(got: number[], want: number[], kernel: string): void {
  if (!util.arraysEqual(got, want)) {
    throw new Error(`wasm ${kernel}: internal shape error, got [${got.join(',')}], expected [${want.join(',')}]`);
  }
}

/** The backend tfjs passes a wasm kernel, as the wasm backend it is. */
export function asBackend(backend: unknown): BackendWasm {
  return backend as BackendWasm;
}

/** A named kernel input, or an error naming the kernel: tfjs types every input as optional. */
export function tensorInput(inputs: NamedTensorInfoMap, name: string, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`wasm ${kernel}: missing input '${name}'`);
  return t;
}

/** tfjs attrs may carry `dilations` even where the kernel's attr type does not list it. */
export function dilationsOf(attrs: NamedAttrMap | undefined): Pair {
  const d = attrs?.['dilations'];
  return pair(typeof d === 'number' || Array.isArray(d) ? (d as number | number[]) : undefined, 'dilations');
}
