import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationTrainingHooks } from './hooks.js';
import { prelu as preluOp } from '../ops/prelu.js';
import type { ActivationEntry, ActivationLayer } from './types.js';
import { ACTIVATION_OPTIONS, type ActivationOptions } from './options.js';

interface PReLUArgs {
  name?: string;
  /** Initial negative slope (He et al. 2015: 0.25). */
  init?: number;
}

/** max(0, x) + a_c * min(0, x) with one learnable slope per channel (He et al. 2015). */
export class PReLULayer extends tfl.layers.Layer implements ActivationLayer, ActivationTrainingHooks {
  static className = 'PwluPReLU';
  readonly isActivation = true;
  readonly init: number;
  private alpha!: tfl.LayerVariable;

  constructor(args: PReLUArgs = {}) {
    super({ name: args.name });
    this.init = args.init ?? 0.25;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const c = shape[shape.length - 1];
    if (c == null) throw new Error(`${this.name}: channel dimension must be known`);
    this.alpha = this.addWeight('alpha', [c], 'float32', tfl.initializers.constant({ value: this.init }));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    // One fused op each way with a hand-written gradient (dx and dalpha [C] in one pass): src/ops/prelu.ts.
    return preluOp(Array.isArray(inputs) ? inputs[0]! : inputs, this.alpha.read());
  }

  describe(): Record<string, unknown> {
    return { type: 'prelu', alpha: Array.from(this.alpha.read().dataSync()) };
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), init: this.init };
  }
}
tf.serialization.registerClass(PReLULayer);

export const prelu: ActivationEntry<ActivationOptions<'prelu'>> = {
  name: 'prelu',
  description: 'PReLU: max(0,x) + a_c min(0,x), one learnable slope per channel, init 0.25',
  options: ACTIVATION_OPTIONS.prelu,
  create: (o, site) => new PReLULayer({ name: site.name, init: o.init }),
};
