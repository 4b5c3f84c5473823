// Running one form of the ONNX exporter on its own: a graph of that form alone (NCHW in and out) in onnxruntime, for
// the tests that compare an activation's ONNX form with its tfjs function; and onnx-proto, to read what was written.
import { createRequire } from 'node:module';
import type * as tf from '@tensorflow/tfjs-core';
import type { onnx as OnnxNs } from 'onnx-proto';
import { transpose4, type OnnxValue } from '../../src/activations/onnx.js';
import { OnnxBuilder, type OnnxBuilderOptions } from '../../src/export/onnx/builder.js';

const require = createRequire(import.meta.url);
/** onnx-proto's protobuf classes (ModelProto.decode). */
export const { onnx } = require('onnx-proto') as { onnx: typeof OnnxNs };

interface Ort {
  InferenceSession: {
    create(bytes: Uint8Array): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>; release(): Promise<void> }>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

/**
 * The graph `write` makes on an input of x's shape (NCHW, or [N, C]) run in onnxruntime on x (NHWC or [N, C]): its
 * output in x's layout, and the model's bytes.
 */
export async function runOnnxForm(
  x: tf.Tensor,
  write: (g: OnnxBuilder, input: OnnxValue) => string,
  opts: OnnxBuilderOptions = {},
): Promise<{ y: Float32Array; bytes: Uint8Array }> {
  const g = new OnnxBuilder(opts);
  const nchw = x.rank === 4 ? [x.shape[0], x.shape[3]!, x.shape[1]!, x.shape[2]!] : [...x.shape];
  const input = g.input('input', nchw);
  g.output(write(g, { name: input, rank: x.rank, channels: x.shape[x.rank - 1] }), 'output', nchw);
  const bytes = g.encode({ graphName: 'form' });
  const ort = require('onnxruntime-node') as Ort;
  const session = await ort.InferenceSession.create(bytes);
  try {
    const data = x.rank === 4 ? transpose4(x.dataSync(), x.shape, [0, 3, 1, 2]).data : (x.dataSync() as Float32Array);
    const y = (await session.run({ input: new ort.Tensor('float32', data, nchw) })).output!.data;
    return { y: x.rank === 4 ? transpose4(y, nchw, [0, 2, 3, 1]).data : y, bytes };
  } finally {
    await session.release();
  }
}
