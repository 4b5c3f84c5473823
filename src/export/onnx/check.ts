/**
 * Runs an exported ONNX model in onnxruntime-node (CPU) on a batch and compares its logits with the model's
 * own: the check `pwlu export` makes before it keeps a file, and what the tests and `pwlu speed --onnx` use.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { compareLogits, ownLogits, type LogitCheck } from '../compare.js';

const require = createRequire(import.meta.url);

interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(bytes: Uint8Array, opts?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

/** onnxruntime-node, loaded on first use (its native binding is large). */
export function loadOrt(): Ort {
  return require('onnxruntime-node') as Ort;
}

/** NHWC data as NCHW. */
export function toNchw(x: Float32Array, [n, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n!; b++)
    for (let y = 0; y < h!; y++)
      for (let z = 0; z < w!; z++) for (let k = 0; k < c!; k++) out[((b * c! + k) * h! + y) * w! + z] = x[((b * h! + y) * w! + z) * c! + k]!;
  return out;
}

/** Runs the ONNX bytes on `x` (NHWC, as the model takes it) and compares with the model's inference logits. */
export async function checkOnnx(model: tfl.LayersModel, bytes: Uint8Array, x: tf.Tensor4D, threads = 1): Promise<LogitCheck> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const want = ownLogits(model, x);
    const feeds = { input: new ort.Tensor('float32', toNchw(x.dataSync() as Float32Array, x.shape), [x.shape[0], x.shape[3], x.shape[1], x.shape[2]]) };
    return compareLogits(want.values, (await session.run(feeds)).logits!.data, want.classes);
  } finally {
    await session.release();
  }
}
