/**
 * Tensor work that no gradient flows through, run off tfjs's gradient tape. Inside `tf.variableGrads`
 * every kernel is recorded with the tensors its gradient needs, and those stay alive until the
 * backward pass ends: `tf.moments` over a layer's input, for one, keeps x - mean and its square, two
 * copies of the input per layer. Ops run inside a custom op's forward are not recorded (tfjs records
 * only the outermost kernel), so this runs `f` as the forward of a custom op that saves nothing:
 * its intermediates are freed when it returns.
 */
import * as tf from '@tensorflow/tfjs-core';

/** f(x) computed without recording anything on the gradient tape (so nothing of it is kept for the backward pass); no gradient flows back to x. */
export function offTape(x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const input = args[0] as tf.Tensor;
    return { value: f(input), gradFunc: () => tf.zerosLike(input) };
  });
  return op(x);
}
