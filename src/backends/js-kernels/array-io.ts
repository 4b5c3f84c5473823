/**
 * Typed-array access to the tensors of the two JS backends, so that one JS kernel body serves both:
 * `cpu` keeps plain arrays it can hand out and adopt, `wasm` keeps tensors on its heap and gives
 * views of it. This is the backend knowledge the kernels need; the ops never see it.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';

/** Float32 inputs and outputs of one kernel call as typed arrays. */
export interface ArrayIO {
  /** Allocates float32 outputs; call before `read` (wasm heap growth detaches older views). */
  alloc(shapes: number[][]): { infos: TensorInfo[]; arrays: Float32Array[] };
  read(t: TensorInfo): Float32Array;
}

/** Makes the ArrayIO of one kernel call from the backend tfjs passes the kernel. */
export type ArrayIOFactory = (backend: unknown) => ArrayIO;

interface CpuLike {
  readSync(dataId: object): unknown;
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

interface WasmLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): unknown;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function asF32(v: unknown, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new Error(`JS kernel: ${what} must be float32`);
  return v;
}

/** The cpu backend's arrays: outputs are new arrays the backend adopts by reference, inputs its own arrays. */
export const cpuArrayIO: ArrayIOFactory = (backend) => {
  const b = backend as CpuLike;
  return {
    alloc: (shapes) => {
      // The cpu backend keeps the array it is given by reference: fill it after registering it.
      const arrays = shapes.map((s) => new Float32Array(sizeOf(s)));
      return { infos: shapes.map((s, i) => b.makeTensorInfo(s, 'float32', arrays[i]!)), arrays };
    },
    read: (t) => asF32(b.readSync(t.dataId), 'input'),
  };
};

/** The wasm backend's heap: outputs and inputs are views of it, no copies. */
export const wasmArrayIO: ArrayIOFactory = (backend) => {
  const b = backend as WasmLike;
  return {
    alloc: (shapes) => {
      const infos = shapes.map((s) => b.makeOutput(s, 'float32'));
      return { infos, arrays: infos.map((t) => asF32(b.typedArrayFromHeap(t), 'output')) };
    },
    read: (t) => asF32(b.typedArrayFromHeap(t), 'input'),
  };
};

/** The JS backends and how their kernels reach tensor data. */
export const JS_BACKENDS: Readonly<Record<'cpu' | 'wasm', ArrayIOFactory>> = { cpu: cpuArrayIO, wasm: wasmArrayIO };
