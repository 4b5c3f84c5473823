/**
 * Shared pieces of the torch kernel tests: element-wise comparison of kernel outputs, and one training step
 * of a micro network (the check that a training run uses the fused kernels and nothing on the cpu).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';

import { ConfigSchema } from '../../src/config/schema.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { buildModel, makeTrainStep, paramGroups } from '../../src/train/step.js';

/**
 * got vs want, element by element: the first `exact` outputs bitwise (forward and dx: the kernels do the
 * composite's float32 operations in its order), the rest to 1e-5 relative (parameter sums); NaNs must match.
 */
export function expectKernelOutputs(got: Float32Array[], want: Float32Array[], names: string[], what: string, exact = 2): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, k) => {
    const w = want[k]!;
    expect(g.length, `${what} ${names[k]} size`).toBe(w.length);
    const tol = k < exact ? 0 : 1e-5;
    let worst = 0;
    let at = -1;
    for (let i = 0; i < w.length; i++) {
      if (Number.isNaN(w[i]!) || Number.isNaN(g[i]!)) {
        expect(Number.isNaN(g[i]!), `${what} ${names[k]}[${i}] NaN`).toBe(Number.isNaN(w[i]!));
        continue;
      }
      const err = Math.abs(g[i]! - w[i]!) / Math.max(1, Math.abs(w[i]!));
      if (err > worst) {
        worst = err;
        at = i;
      }
    }
    expect(worst, `${what} ${names[k]}: worst relative error at ${at}: got ${g[at]}, want ${w[at]}`).toBeLessThanOrEqual(tol);
  });
}

/** A micro network (width 0.25, 8x8x3 inputs, 5 classes) and one SGD step of it on a fixed batch of 4. */
export interface MicroTrain {
  model: tfl.LayersModel;
  /** The batch, NHWC. */
  x: Float32Array;
  /** The batch's labels. */
  y: Int32Array;
  /** One training step through pwlu's trainer (makeTrainStep); its loss and top-1 count. */
  step(): { loss: number; correct: number };
  dispose(): void;
}

/** Builds `arch` with `activation` (its config section: the name and any options sections) and the rest of the config from `extra`. */
export function microTrain(arch: string, activation: Record<string, unknown>, extra: Record<string, unknown> = {}): MicroTrain {
  const config = ConfigSchema.parse({ model: { arch, width: 0.25 }, activation, train: { label_smoothing: 0.1 }, ...extra });
  const model = buildModel(config, { height: 8, width: 8, channels: 3, numClasses: 5 });
  const params = paramGroups(model, config.train.no_decay);
  const optimizer = new Optimizer(config.train, params);
  const step = makeTrainStep(
    model,
    optimizer,
    params.map((p) => p.variable),
    [8, 8, 3],
    0.1,
  );
  const x = new Float32Array(4 * 8 * 8 * 3).map((_, i) => Math.sin(i * 0.37));
  const y = new Int32Array([0, 1, 2, 4]);
  return {
    model,
    x,
    y,
    step: () => step(x, y, 4, 0.01),
    dispose: () => {
      optimizer.dispose();
      model.dispose();
    },
  };
}
