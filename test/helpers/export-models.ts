import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { Rng } from '../../src/util/rng.js';
import { buildArch, factory, MICRO_OPTIONS, ZOO } from './zoo.js';

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

/** Every architecture the export tests cover (micro widths). */
export const EXPORT_ARCHS = ['resnet20', 'plainnet', ...ZOO] as const;

/** Builds a micro `arch` with `act` (and its options) at 16x16x3 and 5 classes, perturbed; runs `check` on it and a fixed batch, then disposes both. */
export async function withExportModel(
  arch: string,
  act: string,
  options: Record<string, unknown>,
  check: (m: tfl.LayersModel, x: tf.Tensor4D) => Promise<void>,
): Promise<void> {
  const m = buildArch(arch, { inputShape: [16, 16, 3], numClasses: 5, ...MICRO_OPTIONS[arch], activation: factory(act, options) });
  perturb(m, 7);
  const x = tf.randomNormal([3, 16, 16, 3], 0, 2, 'float32', 3) as tf.Tensor4D;
  try {
    await check(m, x);
  } finally {
    x.dispose();
    m.dispose();
  }
}

/** The activation options that change an export's form: channel-wise PWLU and a learned Swish beta. */
export const OPTION_VARIANTS = [
  ['pwlu', { granularity: 'channel', n: 8 }],
  ['swish', { trainable_beta: true }],
] as const;
