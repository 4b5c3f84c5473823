/** Parameter-free functions shared by pwlu/layers and the training layers (no side effects: importing registers nothing). */
import * as tf from '@tensorflow/tfjs-core';

/** The fixed functions (PyTorch definitions: hard-sigmoid = relu6(x + 3) / 6). */
export function fixedFunction(kind: string, x: tf.Tensor): tf.Tensor {
  switch (kind) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'hardsigmoid':
      return tf.div(tf.relu6(tf.add(x, 3)), 6);
    case 'hardswish':
      return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
    default:
      throw new Error(`unknown fixed activation '${kind}'`);
  }
}
