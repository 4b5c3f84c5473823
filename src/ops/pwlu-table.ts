/**
 * PWLU's segment table, the one definition of its inference formula for every TypeScript consumer: the JS
 * kernels and the ONNX form read the array version, the composite op and `pwlu/layers` the tensor version.
 * Segments are left of BL (0), the N intervals (1..N) and right of BR (N + 1); segment k has slope S_k and
 * intercept O_k, out = S_k x + O_k. The interval width d is rounded to float32 as the native kernels round it.
 * Side-effect free and tfjs-core only, so the browser module can import it.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Numbers of the P instances an op call covers, row-major: y is [P, N + 1], the rest [P]. */
export interface PwluArrays {
  y: ArrayLike<number>;
  kl: ArrayLike<number>;
  kr: ArrayLike<number>;
  bl: ArrayLike<number>;
  br: ArrayLike<number>;
}

/** The same parameters as tensors: y [P, N + 1], kl/kr/bl/br [P]. */
export interface PwluTensors {
  y: tf.Tensor;
  kl: tf.Tensor;
  kr: tf.Tensor;
  bl: tf.Tensor;
  br: tf.Tensor;
}

/** Slopes and intercepts [P * (N + 2)] in float64 and the float32-rounded width d [P]: what kernels and exporters index by segment. */
export function pwluTableArrays(p: number, n: number, w: PwluArrays): { slopes: Float64Array; intercepts: Float64Array; d: Float64Array } {
  const slopes = new Float64Array(p * (n + 2));
  const intercepts = new Float64Array(p * (n + 2));
  const d = new Float64Array(p);
  for (let q = 0; q < p; q++) {
    const bl = w.bl[q]!;
    const br = w.br[q]!;
    const dq = Math.fround(Math.fround(br - bl) / n);
    d[q] = dq;
    const yq = q * (n + 1);
    const base = q * (n + 2);
    slopes[base] = w.kl[q]!;
    intercepts[base] = w.y[yq]! - w.kl[q]! * bl;
    for (let i = 0; i < n; i++) {
      const k = (w.y[yq + i + 1]! - w.y[yq + i]!) / dq;
      slopes[base + i + 1] = k;
      intercepts[base + i + 1] = w.y[yq + i]! - k * (bl + i * dq);
    }
    slopes[base + n + 1] = w.kr[q]!;
    intercepts[base + n + 1] = w.y[yq + n]! - w.kr[q]! * br;
  }
  return { slopes, intercepts, d };
}

/** The tensor version of pwluTableArrays: slopes and intercepts [P, N + 2] and d [P], for ops that stay on the device. */
export function pwluTable(params: PwluTensors): { slopes: tf.Tensor2D; intercepts: tf.Tensor2D; d: tf.Tensor1D } {
  return tf.tidy(() => {
    const { y, kl, kr, bl, br } = params;
    const p = y.shape[0];
    const n = y.shape[1]! - 1;
    const d = tf.div<tf.Tensor1D>(tf.sub(br, bl), n);
    const col = (t: tf.Tensor) => tf.reshape(t, [p, 1]);
    const yl = tf.slice(y, [0, 0], [p, n]);
    const yr = tf.slice(y, [0, 1], [p, n]);
    const k = tf.div(tf.sub(yr, yl), col(d));
    const b = tf.add(col(bl), tf.mul(tf.range(0, n, 1, 'float32'), col(d)));
    const y0 = tf.slice(y, [0, 0], [p, 1]);
    const yN = tf.slice(y, [0, n], [p, 1]);
    const slopes = tf.concat([col(kl), k, col(kr)], 1) as tf.Tensor2D;
    const intercepts = tf.concat([tf.sub(y0, tf.mul(col(kl), col(bl))), tf.sub(yl, tf.mul(k, b)), tf.sub(yN, tf.mul(col(kr), col(br)))], 1) as tf.Tensor2D;
    return { slopes, intercepts, d };
  });
}
