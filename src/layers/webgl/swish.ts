/**
 * `PwluSwishForward` for tfjs's webgl backend: x * sigmoid(beta x) in one packed pass, where tfjs's own ops take
 * three (multiply, sigmoid, multiply). A fixed beta is a uniform, so one compiled program serves every beta.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { SWISH_FORWARD_KERNEL, type SwishForwardInputs } from '../../ops/kernel-names.js';
import { channelProgram, registerWebglKernel } from './program.js';

/** Registers Swish's forward kernel for webgl (inference: pwlu/layers registers no backward). */
export function registerSwishWebgl(): void {
  registerWebglKernel<SwishForwardInputs>(SWISH_FORWARD_KERNEL, ({ x, beta }, attrs) => {
    const body = (b: string) => `setOutput(v / (1.0 + exp(-${b} * v)));`;
    if (beta === undefined) {
      const program = channelProgram('Swish', x, ['x'], '', body('betaAttr'), [{ name: 'betaAttr', type: 'float' }]);
      return { program, inputs: [x], uniforms: [[Number(attrs.beta)]] };
    }
    // A trainable beta: one element, of rank 0 or 1 (a packed scalar sampler takes no index).
    const read = beta.shape.length === 0 ? 'getBeta().x' : 'getBeta(0).x';
    const inputs: TensorInfo[] = [x, beta];
    return { program: channelProgram('Swish', x, ['x', 'beta'], '', body(`(${read})`)), inputs };
  });
}
