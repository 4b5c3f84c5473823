// What the torch kernel families share: the kernel table types, dtype and padding helpers.
import type { backend_util, DataType, TensorInfo } from '@tensorflow/tfjs-core';

import { DTYPE_CODE, type TorchAddon } from '../addon.js';
import type { TorchBackend } from '../backend.js';
import type { KernelArgs } from '../fallback.js';

export type Attrs = Record<string, unknown>;
/** A kernel body: tfjs's inputs and attrs by name, the raw args for a cpu fallback, and its kernel name. */
export type Impl = (inputs: Record<string, TensorInfo>, b: TorchBackend, attrs: Attrs, args: KernelArgs, name: string) => TensorInfo | TensorInfo[];
/** Binds a kernel body to the loaded addon (registration time). */
export type Bind = (addon: TorchAddon) => Impl;
/** A kernel body over the inputs and attrs that src/ops/kernel-names.ts types beside the kernel's name. */
export type TypedImpl<I, A> = (inputs: I, b: TorchBackend, attrs: A, args: KernelArgs, name: string) => TensorInfo | TensorInfo[];

/**
 * A table entry for one of pwlu's kernels, with its inputs and attrs typed (`kernel<PwluForwardInputs>(...)`):
 * tfjs passes untyped maps, so the one cast from them to the kernel's own types is here, as in tfjs's kernels.
 */
export function kernel<I extends object, A extends object = Attrs>(bind: (addon: TorchAddon) => TypedImpl<I, A>): Bind {
  return bind as unknown as Bind;
}
/** One op family's kernels keyed by kernel name: the names can be listed without loading the addon. */
export type KernelFamily = Readonly<Record<string, Bind>>;

export type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
export type Rounding = 'floor' | 'round' | 'ceil' | undefined;
export type Shape4 = [number, number, number, number];

/** Fused-activation codes of the addon's conv2d and batchMatMul. */
export const ACT: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, prelu: 4, leakyrelu: 5, sigmoid: 6 };

/** Whether the addon stores this dtype (absent optional inputs count as native), else the kernel falls back to cpu. */
export function nativeDtype(t: TensorInfo | null | undefined): boolean {
  return t == null || t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool';
}

/** Whether every input of a variadic kernel (AddN, Concat, Pack) can stay native. */
export function allNative(inputs: Record<string, TensorInfo> | TensorInfo[]): boolean {
  for (const t of Object.values(inputs)) if (!nativeDtype(t)) return false;
  return true;
}

/** The addon's dtype code; throws for dtypes the addon cannot store. */
export function code(dtype: DataType): number {
  const c = (DTYPE_CODE as Record<string, number>)[dtype];
  if (c === undefined) throw new Error(`torch backend: dtype '${dtype}' is not native`);
  return c;
}

/**
 * Paddings [top, bottom, left, right] for ATen (floor output size) that reproduce tfjs's output
 * size, which may come from 'ceil'/'round' rounding: bottom/right are adjusted (a negative pad crops).
 */
export function pads(info: backend_util.Conv2DInfo): [number, number, number, number] {
  const p = info.padInfo;
  let { bottom, right } = p;
  const h = Math.floor((info.inHeight + p.top + bottom - info.effectiveFilterHeight) / info.strideHeight) + 1;
  if (h !== info.outHeight) bottom = (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - info.inHeight - p.top;
  const w = Math.floor((info.inWidth + p.left + right - info.effectiveFilterWidth) / info.strideWidth) + 1;
  if (w !== info.outWidth) right = (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - info.inWidth - p.left;
  return [p.top, bottom, p.left, right];
}

/**
 * Kernels of one of the addon's table-driven entry points (unary, binary, reduce), one per table
 * entry, each bound to the op code of its name in the addon's op list. Binding throws when that
 * list and the table disagree in either direction, so the two sides cannot drift apart into a
 * silent cpu fallback.
 */
export function tableKernels<T>(
  table: Readonly<Record<string, T>>,
  opList: (addon: TorchAddon) => readonly string[],
  make: (addon: TorchAddon, op: number, entry: T) => Impl,
): KernelFamily {
  const names = Object.keys(table);
  const bind =
    (name: string, entry: T): Bind =>
    (addon) => {
      const exported = opList(addon);
      const drift = [...exported.filter((n) => !(n in table)), ...names.filter((n) => !exported.includes(n))];
      if (drift.length > 0) throw new Error(`torch backend: the addon's op list and the kernel table disagree on ${drift.join(', ')}`);
      return make(addon, exported.indexOf(name), entry);
    };
  return Object.fromEntries(Object.entries(table).map(([name, entry]) => [name, bind(name, entry)]));
}
