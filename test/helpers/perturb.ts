import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../../src/util/rng.js';

/** Moves every weight (activation parameters, BN statistics included) off its initial value, as training would. */
export function perturb(model: tfl.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(
      ws.map((w, i) => {
        const v = Float32Array.from(w.dataSync() as Float32Array);
        const variance = /variance|moving_var/i.test(layer.weights[i]!.name);
        for (let i = 0; i < v.length; i++) v[i] = variance ? Math.abs(v[i]!) * (0.5 + rng.uniform()) + 0.05 : v[i]! + 0.1 * rng.normal();
        return tf.tensor(v, w.shape);
      }),
    );
  }
}

