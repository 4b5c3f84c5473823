/**
 * The scope the wasm training kernels compute in: a kernel is composed by calling the wasm backend's
 * own registered kernels and copying on its heap, and every intermediate is freed when the kernel
 * returns (also on error).
 */
import { getKernel } from '@tensorflow/tfjs-core';
import type { NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { shape4, WASM } from './common.js';

/** Runs registered wasm kernels and remembers their outputs so that one call frees them all. */
export class KernelScope {
  private readonly temps: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  /** Calls the wasm backend's own kernel `name`; the output is an intermediate unless kept. */
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    const config = getKernel(name, WASM);
    if (config === undefined) {
      throw new Error(`wasm training kernels: the wasm backend has no '${name}' kernel`);
    }
    const out = config.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) {
      throw new Error(`wasm training kernels: '${name}' returned ${out.length} outputs, expected 1`);
    }
    this.temps.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  slice(x: TensorInfo, begin: number[], size: number[]): TensorInfo {
    return this.run('Slice', { x }, { begin, size });
  }

  /** A new float32 intermediate on the wasm heap; its contents are the caller's to write. */
  alloc(shape: number[]): TensorInfo {
    return this.adopt(this.backend.makeOutput(shape, 'float32'));
  }

  /**
   * One float32 view of the whole wasm heap and each tensor's element offset in it, so that copies
   * are `heap.copyWithin` (a native memmove). Views detach when the heap grows: take this only after
   * every allocation a helper needs.
   */
  heap(tensors: TensorInfo[]): { heap: Float32Array; at: number[] } {
    const views = tensors.map((t) => {
      const v = this.backend.typedArrayFromHeap(t);
      if (!(v instanceof Float32Array)) throw new Error(`wasm training kernels: expected float32, got ${t.dtype}`);
      return v;
    });
    const buffer = views[0]!.buffer;
    return { heap: new Float32Array(buffer, 0, buffer.byteLength >>> 2), at: views.map((v) => v.byteOffset >>> 2) };
  }

  pad(x: TensorInfo, paddings: number[][]): TensorInfo {
    return this.run('PadV2', { x }, { paddings, constantValue: 0 });
  }

  /** Makes a tensor created outside `run` an intermediate too. */
  adopt(t: TensorInfo): TensorInfo {
    this.temps.push(t);
    return t;
  }

  /** Removes `t` from the intermediates: it is the caller's result. */
  keep(t: TensorInfo): TensorInfo {
    const i = this.temps.lastIndexOf(t);
    if (i >= 0) this.temps.splice(i, 1);
    return t;
  }

  /** Frees every intermediate (reshapes share buffers; the backend reference-counts them). */
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

/** Runs `body` with a fresh scope, keeps its result and frees everything else, also on error. */
export function withScope(backend: BackendWasm, body: (s: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend);
  try {
    return scope.keep(body(scope));
  } finally {
    scope.dispose();
  }
}

/**
 * NHWC crop x[:, r0:r0+rows, c0:c0+cols, :], copied heap to heap. (The wasm Slice kernel first copies
 * its whole input out of the heap.)
 */
export function crop4d(s: KernelScope, x: TensorInfo, r0: number, c0: number, rows: number, cols: number): TensorInfo {
  const [n, h, w, c] = shape4(x, 'x');
  const out = s.alloc([n, rows, cols, c]);
  const { heap, at } = s.heap([x, out]);
  const [src, dst] = at as [number, number];
  const run = cols * c;
  let to = dst;
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < rows; r++, to += run) {
      const from = src + ((b * h + r0 + r) * w + c0) * c;
      heap.copyWithin(to, from, from + run);
    }
  }
  return out;
}
