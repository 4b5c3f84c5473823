import * as tf from '@tensorflow/tfjs-core';

/** True when the active backend registers a kernel of that name: the ops' test for taking their fused path. */
export function hasNativeKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}

/**
 * Runs one of pwlu's kernels on its typed inputs and attrs (the types kernel-names.ts declares beside each name): the
 * one cast to the engine's untyped maps, as tfjs's own ops make it, so no op writes its own.
 */
export function runNativeKernel<T extends tf.Tensor | tf.Tensor[]>(kernelName: string, inputs: object, attrs: object): T {
  return tf.engine().runKernel<T>(kernelName, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
}
