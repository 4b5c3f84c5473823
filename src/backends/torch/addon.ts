// Loading the pwlu_torch N-API addon (native/build/Release/pwlu_torch.node) and its build record.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dtype codes of the addon (native/src/common.h). */
export const DTYPE_CODE = { float32: 0, int32: 1, bool: 2 } as const;
/** dtype of each addon code, indexed by code. */
export const CODE_DTYPE = ['float32', 'int32', 'bool'] as const;
export type NativeDType = (typeof CODE_DTYPE)[number];

/** Typed view of the functions the addon exports; kernels write their outputs into the init() buffer. */
export interface TorchAddon {
  init(out: Int32Array): void;
  version(): string;
  cudaAvailable(): boolean;
  builtWithCuda(): boolean;
  setDevice(device: 'cpu' | 'cuda', index?: number): void;
  setThreads(n: number): number;
  /** Routes 1x1 convolutions around oneDNN's 1x1 kernels (where they crash; see native/src/ops_nn.cc). */
  setConv1x1Route(on: boolean): boolean;
  /** Runs oneDNN's 1x1 convolutions unrouted; scripts/build-native.mjs calls it in a child, where a crash is safe. */
  probeConv1x1(): number;
  getThreads(): number;
  write(values: Float32Array | Int32Array | Uint8Array, shape: number[], dtype: number): number;
  read(id: number): Float32Array | Int32Array | Uint8Array;
  free(id: number): void;
  live(): number;
  relayouts(): number;
  allocatorStats(): { enabled: boolean; cachedBytes: number; limitBytes: number; hits: number; misses: number; inUseBytes: number; peakBytes: number };
  /** Starts a new peak of allocatorStats().peakBytes at the bytes in use now. */
  resetPeak(): void;
  emptyCache(): void;
  view(id: number, shape: number[], dtype: number): number;
  info(id: number): number[];
  readonly unaryOps: string[];
  readonly binaryOps: string[];
  readonly reduceOps: string[];
  unary(op: number, x: number, p1?: number, p2?: number): void;
  binary(op: number, a: number, b: number): void;
  reduce(op: number, x: number, axes: number[], keepDims: boolean): void;
  addN(ids: number[]): void;
  axpby(a: number, x: number, b: number, y: number): void;
  meanGrad(dy: number, xShape: number[], axes: number[]): void;
  conv2d(
    x: number,
    filter: number,
    sh: number,
    sw: number,
    pt: number,
    pb: number,
    pl: number,
    pr: number,
    dh: number,
    dw: number,
    depthwise: boolean,
    bias: number,
    activation: number,
    alpha: number,
    prelu: number,
  ): void;
  conv2dBackpropInput(
    dy: number,
    filter: number,
    n: number,
    h: number,
    w: number,
    c: number,
    sh: number,
    sw: number,
    pt: number,
    pb: number,
    pl: number,
    pr: number,
    dh: number,
    dw: number,
    depthwise: boolean,
  ): void;
  conv2dBackpropFilter(
    x: number,
    dy: number,
    kh: number,
    kw: number,
    ci: number,
    co: number,
    sh: number,
    sw: number,
    pt: number,
    pb: number,
    pl: number,
    pr: number,
    dh: number,
    dw: number,
    depthwise: boolean,
  ): void;
  maxPool(x: number, kh: number, kw: number, sh: number, sw: number, pt: number, pb: number, pl: number, pr: number): void;
  maxPoolGrad(dy: number, x: number, kh: number, kw: number, sh: number, sw: number, pt: number, pb: number, pl: number, pr: number): void;
  avgPool(x: number, kh: number, kw: number, sh: number, sw: number, pt: number, pb: number, pl: number, pr: number): void;
  avgPoolGrad(dy: number, x: number, kh: number, kw: number, sh: number, sw: number, pt: number, pb: number, pl: number, pr: number): void;
  bnTrain(x: number, scale: number, offset: number, eps: number, runningMean?: number, runningVar?: number, momentum?: number): void;
  sgdMomentum(ids: number[], lr: number, momentum: number, nesterov: boolean, weightDecays: number[]): void;
  bnGrad(dy: number, x: number, scale: number, mean: number, invstd: number, eps: number): void;
  fusedBatchNorm(x: number, mean: number, variance: number, offset: number, scale: number, eps: number): void;
  batchMatMul(a: number, b: number, transposeA: boolean, transposeB: boolean, bias: number, activation: number, alpha: number, prelu: number): void;
  softmax(x: number, dim: number): void;
  topk(x: number, k: number, sorted: boolean): void;
  cast(x: number, dtype: number): void;
  transpose(x: number, perm: number[]): void;
  tile(x: number, reps: number[]): void;
  pad(x: number, pads: number[], value: number): void;
  mirrorPad(x: number, pads: number[], reflect: boolean): void;
  slice(x: number, begin: number[], size: number[]): void;
  stridedSlice(x: number, begin: number[], strides: number[], sizes: number[], shape: number[]): void;
  concat(ids: number[], axis: number): void;
  pack(ids: number[], axis: number): void;
  unpack(x: number, axis: number): void;
  splitV(x: number, sizes: number[], axis: number): void;
  reverse(x: number, dims: number[]): void;
  gather(x: number, indices: number, batch: number, outer: number, dim: number, slice: number, outShape: number[]): void;
  gatherNd(x: number, indices: number): void;
  oneHot(indices: number, depth: number, on: number, off: number, dtype: number): void;
  unsortedSegmentSum(x: number, ids: number, n: number): void;
  select(cond: number, t: number, e: number): void;
  fill(shape: number[], value: number, dtype: number): void;
  range(start: number, step: number, n: number, dtype: number): void;
  linspace(start: number, stop: number, num: number): void;
  cumulative(x: number, axis: number, exclusive: boolean, reverse: boolean, product: boolean): void;
  pwluForward(x: number, y: number, kl: number, kr: number, bl: number, br: number): void;
  pwluInfer(x: number, y: number, kl: number, kr: number, bl: number, br: number): void;
  pwluBackward(dy: number, x: number, y: number, kl: number, kr: number, bl: number, br: number): void;
  pwluWidenBounds(bl: number, br: number, minWidth: number): void;
  /** Fused PAU / APL (native/src/ops_pau_apl.cc): one pass forward, one pass for dx and every parameter gradient. */
  pauForward(x: number, a: number, b: number): void;
  pauBackward(dy: number, x: number, a: number, b: number): void;
  aplForward(x: number, a: number, b: number): void;
  aplBackward(dy: number, x: number, a: number, b: number): void;
  /** Fused Swish / PReLU (native/src/ops_swish_prelu.cc); betaId < 0: the fixed beta number. */
  swishForward(x: number, betaId: number, beta: number): void;
  swishBackward(dy: number, x: number, betaId: number, beta: number): void;
  preluForward(x: number, alpha: number): void;
  preluBackward(dy: number, x: number, alpha: number): void;
  /** Fused hard-swish (native/src/ops_swish_prelu.cc): y from x; dx from dy and x. */
  hardswishForward(x: number): void;
  hardswishBackward(dy: number, x: number): void;
  /** The input pipeline's JPEG decoder (native/src/ops_jpeg.cc); absent from addons built before it. */
  jpegInfo?(): NativeJpegInfo;
  /** Present when built with libjpeg-turbo: decodes the jobs on `threads` addon threads (src/data/stream/native-decoder.ts). */
  jpegDecode?(jobs: readonly NativeJpegJob[], size: number, out: Uint8Array, threads: number): Promise<NativeJpegResult>;
  /** torch.distributed (native/src/dist.cc): whether c10d is compiled in; absent from addons built before it. */
  distInfo?(): NativeDistInfo;
  /** Present when c10d is compiled in: joins the process group (blocks until every rank has, or the timeout). */
  distInit?(rank: number, worldSize: number, host: string, port: number, backend: string, timeoutMs: number, storeServer: boolean): void;
  /** Emits one output per input: the sum (average: mean) over ranks, in flat buckets of at most bucketBytes. */
  distAllreduce?(ids: number[], average: boolean, bucketBytes: number): void;
  /** Emits one output per input: rank root's values. */
  distBroadcast?(ids: number[], root: number): void;
  distBarrier?(): void;
  distDestroy?(): void;
  /** The tensors of a torch.save file (native/src/ops_pickle.cc); absent from addons built before it. */
  loadStateDict?(path: string): StateDictTensor[];
}

/** One tensor of a torch.save file: its key, shape, stored dtype ('float32', 'int64', ...) and values as float32. */
export interface StateDictTensor {
  name: string;
  shape: number[];
  dtype: string;
  data: Float32Array;
}

/** Whether the addon was built with torch.distributed (c10d) and which collective backends it has, or why not. */
export interface NativeDistInfo {
  available: boolean;
  reason: string;
  backends: string[];
}

/**
 * How jpegDecode makes one image size × size pixels, as native/src/ops_jpeg.cc reads it: `crop-resize` resizes the
 * box (top, left, height, width) of the source; `resize-crop` resizes the whole source to resizeHeight × resizeWidth
 * and takes the box (top, left, size, size); either is then mirrored if `flip`. Declared here, with the addon's other
 * types (backends import only ops and util); the input pipeline's Geometry (src/data/stream/contract.ts) must stay
 * assignable to it, which src/data/stream/native-decoder.ts checks where it passes its jobs.
 */
export type NativeJpegGeometry =
  | { kind: 'crop-resize'; top: number; left: number; height: number; width: number; flip: boolean }
  | { kind: 'resize-crop'; resizeHeight: number; resizeWidth: number; top: number; left: number; flip: boolean };

/** One jpegDecode job: the JPEG's bytes, its geometry, and the byte offset of its size × size × 3 RGB pixels in `out`. */
export interface NativeJpegJob {
  readonly bytes: Uint8Array;
  readonly geometry: NativeJpegGeometry;
  readonly offset: number;
}

/** What jpegDecode resolves to: per job, null when it decoded, else why it failed. */
export type NativeJpegResult = (string | null)[];

/** Whether the addon was built with libjpeg-turbo: its version, or why not. */
export type NativeJpegInfo = { available: true; version: string } | { available: false; reason: string };

/** What scripts/build-native.mjs recorded in native/build/libtorch.json. */
export interface LibtorchBuildInfo {
  path: string;
  libDir: string;
  version: string;
  cuda: boolean;
  source: string;
  addon: string;
  /** Whether the JPEG decoder was compiled in (absent in records written before it existed). */
  jpeg?: { available: boolean; reason?: string };
  /** Whether torch.distributed was compiled in (absent in records written before it existed). */
  dist?: { available: boolean; reason?: string; backends?: string[] };
  /** Whether oneDNN's 1x1 convolutions ran in a child process at build time (absent in older records: not checked). */
  oneDnn1x1?: { ok: boolean; reason?: string };
  builtAt: string;
  buildSeconds: number;
}

/** Repository root: this file is src/backends/torch/addon.ts or dist/backends/torch/addon.js. */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** Path of the compiled addon; PWLU_TORCH_ADDON overrides it (tests, relocated installs). */
export function addonPath(): string {
  return process.env.PWLU_TORCH_ADDON ?? path.join(repoRoot(), 'native', 'build', 'Release', 'pwlu_torch.node');
}

/** The build record, when the native build succeeded. */
export function readBuildInfo(): LibtorchBuildInfo | undefined {
  const file = path.join(path.dirname(path.dirname(addonPath())), 'libtorch.json');
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LibtorchBuildInfo;
  } catch {
    return undefined;
  }
}

let cached: TorchAddon | undefined;
let loadError: string | undefined;

/** Loads the addon once; throws an Error saying why it is unavailable. */
export function loadAddon(): TorchAddon {
  if (cached) return cached;
  if (loadError) throw new Error(loadError);
  const file = addonPath();
  if (!fs.existsSync(file)) {
    const rel = path.relative(process.cwd(), file);
    const shown = rel && !rel.startsWith('..') ? rel : file;
    loadError = `native torch addon not built (${shown} missing; run \`npm run build:native\`, see native/build/build.log)`;
    throw new Error(loadError);
  }
  try {
    const req = createRequire(import.meta.url);
    cached = req(file) as TorchAddon;
    return cached;
  } catch (e) {
    loadError = `native torch addon cannot be loaded: ${(e as Error).message.split('\n')[0]}`;
    throw new Error(loadError, { cause: e });
  }
}

/**
 * The tensors of a file written by Python's torch.save (a state_dict, or a checkpoint dict whose 'state_dict' or
 * 'model' entry is one), read by the addon with libtorch's archive reader, so that pwlu needs no Python to start
 * from torchvision's weights. Throws when the addon is missing or predates the reader, and when the file is not
 * such a file (the message starts with its path).
 */
export function loadStateDict(file: string): StateDictTensor[] {
  const addon = loadAddon();
  if (!addon.loadStateDict) throw new Error('the native torch addon predates the torch.save reader: rebuild it with `npm run build:native`');
  return addon.loadStateDict(file);
}
