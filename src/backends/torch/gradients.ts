// One-pass gradients for the hottest activation / pooling gradients while 'torch' is the active
// backend. tfjs writes ReLU's gradient as Step + Cast + Multiply (two passes over the activation),
// ReLU6's as four, Sigmoid's as three and Mean's through a JS-allocated ones tensor. Gradients are
// registered globally in tfjs, so each override keeps tfjs's own gradient for every other backend.
import * as tf from '@tensorflow/tfjs-core';

import { MEAN_GRAD_KERNEL, RELU6_GRAD_KERNEL, RELU_GRAD_KERNEL, SIGMOID_GRAD_KERNEL } from '../../ops/kernel-names.js';
import { runNativeKernel } from '../../ops/native-kernel.js';

type GradFunc = tf.GradConfig['gradFunc'];

function override(kernelName: string, torchGrad: GradFunc): void {
  const original = tf.getGradient(kernelName);
  if (!original) return;
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => (tf.getBackend() === 'torch' ? torchGrad(dy, saved, attrs) : original.gradFunc(dy, saved, attrs)),
  });
}

let installed = false;

/**
 * Installs the torch-only gradient shortcuts once per process (tfjs gradients stay in place elsewhere). tfjs-layers'
 * Node bundle carries its own copy of every tfjs gradient and registers them all when it loads, replacing any
 * override made before: it is loaded first, so that a program that selects the backend before it imports a model
 * (the profiling scripts did) still gets the shortcuts.
 */
export async function installTorchGradients(): Promise<void> {
  if (installed) return;
  installed = true;
  await import('@tensorflow/tfjs-layers');
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: object = {}) => runNativeKernel<tf.Tensor>(name, inputs, attrs);
  override('Relu', (dy, saved) => {
    const [x] = saved;
    return { x: () => run(RELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: x! }) };
  });
  override('Relu6', (dy, saved) => {
    const [x] = saved;
    return { x: () => run(RELU6_GRAD_KERNEL, { dy: dy as tf.Tensor, x: x! }) };
  });
  override('Sigmoid', (dy, saved) => {
    const [y] = saved;
    return { x: () => run(SIGMOID_GRAD_KERNEL, { dy: dy as tf.Tensor, y: y! }) };
  });
  override('Mean', (dy, saved, attrs) => {
    const [x] = saved;
    const axes = tf.util.parseAxisParam((attrs as { axis: number | number[] }).axis, x!.shape);
    return { x: () => run(MEAN_GRAD_KERNEL, { dy: dy as tf.Tensor, x: x! }, { axes }) };
  });
}
