import * as tf from '@tensorflow/tfjs-core';

/** Mean softmax cross-entropy with optional label smoothing (targets (1-e)*onehot + e/K). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, smoothing: number): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const logp = tf.logSoftmax(logits);
    const onehot = tf.oneHot(labels, k);
    const target = smoothing > 0 ? tf.add(tf.mul(onehot, 1 - smoothing), smoothing / k) : onehot;
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), 1))) as tf.Scalar;
  });
}

/** Per-batch counts of correct top-1 and top-k predictions, as tensors (read them together). */
export function topKCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D, k: number): { top1: tf.Scalar; topk: tf.Scalar } {
  return tf.tidy(() => {
    const kk = Math.min(k, logits.shape[1]);
    const { indices } = tf.topk(logits, kk);
    const hits = tf.cast(tf.equal(indices, tf.expandDims(labels, 1)), 'float32');
    const top1 = tf.sum(tf.slice(hits, [0, 0], [-1, 1])) as tf.Scalar;
    const topk = tf.sum(hits) as tf.Scalar;
    return { top1, topk };
  });
}
