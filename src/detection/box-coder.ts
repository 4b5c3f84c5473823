/**
 * torchvision's BoxCoder (`models/detection/_utils.py`) for RetinaNet, weights (1, 1, 1, 1): the
 * regression head predicts, per anchor, deltas
 *
 *   dx = wx (gcx - acx) / aw,  dy = wy (gcy - acy) / ah,  dw = ww log(gw / aw),  dh = wh log(gh / ah)
 *
 * (centres `x1 + w / 2`, widths `x2 - x1`), and decoding inverts them with dw, dh clamped above at
 * log(1000 / 16) so exp() cannot overflow. Typed-array forms for targets and inference, and a
 * differentiable tensor form for the GIoU loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import { boxCount } from './boxes.js';

/** The four BoxCoder weights (wx, wy, ww, wh). */
export type BoxCoderWeights = readonly [number, number, number, number];

/** RetinaNet's weights. */
export const RETINANET_BOX_WEIGHTS: BoxCoderWeights = [1, 1, 1, 1];

/** torchvision's bbox_xform_clip: the largest dw, dh decoding accepts. */
export const BBOX_XFORM_CLIP = Math.log(1000 / 16);

/** Box o/4 of flat x1y1x2y2 boxes as [width, height, centre x, centre y], in float64. */
function centreForm(boxes: ArrayLike<number>, o: number): [number, number, number, number] {
  const w = boxes[o + 2]! - boxes[o]!;
  const h = boxes[o + 3]! - boxes[o + 1]!;
  return [w, h, boxes[o]! + 0.5 * w, boxes[o + 1]! + 0.5 * h];
}

/**
 * Regression targets of matched pairs (anchor i with gt i, both flat 4n), the values the box head is
 * trained to predict. Computed in float64, stored float32.
 */
export function encodeBoxes(anchors: ArrayLike<number>, gts: ArrayLike<number>, weights: BoxCoderWeights = RETINANET_BOX_WEIGHTS): Float32Array {
  const n = boxCount(anchors, 'encodeBoxes: anchors');
  if (boxCount(gts, 'encodeBoxes: gts') !== n) throw new RangeError(`encodeBoxes: ${n} anchors but ${gts.length / 4} ground truths (pairs expected)`);
  const [wx, wy, ww, wh] = weights;
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    const [aw, ah, acx, acy] = centreForm(anchors, o);
    const [gw, gh, gcx, gcy] = centreForm(gts, o);
    out[o] = (wx * (gcx - acx)) / aw;
    out[o + 1] = (wy * (gcy - acy)) / ah;
    out[o + 2] = ww * Math.log(gw / aw);
    out[o + 3] = wh * Math.log(gh / ah);
  }
  return out;
}

/** Boxes from predicted deltas (inference), the inverse of encodeBoxes with torchvision's clamp on dw, dh. */
export function decodeBoxes(
  anchors: ArrayLike<number>,
  deltas: ArrayLike<number>,
  weights: BoxCoderWeights = RETINANET_BOX_WEIGHTS,
  clamp: number = BBOX_XFORM_CLIP,
): Float32Array {
  const n = boxCount(anchors, 'decodeBoxes: anchors');
  if (boxCount(deltas, 'decodeBoxes: deltas') !== n) throw new RangeError(`decodeBoxes: ${n} anchors but ${deltas.length / 4} deltas`);
  const [wx, wy, ww, wh] = weights;
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    const [aw, ah, acx, acy] = centreForm(anchors, o);
    const dx = deltas[o]! / wx;
    const dy = deltas[o + 1]! / wy;
    const dw = Math.min(deltas[o + 2]! / ww, clamp);
    const dh = Math.min(deltas[o + 3]! / wh, clamp);
    const cx = dx * aw + acx;
    const cy = dy * ah + acy;
    const w = Math.exp(dw) * aw;
    const h = Math.exp(dh) * ah;
    out[o] = cx - 0.5 * w;
    out[o + 1] = cy - 0.5 * h;
    out[o + 2] = cx + 0.5 * w;
    out[o + 3] = cy + 0.5 * h;
  }
  return out;
}

/**
 * decodeBoxes as tfjs ops, differentiable in the deltas, for losses on decoded boxes (GIoU). Uses
 * only Unpack, Pack, Sub, Add, Mul, Minimum and Exp, which every backend runs natively.
 */
export function decodeBoxesTensor(
  anchors: tf.Tensor2D,
  deltas: tf.Tensor2D,
  weights: BoxCoderWeights = RETINANET_BOX_WEIGHTS,
  clamp: number = BBOX_XFORM_CLIP,
): tf.Tensor2D {
  if (anchors.rank !== 2 || anchors.shape[1] !== 4 || deltas.rank !== 2 || deltas.shape[1] !== 4 || anchors.shape[0] !== deltas.shape[0]) {
    throw new RangeError(`decodeBoxesTensor: expected anchors and deltas [n, 4], got [${anchors.shape}] and [${deltas.shape}]`);
  }
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.unstack(anchors, 1) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const [rx, ry, rw, rh] = tf.unstack(deltas, 1) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const [wx, wy, ww, wh] = weights;
    const aw = tf.sub(x2, x1);
    const ah = tf.sub(y2, y1);
    const acx = tf.add(x1, tf.mul(aw, 0.5));
    const acy = tf.add(y1, tf.mul(ah, 0.5));
    const dx = wx === 1 ? rx : tf.mul(rx, 1 / wx);
    const dy = wy === 1 ? ry : tf.mul(ry, 1 / wy);
    const dw = tf.minimum(ww === 1 ? rw : tf.mul(rw, 1 / ww), clamp);
    const dh = tf.minimum(wh === 1 ? rh : tf.mul(rh, 1 / wh), clamp);
    const cx = tf.add(tf.mul(dx, aw), acx);
    const cy = tf.add(tf.mul(dy, ah), acy);
    const halfW = tf.mul(tf.exp(dw), tf.mul(aw, 0.5));
    const halfH = tf.mul(tf.exp(dh), tf.mul(ah, 0.5));
    return tf.stack([tf.sub(cx, halfW), tf.sub(cy, halfH), tf.add(cx, halfW), tf.add(cy, halfH)], 1) as tf.Tensor2D;
  });
}
