import { z } from 'zod';
import { swishForward } from '../../ops/swish.js';
import { defineActivation } from '../spec.js';
import { onnxScalar } from '../onnx.js';

const SwishOptions = z.strictObject({
  /** Initial (or fixed) beta. */
  beta: z.number().positive().max(100).default(1),
  /** Learn beta by gradient descent (one scalar per site). */
  trainable_beta: z.boolean().default(false),
});

/** Swish's activations.json record: the beta it ran with (learned or fixed). */
export const SwishDescribe = z.object({ beta: z.number() });
export type SwishDescribe = z.infer<typeof SwishDescribe>;

/** The beta an instance computes with: its learned weight when trainable, else the option. */
function betaOf(w: { beta?: Float32Array }, o: z.infer<typeof SwishOptions>): number {
  return w.beta ? w.beta[0]! : o.beta;
}

/** x * sigmoid(beta x): the baseline the paper compares PWLU against (beta = 1 is SiLU). */
export const swishSpec = defineActivation({
  name: 'swish',
  className: 'PwluSwish',
  description: 'Swish: x * sigmoid(beta * x); beta = 1 (SiLU) by default, optionally trainable',
  options: SwishOptions,
  color: '#f28e2b',
  weights: (o) => (o.trainable_beta ? [{ name: 'beta', shape: [], init: { fill: o.beta }, trainable: true }] : []),
  infer: (x, w, o) => swishForward(x, w.beta ?? o.beta),
  onnx: (g, x, w, o, prefix) => {
    const beta = betaOf(w, o);
    const bx = beta === 1 ? x.name : g.node('Mul', [x.name, onnxScalar(g, `${prefix}.beta`, beta)]);
    return g.node('Mul', [x.name, g.node('Sigmoid', [bx])], {}, g.name(prefix));
  },
  describe: (w, o) => ({ beta: betaOf(w, o) }),
  describeSchema: SwishDescribe,
});
