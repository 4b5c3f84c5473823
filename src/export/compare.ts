/** How an exported model's logits compare with the run's own: the check both export formats make. */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { predict } from '../models/infer.js';

/** The largest |difference| between two sets of logits, absolute and relative to the largest |logit|. */
export interface LogitCheck {
  max_abs_diff: number;
  max_rel_diff: number;
  /** Whether both agree on the top-1 class of every example. */
  same_top1: boolean;
}

/** The model's own inference logits for x (the folded plan pwlu itself runs). */
export function ownLogits(model: tfl.LayersModel, x: tf.Tensor4D): { values: Float32Array; classes: number } {
  const y = tf.tidy(() => predict(model, x));
  const values = y.dataSync() as Float32Array;
  const classes = y.shape[1]!;
  y.dispose();
  return { values, classes };
}

/** Compares `got` with `want`, both [n, classes] row-major. */
export function compareLogits(want: Float32Array, got: ArrayLike<number>, classes: number): LogitCheck {
  if (got.length !== want.length) throw new Error(`the exported model returned ${got.length} logits, expected ${want.length}`);
  let maxAbs = 0;
  let scale = 0;
  let sameTop1 = true;
  for (let b = 0; b < want.length / classes; b++) {
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
}
