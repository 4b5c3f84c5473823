import { z } from 'zod';
import { preluForward } from '../../ops/prelu.js';
import { defineActivation, requireChannels } from '../spec.js';
import { onnxPerChannel } from '../onnx.js';

const PReLUOptions = z.strictObject({
  /** Initial slope of the negative part. */
  init: z.number().min(-10).max(10).default(0.25),
});

/** PReLU's activations.json record: the learned slope of each channel. */
export const PReLUDescribe = z.object({ alpha: z.array(z.number()) });
export type PReLUDescribe = z.infer<typeof PReLUDescribe>;

/** max(0, x) + a_c * min(0, x) with one learnable slope per channel (He et al. 2015). */
export const preluSpec = defineActivation({
  name: 'prelu',
  className: 'PwluPReLU',
  description: 'PReLU: max(0,x) + a_c min(0,x), one learnable slope per channel, init 0.25',
  options: PReLUOptions,
  color: '#76b7b2',
  weights: (o, site) => [{ name: 'alpha', shape: [requireChannels(site, 'PReLU')], init: { fill: o.init }, trainable: true }],
  infer: (x, w) => preluForward(x, w.alpha!),
  onnx: (g, x, w, _o, prefix) => g.node('PRelu', [x.name, onnxPerChannel(g, `${prefix}.alpha`, w.alpha!, x.rank)], {}, g.name(prefix)),
  describe: (w) => ({ alpha: Array.from(w.alpha!) }),
  describeSchema: PReLUDescribe,
});
