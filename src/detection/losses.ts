/**
 * RetinaNet's losses as elementwise (reduction "none") tfjs ops, differentiable and numerically
 * stable, following torchvision.ops:
 *
 *  - sigmoidFocalLoss: `sigmoid_focal_loss` (α 0.25, γ 2 by default);
 *  - l1Loss, smoothL1Loss: `F.l1_loss`, `F.smooth_l1_loss` on encoded deltas;
 *  - giouLoss: `generalized_box_iou_loss` (eps 1e-7) on decoded boxes.
 *
 * Reductions (sum over anchors, normalised by the number of positives) are the caller's. Only ops
 * with native kernels on the torch backend are used (Softplus, Sigmoid, Mul, Add, Sub, Square, Pow,
 * Abs, Less, Select, Relu, Maximum, Minimum, RealDiv, Unpack), so no step falls back to a CPU path.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * torchvision.ops.sigmoid_focal_loss (reduction "none"): with p = sigmoid(x),
 * ce = BCE-with-logits(x, t), p_t = p t + (1 - p)(1 - t), loss = α_t ce (1 - p_t)^γ,
 * α_t = α t + (1 - α)(1 - t), and no α weighting when α < 0.
 *
 * ce is computed as softplus(x) - x t, which is finite for any x (tfjs's Softplus is the stable
 * form) and whose gradient sigmoid(x) - t is exact everywhere, x = 0 included (the
 * relu(x) - x t + log1p(exp(-|x|)) form gets relu's and abs's subgradient 0 there).
 */
export function sigmoidFocalLoss(logits: tf.Tensor, targets: tf.Tensor, alpha = 0.25, gamma = 2): tf.Tensor {
  return tf.tidy(() => {
    const x = logits;
    const t = targets.dtype === 'float32' ? targets : tf.cast(targets, 'float32');
    const p = tf.sigmoid(x);
    const ce = tf.sub(tf.softplus(x), tf.mul(x, t));
    // 1 - p_t = p (1 - 2t) + t.
    const oneMinusPt = tf.add(tf.mul(p, tf.sub(1, tf.mul(t, 2))), t);
    const modulator = gamma === 2 ? tf.square(oneMinusPt) : gamma === 1 ? oneMinusPt : gamma === 0 ? null : tf.pow(oneMinusPt, gamma);
    const loss = modulator ? tf.mul(ce, modulator) : ce;
    if (alpha < 0) return loss;
    // α_t = (1 - α) + (2α - 1) t.
    const alphaT = tf.add(tf.mul(t, 2 * alpha - 1), 1 - alpha);
    return tf.mul(alphaT, loss);
  });
}

/** |pred - target| elementwise: torchvision RetinaNet's default box loss (`l1`) on encoded deltas. */
export function l1Loss(pred: tf.Tensor, target: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.abs(tf.sub(pred, target)));
}

/**
 * Smooth L1 elementwise: 0.5 d² / β where |d| < β, else |d| - 0.5 β; β = 0 is L1.
 *
 * The default β = 1 is what torchvision's RetinaNet uses with `bbox_reg_loss_type = "smooth_l1"`:
 * `_box_loss` calls F.smooth_l1_loss with β = cnf["beta"] if given, else 1.0, and RetinaNet passes
 * no cnf. The β = 1/9 of `_utils.smooth_l1_loss` belongs to the R-CNN heads (Detectron's RetinaNet
 * used 0.11, Detectron2's 0.1); pass it explicitly to reproduce those.
 */
export function smoothL1Loss(pred: tf.Tensor, target: tf.Tensor, beta = 1): tf.Tensor {
  if (beta < 0) throw new RangeError(`smoothL1Loss: beta must be >= 0, got ${beta}`);
  if (beta === 0) return l1Loss(pred, target);
  return tf.tidy(() => {
    const n = tf.abs(tf.sub(pred, target));
    return tf.where(tf.less(n, beta), tf.mul(tf.square(n), 0.5 / beta), tf.sub(n, 0.5 * beta));
  });
}

/**
 * torchvision.ops.generalized_box_iou_loss (reduction "none"), per pair of rows of [n, 4] x1y1x2y2
 * boxes: 1 - IoU + (C - U) / C, with C the smallest enclosing box's area and eps 1e-7 in both
 * denominators, as torchvision. It stays in [0, 2] and has a gradient even for disjoint boxes.
 */
export function giouLoss(predBoxes: tf.Tensor2D, targetBoxes: tf.Tensor2D, eps = 1e-7): tf.Tensor1D {
  if (predBoxes.rank !== 2 || predBoxes.shape[1] !== 4 || targetBoxes.rank !== 2 || targetBoxes.shape[1] !== 4 || predBoxes.shape[0] !== targetBoxes.shape[0]) {
    throw new RangeError(`giouLoss: expected two [n, 4] box tensors, got [${predBoxes.shape}] and [${targetBoxes.shape}]`);
  }
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.unstack(predBoxes, 1) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    const [x1g, y1g, x2g, y2g] = tf.unstack(targetBoxes, 1) as [tf.Tensor1D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
    // Intersection: torchvision's masked product (both extents positive) equals the product of the clamped extents.
    const iw = tf.relu(tf.sub(tf.minimum(x2, x2g), tf.maximum(x1, x1g)));
    const ih = tf.relu(tf.sub(tf.minimum(y2, y2g), tf.maximum(y1, y1g)));
    const inter = tf.mul(iw, ih);
    const union = tf.sub(tf.add(tf.mul(tf.sub(x2, x1), tf.sub(y2, y1)), tf.mul(tf.sub(x2g, x1g), tf.sub(y2g, y1g))), inter);
    const iou = tf.div(inter, tf.add(union, eps));
    const cw = tf.sub(tf.maximum(x2, x2g), tf.minimum(x1, x1g));
    const ch = tf.sub(tf.maximum(y2, y2g), tf.minimum(y1, y1g));
    const areaC = tf.mul(cw, ch);
    const giou = tf.sub(iou, tf.div(tf.sub(areaC, union), tf.add(areaC, eps)));
    return tf.sub(1, giou) as tf.Tensor1D;
  });
}
