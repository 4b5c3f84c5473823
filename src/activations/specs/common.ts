/** Tensor helpers the specs' inference functions share (tfjs-core only). */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';

/** A per-channel vector shaped to broadcast over the last axis of x (NHWC / [N, C]). */
export function lastAxis(v: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.reshape(v, [...x.shape.slice(0, -1).map(() => 1), -1]);
}

/** The options schema of an activation without options. */
export const NoOptions = z.strictObject({});

/** Rows of a row-major [rows, cols] array, for describe records. */
export function rowsOf(v: Float32Array, rows: number): number[][] {
  const cols = rows === 0 ? 0 : v.length / rows;
  return Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * cols, (i + 1) * cols)));
}
