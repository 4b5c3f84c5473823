/**
 * Saved-for-backward tensors on the torch backend are shared references (src/backends/torch/saved-tensors.ts):
 * no Identity kernel per saved tensor, the same gradients as on cpu, and no tensor left behind.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients

import { registerTorchBackend, torchAvailability } from '../../src/backends/torch/index.js';
import { shareSavedTensors } from '../../src/backends/torch/saved-tensors.js';
import { Rng } from '../../src/util/rng.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

/** Gradients of a conv -> relu -> conv -> sigmoid -> mean network, and the kernels one step ran. */
async function grads(backend: string): Promise<{ values: Float32Array[]; kernels: string[]; leaked: number }> {
  await tf.setBackend(backend);
  const r = new Rng(4);
  const t = (shape: number[]) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal()),
      shape,
    );
  const x = t([2, 6, 6, 3]) as tf.Tensor4D;
  const w1 = tf.variable(t([3, 3, 3, 4]), true, `st_${backend}_w1`) as tf.Variable<tf.Rank.R4>;
  const w2 = tf.variable(t([3, 3, 4, 2]), true, `st_${backend}_w2`) as tf.Variable<tf.Rank.R4>;
  const before = tf.memory().numTensors;
  let values: Float32Array[] = [];
  const profile = await tf.profile(() => {
    const { value, grads: g } = tf.variableGrads(
      () => tf.mean(tf.sigmoid(tf.conv2d(tf.relu(tf.conv2d(x, w1, 1, 'same')), w2, 2, 'valid'))) as tf.Scalar,
      [w1, w2],
    );
    values = [g[w1.name]!, g[w2.name]!].map((v) => v.dataSync() as Float32Array);
    tf.dispose([value, ...Object.values(g)]);
  });
  const leaked = tf.memory().numTensors - before;
  tf.dispose([x, w1, w2]);
  return { values, kernels: profile.kernelNames, leaked };
}

describe.skipIf(!avail.available)('torch: saved tensors are shared, not cloned', () => {
  it('installs on this tfjs-core and keeps gradients and memory as they were', async () => {
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    expect(shareSavedTensors()).toBe(true);
    const torch = await grads('torch');
    const cpu = await grads('cpu');
    expect(cpu.kernels).toContain('Identity'); // tfjs's clone, still used off the torch backend
    expect(torch.kernels).not.toContain('Identity');
    expect(torch.leaked).toBe(0);
    torch.values.forEach((g, i) => g.forEach((v, j) => expect(v).toBeCloseTo(cpu.values[i]![j]!, 5)));
  });
});
