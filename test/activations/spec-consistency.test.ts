/**
 * One check for every activation spec, so a new activation gets it without writing a test: on perturbed (non-initial)
 * weights, the training layer at inference (the fused ops), the `pwlu/layers` inference class (`spec.infer`) and the
 * ONNX form (`spec.onnx`, run in onnxruntime) compute the same function within 1e-5 relative, for every granularity and
 * input rank the spec supports.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { arrayWeights, isSpecBacked, type SpecBacked } from '../../src/activations/layer.js';
import { makeActivationFactory } from '../../src/activations/registry.js';
import { ACTIVATION_SPECS, type AnyActivationSpec } from '../../src/activations/specs/index.js';
import { ActivationSchema } from '../../src/config/schema.js';
import { activationClass } from '../../src/layers/classes.js';
import { Rng } from '../../src/util/rng.js';
import { expectClose, sample } from '../helpers/fd.js';
import { runOnnxForm } from '../helpers/onnx-form.js';

const C = 3;

/** The option sets each spec is checked with: its defaults, plus channel-wise for the PWLU family. */
function variants(spec: AnyActivationSpec): Record<string, unknown>[] {
  const shape = (spec.options as unknown as { shape: Record<string, unknown> }).shape;
  const out: Record<string, unknown>[] = [{}];
  if ('granularity' in shape) out.push({ granularity: 'channel', n: 6 });
  if ('trainable_beta' in shape) out.push({ trainable_beta: true, beta: 1.5 });
  if ('s' in shape) out.push({ s: 3 });
  return out;
}

/** Moves every weight off its initial value, deterministically (variances and stds stay positive). */
function perturb(layer: SpecBacked, rng: Rng): void {
  for (const [name, w] of layer.namedWeights()) {
    const old = w.read().dataSync();
    const noise = sample(rng, old.length, -0.3, 0.3);
    const positive = /variance|std/.test(name);
    w.write(
      tf.tensor(
        Array.from(old, (v, i) => (positive ? Math.abs(v + noise[i]!) + 0.1 : v + noise[i]!)),
        w.shape as number[],
      ),
    );
  }
}

/** The ONNX form of one layer as a whole graph (NCHW in and out), run in onnxruntime on x (NHWC or [N, C]). */
async function onnxOutput(layer: SpecBacked & tfl.layers.Layer, x: tf.Tensor): Promise<Float32Array> {
  const { y } = await runOnnxForm(x, (g, input) => layer.spec.onnx(g, input, arrayWeights(layer.namedWeights()), layer.options, layer.name));
  return y;
}

describe('every activation spec: training layer = pwlu/layers = ONNX', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('covers every registered activation', () => {
    expect(ACTIVATION_SPECS.map((s) => s.name)).toEqual(['relu', 'swish', 'hardswish', 'prelu', 'apl', 'pau', 'frelu', 'pwlu', 'npwlu']);
  });

  for (const spec of ACTIVATION_SPECS) {
    for (const options of variants(spec)) {
      for (const rank of spec.spatialOnly ? [4] : [4, 2]) {
        it(`${spec.name} ${JSON.stringify(options)}, rank ${rank}`, async () => {
          const factory = makeActivationFactory(ActivationSchema.parse({ name: spec.name, [spec.name]: options }), 3);
          const train = factory({ name: 'act', channels: C, rank })!;
          const shape = rank === 4 ? [2, 5, 4, C] : [7, C];
          const rng = new Rng(11);
          const x = tf.tensor(
            sample(
              rng,
              shape.reduce((a, b) => a * b, 1),
              -4,
              4,
            ),
            shape,
          );
          tf.dispose(train.apply(x) as tf.Tensor); // builds it
          expect(isSpecBacked(train)).toBe(true);
          if (!isSpecBacked(train)) return;
          perturb(train, rng);
          const want = (train.apply(x, { training: false }) as tf.Tensor).dataSync();

          const Infer = activationClass(spec);
          const infer = new Infer({ name: 'act', ...train.getConfig() });
          tf.dispose(infer.apply(x) as tf.Tensor);
          infer.setWeights(train.getWeights());
          expect(infer.weights.map((w) => w.shape)).toEqual(train.weights.map((w) => w.shape));
          expectClose((infer.apply(x) as tf.Tensor).dataSync(), want, `${spec.name} pwlu/layers`, 1e-5);

          expectClose(await onnxOutput(train, x), want, `${spec.name} ONNX`, 1e-5);
          tf.dispose([x, ...train.weights.map((w) => w.read())]);
        });
      }
    }
  }
});
