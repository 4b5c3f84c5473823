import * as tf from '@tensorflow/tfjs-core';
import { TwoPhaseLayer } from './pwlu.js';
import { tensorWeights, type SpecLayerConfig } from './layer.js';
import { npwluForward, npwluSpec } from './specs/npwlu.js';

/**
 * Non-uniform PWLU's training layer: PWLU's two-phase method, the function in composite tfjs ops (the spec's, which
 * tfjs differentiates: no fused kernel), and realignment that also resets the interval widths to uniform.
 */
export class NonUniformPWLULayer extends TwoPhaseLayer {
  static className = npwluSpec.className;

  constructor(config: SpecLayerConfig = {}) {
    super(npwluSpec, config);
  }

  protected train(x: tf.Tensor): tf.Tensor {
    return npwluForward(x, tensorWeights(this.namedWeights()));
  }

  protected infer(x: tf.Tensor): tf.Tensor {
    return npwluForward(x, tensorWeights(this.namedWeights()));
  }

  protected override resetShape(bl: number[], br: number[]): void {
    super.resetShape(bl, br);
    tf.tidy(() => {
      this.weight('widths').write(tf.zeros(this.weight('widths').shape as number[]));
    });
  }
}
tf.serialization.registerClass(NonUniformPWLULayer);
