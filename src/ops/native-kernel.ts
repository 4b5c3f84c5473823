import * as tf from '@tensorflow/tfjs-core';

/** True when the active backend registers a kernel of that name: the ops' test for taking their fused path. */
export function hasNativeKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
