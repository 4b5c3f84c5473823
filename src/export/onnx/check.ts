/**
 * Runs an exported ONNX model in onnxruntime-node (CPU) on a batch and compares its logits with the model's
 * own: the check `pwlu export` makes before it keeps a file, and what the tests use.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { predict } from '../../models/infer.js';

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

/** The largest |difference| between the two sets of logits, absolute and relative to the largest |logit|. */
export interface LogitCheck {
  max_abs_diff: number;
  max_rel_diff: number;
  /** Whether both agree on the top-1 class of every example. */
  same_top1: boolean;
}

/** Runs the ONNX bytes on `x` (NHWC, as the model takes it) and compares with the model's inference logits. */
export async function checkOnnx(model: tfl.LayersModel, bytes: Uint8Array, x: tf.Tensor4D, threads = 1): Promise<LogitCheck> {
  const ort = loadOrt();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const ours = tf.tidy(() => predict(model, x));
    const want = ours.dataSync() as Float32Array;
    const [n, classes] = ours.shape as [number, number];
    ours.dispose();
    const feeds = { input: new ort.Tensor('float32', toNchw(x.dataSync() as Float32Array, x.shape), [x.shape[0], x.shape[3], x.shape[1], x.shape[2]]) };
    const got = (await session.run(feeds)).logits!.data;
    let maxAbs = 0;
    let scale = 0;
    let sameTop1 = true;
    for (let b = 0; b < n; b++) {
      let [bw, bg] = [0, 0];
      for (let k = 0; k < classes; k++) {
        const i = b * classes + k;
        maxAbs = Math.max(maxAbs, Math.abs(want[i]! - got[i]!));
        scale = Math.max(scale, Math.abs(want[i]!));
        if (want[i]! > want[b * classes + bw]!) bw = k;
        if (got[i]! > got[b * classes + bg]!) bg = k;
      }
      if (bw !== bg) sameTop1 = false;
    }
    return { max_abs_diff: maxAbs, max_rel_diff: maxAbs / Math.max(scale, 1e-12), same_top1: sameTop1 };
  } finally {
    await session.release();
  }
}
