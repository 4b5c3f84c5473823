import { z } from 'zod';
import { pauForward } from '../../ops/pau.js';
import { defineActivation } from '../spec.js';
import { onnxScalar } from '../onnx.js';

const PAUOptions = z.strictObject({
  /** Cap on the joint L2 norm of all PAU coefficient gradients per step; 0 disables clipping. */
  grad_clip: z.number().min(0).max(1e6).default(5),
});

/** Leaky-ReLU (slope 0.01) fit on [-3, 3] from the official PAU code: numerator a0..a5. */
export const PAU_INIT_NUMERATOR = [0.0335583603, 0.505000375, 1.65343934, 2.01001052, 0.931901999, 0.152424124];
/** ... and denominator b1..b4. */
export const PAU_INIT_DENOMINATOR = [3.30847488e-6, 3.98021568, 5.12471206e-7, 0.301830109];

/** PAU's activations.json record: the layer's coefficients. */
export const PAUDescribe = z.object({ numerator: z.array(z.number()), denominator: z.array(z.number()) });
export type PAUDescribe = z.infer<typeof PAUDescribe>;

/**
 * Padé Activation Unit (Molina et al. 2020), safe version A, degrees 5/4, one set of coefficients per layer:
 * P(x) / (1 + |b1||x| + … + |b4||x|^4), both by Horner's rule as the kernels evaluate them.
 */
export const pauSpec = defineActivation({
  name: 'pau',
  className: 'PwluPAU',
  description: 'PAU: safe Padé unit P5(x)/Q4(x) (version A), 10 coefficients per layer, leaky-ReLU init, gradient-norm clipping',
  options: PAUOptions,
  color: '#9c755f',
  weights: () => [
    { name: 'numerator', shape: [6], init: { values: Float32Array.from(PAU_INIT_NUMERATOR) }, trainable: true },
    { name: 'denominator', shape: [4], init: { values: Float32Array.from(PAU_INIT_DENOMINATOR) }, trainable: true },
  ],
  infer: (x, w) => pauForward(x, w.numerator!, w.denominator!),
  onnx: (g, x, w, _o, prefix) => {
    const a = w.numerator!;
    const b = Array.from(w.denominator!, Math.abs);
    const c = (v: number, k: string) => onnxScalar(g, `${prefix}.${k}`, v);
    let p = c(a[5]!, 'a5');
    for (let j = 4; j >= 0; j--) p = g.node('Add', [g.node('Mul', [p, x.name]), c(a[j]!, `a${j}`)]);
    const ax = g.node('Abs', [x.name]);
    let q = c(b[3]!, 'b4');
    for (let k = 2; k >= 0; k--) q = g.node('Add', [g.node('Mul', [q, ax]), c(b[k]!, `b${k + 1}`)]);
    q = g.node('Add', [g.node('Mul', [q, ax]), c(1, 'one')]);
    return g.node('Div', [p, q], {}, g.name(prefix));
  },
  describe: (w) => ({ numerator: Array.from(w.numerator!), denominator: Array.from(w.denominator!) }),
  describeSchema: PAUDescribe,
});
