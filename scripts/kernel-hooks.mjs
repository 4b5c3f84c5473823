// Wrapping every registered kernel of a tfjs backend, for the profiling and kernel-census scripts.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Re-registers every kernel of `backend` so that each call goes through around(kernelName, args, run),
 * where run() calls the original kernel and returns its result.
 */
export function wrapKernels(backend, around) {
  for (const k of tf.getKernelsForBackend(backend)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({ ...k, kernelFunc: (args) => around(k.kernelName, args, () => f(args)) });
  }
}

/** "Name [shape] [shape] -": a kernel call labelled with its input shapes. */
export function shapeKey(kernelName, inputs) {
  return `${kernelName} ${Object.values(inputs).map((t) => (t ? `[${t.shape}]` : '-')).join(' ')}`;
}
