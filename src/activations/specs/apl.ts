import { z } from 'zod';
import { aplForward } from '../../ops/apl.js';
import { Rng } from '../../util/rng.js';
import { defineActivation, requireChannels } from '../spec.js';
import { onnxPerChannel } from '../onnx.js';
import { rowsOf } from './common.js';

const APLOptions = z.strictObject({
  /** Number of hinges S (2..5). */
  s: z.number().int().min(2).max(5).default(2),
  /** L2 penalty weight on a and b (sum of squares), added to the training loss. */
  l2: z.number().min(0).max(1).default(1e-3),
});

/** APL's activations.json record: a and b, one row of C values per hinge. */
export const APLDescribe = z.object({ s: z.number(), a: z.array(z.array(z.number())), b: z.array(z.array(z.number())) });
export type APLDescribe = z.infer<typeof APLDescribe>;

/** The seeded initial a ~ U(-0.5/S, 0.5/S) and b ~ N(0, 0.5^2), a drawn first (one generator per instance). */
function initialHinges(s: number, c: number, seed: number): { a: Float32Array; b: Float32Array } {
  const rng = new Rng(seed);
  const a = new Float32Array(s * c);
  const b = new Float32Array(s * c);
  const half = 0.5 / s;
  for (let i = 0; i < a.length; i++) a[i] = (2 * rng.uniform() - 1) * half;
  for (let i = 0; i < b.length; i++) b[i] = 0.5 * rng.normal();
  return { a, b };
}

/**
 * Adaptive piecewise linear unit (Agostinelli et al. 2015): max(0,x) + sum_s a_s max(0, b_s - x), S hinges per
 * channel (our choice; the original is per element).
 */
export const aplSpec = defineActivation({
  name: 'apl',
  className: 'PwluAPL',
  description: 'APL: max(0,x) + sum_s a_s max(0, b_s - x), S hinges (s, default 2) per channel, L2 penalty 1e-3',
  options: APLOptions,
  color: '#b07aa1',
  weights: (o, site, seed) => {
    const c = requireChannels(site, 'APL');
    const { a, b } = initialHinges(o.s, c, seed);
    return [
      { name: 'a', shape: [o.s, c], init: { values: a }, trainable: true },
      { name: 'b', shape: [o.s, c], init: { values: b }, trainable: true },
    ];
  },
  infer: (x, w) => aplForward(x, w.a!, w.b!),
  onnx: (g, x, w, o, prefix) => {
    const a = rowsOf(w.a!, o.s);
    const b = rowsOf(w.b!, o.s);
    let y = g.node('Relu', [x.name]);
    a.forEach((as, s) => {
      const hinge = g.node('Relu', [g.node('Sub', [onnxPerChannel(g, `${prefix}.b${s}`, b[s]!, x.rank), x.name])]);
      y = g.node('Add', [y, g.node('Mul', [onnxPerChannel(g, `${prefix}.a${s}`, as, x.rank), hinge])]);
    });
    return g.node('Identity', [y], {}, g.name(prefix));
  },
  describe: (w, o) => ({ s: o.s, a: rowsOf(w.a!, o.s), b: rowsOf(w.b!, o.s) }),
  describeSchema: APLDescribe,
});
