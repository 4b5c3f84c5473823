/**
 * Runs an exported ONNX model in onnxruntime-node (CPU) on a batch and compares its logits with the model's
 * own: the check `pwlu export` makes before it keeps a file, and what the tests and `pwlu speed --onnx` use.
 */
import { createRequire } from 'node:module';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { compareLogits, ownLogits, type LogitCheck } from '../compare.js';
import { transpose4 } from '../../activations/onnx.js';

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

/** onnxruntime's graph optimisation levels: 'all' adds the layout passes (NCHWc) to 'extended''s fusions. */
export type OrtLevel = 'disabled' | 'basic' | 'extended' | 'all';

/**
 * Runs `use` with a function that feeds `x` (NHWC, as the model takes it; the graph's `input` is NCHW) through an
 * onnxruntime-node session of `bytes` (optimised at `level`, onnxruntime's default 'all' unless given), and releases
 * the session after. onnxruntime-node is loaded on first use (its native binding is large).
 */
export async function withOrtSession<T>(
  bytes: Uint8Array,
  x: tf.Tensor4D,
  threads: number,
  use: (run: () => Promise<Record<string, OrtTensor>>) => Promise<T>,
  level: OrtLevel = 'all',
): Promise<T> {
  const ort = require('onnxruntime-node') as Ort;
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: level });
  try {
    const { data, dims } = transpose4(x.dataSync(), x.shape, [0, 3, 1, 2]);
    const feeds = { input: new ort.Tensor('float32', data, dims) };
    return await use(() => session.run(feeds));
  } finally {
    await session.release();
  }
}

/** Runs the ONNX bytes on `x` (NHWC, as the model takes it) and compares with the model's inference logits. */
export async function checkOnnx(model: tfl.LayersModel, bytes: Uint8Array, x: tf.Tensor4D, threads = 1): Promise<LogitCheck> {
  const want = ownLogits(model, x);
  return withOrtSession(bytes, x, threads, async (run) => compareLogits(want.values, (await run()).logits!.data, want.classes));
}
