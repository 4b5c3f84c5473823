// The 'torch' KernelBackend: tensor storage in ATen (through the addon), refcounts as the cpu backend.
import {
  DataStorage,
  KernelBackend,
  engine,
  util,
  type BackendTimingInfo,
  type DataId,
  type DataType,
  type TensorInfo,
  type backend_util,
} from '@tensorflow/tfjs-core';

import { CODE_DTYPE, DTYPE_CODE, type TorchAddon } from './addon.js';

type BackendValues = backend_util.BackendValues;

/** One data bucket: a native tensor id (or JS-held strings), its stored shape and refcount. */
interface TensorRecord {
  id: number; // native id, -1 for strings
  shape: number[];
  dtype: DataType;
  refCount: number;
  strings?: Uint8Array[];
  views?: Map<string, number>; // native views for other shapes/dtypes of the same data (reshape shares)
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function dtypeCode(dtype: DataType): number {
  const c = (DTYPE_CODE as Record<string, number>)[dtype];
  if (c === undefined) throw new Error(`torch backend: dtype '${dtype}' is not supported natively`);
  return c;
}

function asNativeValues(values: BackendValues, dtype: DataType): Float32Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    case 'int32':
      return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
    case 'bool': {
      if (values instanceof Uint8Array) return values;
      const src = values as ArrayLike<number>;
      const out = new Uint8Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i] ? 1 : 0;
      return out;
    }
    default:
      throw new Error(`torch backend: cannot store dtype '${dtype}'`);
  }
}

let nextDataId = 0;

/** tfjs backend over libtorch: every tensor is an ATen tensor held by the addon. */
export class TorchBackend extends KernelBackend {
  readonly data: DataStorage<TensorRecord>;
  readonly addon: TorchAddon;
  /** Output records written by every native kernel: [count, {id, dtype, rank, ...dims}*]. */
  private readonly out = new Int32Array(1 << 16);

  constructor(addon: TorchAddon) {
    super();
    this.addon = addon;
    this.data = new DataStorage<TensorRecord>(this, engine());
    addon.init(this.out);
  }

  // ---- storage -------------------------------------------------------------------------------

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = { id: nextDataId++ };
    this.data.set(dataId, this.record(values, shape, dtype, 1));
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues, shape: number[], dtype: DataType, refCount: number): void {
    this.data.set(dataId, this.record(values, shape, dtype, refCount));
  }

  private record(values: BackendValues, shape: number[], dtype: DataType, refCount: number): TensorRecord {
    if (dtype === 'string') return { id: -1, shape, dtype, refCount, strings: values as Uint8Array[] };
    if (dtype === 'complex64') throw new Error('torch backend: complex64 tensors are not supported');
    const id = this.addon.write(asNativeValues(values, dtype), shape, dtypeCode(dtype));
    return { id, shape, dtype, refCount };
  }

  /** Wraps a TypedArray as a new tensor (used by the cpu fallback). */
  makeTensorInfo(shape: number[], dtype: DataType, values: BackendValues): TensorInfo {
    return { dataId: this.write(values, shape, dtype), shape, dtype };
  }

  override refCount(dataId: DataId): number {
    return this.data.has(dataId) ? this.data.get(dataId).refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.data.get(dataId).refCount++;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.data.has(dataId)) return true;
    const rec = this.data.get(dataId);
    rec.refCount--;
    if (!force && rec.refCount > 0) return false;
    if (rec.id >= 0) this.addon.free(rec.id);
    if (rec.views) for (const v of rec.views.values()) this.addon.free(v);
    this.data.delete(dataId);
    return true;
  }

  /** Disposes a kernel's intermediate result. */
  disposeIntermediateTensorInfo(t: TensorInfo): void {
    this.disposeData(t.dataId);
  }

  override read(dataId: DataId): Promise<BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override readSync(dataId: DataId): BackendValues {
    const rec = this.data.get(dataId);
    if (rec.strings) return rec.strings;
    return this.addon.read(rec.id);
  }

  /** Values of a TensorInfo as seen through its own shape/dtype (a reshape may share the data). */
  readInfo(t: TensorInfo): BackendValues {
    const rec = this.data.get(t.dataId);
    if (rec.strings) return rec.strings;
    return this.addon.read(this.h(t));
  }

  override memory(): { unreliable: boolean; reasons?: string[]; nativeTensors?: number } {
    return { unreliable: false, nativeTensors: this.addon.live() };
  }

  /** Bytes the addon's CPU allocator hands to tensors now and at their peak since resetTensorPeak(); null when it is off. */
  tensorBytes(): { inUse: number; peak: number } | null {
    const s = this.addon.allocatorStats();
    return s.enabled ? { inUse: s.inUseBytes, peak: s.peakBytes } : null;
  }

  /** Starts a new tensor-memory peak (a measurement's start); returns cached free blocks to the system first. */
  resetTensorPeak(): void {
    this.addon.emptyCache();
    this.addon.resetPeak();
  }

  override time(f: () => void): Promise<BackendTimingInfo> {
    const start = util.now();
    f();
    return Promise.resolve({ kernelMs: util.now() - start });
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return super.epsilon();
  }

  override dispose(): void {
    /* tensors are released through disposeData */
  }

  // ---- kernel plumbing -----------------------------------------------------------------------

  /** Native id of a TensorInfo, viewing the stored data under the info's shape/dtype when they differ. */
  h(t: TensorInfo): number {
    const rec = this.data.get(t.dataId);
    if (rec.dtype === t.dtype && sameShape(rec.shape, t.shape)) return rec.id;
    if (rec.id < 0) throw new Error(`torch backend: '${rec.dtype}' tensors have no native form`);
    const key = `${t.dtype}:${t.shape.join(',')}`;
    let views = rec.views;
    if (!views) views = rec.views = new Map();
    let v = views.get(key);
    if (v === undefined) {
      v = this.addon.view(rec.id, t.shape, dtypeCode(t.dtype));
      views.set(key, v);
    }
    return v;
  }

  /** Native id of an optional input, -1 when absent. */
  hOpt(t: TensorInfo | null | undefined): number {
    return t == null ? -1 : this.h(t);
  }

  isNative(t: TensorInfo): boolean {
    return t.dtype === 'float32' || t.dtype === 'int32' || t.dtype === 'bool';
  }

  /** The outputs the last native call wrote, registered as new data buckets. */
  outs(): TensorInfo[] {
    const o = this.out;
    const n = o[0]!;
    const res: TensorInfo[] = new Array<TensorInfo>(n);
    let p = 1;
    for (let i = 0; i < n; i++) {
      const id = o[p++]!;
      const dtype = CODE_DTYPE[o[p++]!]!;
      const rank = o[p++]!;
      const shape: number[] = new Array<number>(rank);
      for (let k = 0; k < rank; k++) shape[k] = o[p++]!;
      const dataId = { id: nextDataId++ };
      this.data.set(dataId, { id, shape, dtype, refCount: 1 });
      res[i] = { dataId, shape, dtype };
    }
    return res;
  }

  /** The single output of the last native call. */
  out1(): TensorInfo {
    const o = this.out;
    if (o[0] !== 1) throw new Error(`torch backend: expected one output, got ${o[0]}`);
    const id = o[1]!;
    const dtype = CODE_DTYPE[o[2]!]!;
    const rank = o[3]!;
    const shape: number[] = new Array<number>(rank);
    for (let k = 0; k < rank; k++) shape[k] = o[4 + k]!;
    const dataId = { id: nextDataId++ };
    this.data.set(dataId, { id, shape, dtype, refCount: 1 });
    return { dataId, shape, dtype };
  }

  /** Same data under another shape (Reshape / Identity / ExpandDims), sharing the bucket as the cpu backend does. */
  share(t: TensorInfo, shape: number[] = t.shape): TensorInfo {
    this.incRef(t.dataId);
    return { dataId: t.dataId, shape, dtype: t.dtype };
  }
}
