/**
 * defineFusedOp's dispatch, on a toy op y = a * x with test-only kernels registered for cpu: the
 * automatic choice takes the kernels where the backend registers both and `canFuse` accepts the
 * inputs, 'composite' never does, 'fused' fails loudly without them, the training op's gradients
 * come from the backward (one per input, in key order), and `infer` prefers the infer kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineFusedOp } from '../../src/ops/fused-op.js';
import type { KernelInputs, NoAttrs } from '../../src/ops/kernel-names.js';

const FWD = 'TestScaleForward';
const BWD = 'TestScaleBackward';
const INFER = 'TestScaleInfer';
type ScaleInputs = KernelInputs<'x' | 'a'>;

const calls: string[] = [];

/** A cpu kernel computing `f` elementwise over its float32 inputs (by name), recording that it ran. */
function cpuKernel(name: string, f: (ins: Record<string, Float32Array>) => Float32Array[]): KernelFunc {
  return ({ inputs, backend }) => {
    calls.push(name);
    const cpu = backend as unknown as { readSync(id: object): Float32Array; makeTensorInfo(s: number[], d: 'float32', v: Float32Array): TensorInfo };
    const ins = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, cpu.readSync(t!.dataId)]));
    const shapes = [inputs.x!.shape, inputs.a!.shape];
    const outs = f(ins).map((v, i) => cpu.makeTensorInfo(shapes[i] ?? inputs.x!.shape, 'float32', v));
    return outs.length === 1 ? outs[0]! : outs;
  };
}

const op = defineFusedOp<ScaleInputs, NoAttrs>({
  name: 'Scale',
  kernels: { forward: FWD, backward: BWD, infer: INFER },
  check: ({ a }) => {
    if (a.size !== 1) throw new Error('Scale: a must have one element');
  },
  canFuse: ({ x }) => x.dtype === 'float32',
  composite: {
    forward: ({ x, a }) => {
      calls.push('composite forward');
      return tf.mul(x, a);
    },
    backward: (dy, { x, a }) => {
      calls.push('composite backward');
      return [tf.mul(dy, a), tf.reshape(tf.sum(tf.mul(dy, x)), a.shape)];
    },
  },
});

describe('defineFusedOp', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    tf.registerKernel({ kernelName: FWD, backendName: 'cpu', kernelFunc: cpuKernel(FWD, ({ x, a }) => [x!.map((v) => v * a![0]!)]) });
    tf.registerKernel({
      kernelName: BWD,
      backendName: 'cpu',
      kernelFunc: cpuKernel(BWD, ({ dy, x, a }) => [dy!.map((g) => g * a![0]!), Float32Array.of(dy!.reduce((s, g, i) => s + g * x![i]!, 0))]),
    });
  });
  afterAll(() => {
    for (const k of [FWD, BWD, INFER]) if (tf.getKernel(k, 'cpu')) tf.unregisterKernel(k, 'cpu');
  });

  const x = () => tf.tensor1d([1, -2, 3]);
  const a = () => tf.tensor1d([0.5]);

  it("'auto' runs the kernels where the backend has both, 'composite' never", () => {
    calls.length = 0;
    expect(Array.from(op.forward({ x: x(), a: a() }, {}).dataSync())).toEqual([0.5, -1, 1.5]);
    expect(Array.from(op.forward({ x: x(), a: a() }, {}, 'composite').dataSync())).toEqual([0.5, -1, 1.5]);
    expect(calls).toEqual([FWD, 'composite forward']);
  });

  it('falls back to the composite when canFuse refuses the inputs, and forced fused then fails', () => {
    calls.length = 0;
    const xi = tf.tensor1d([1, 2], 'int32');
    op.forward({ x: xi, a: a() }, {});
    expect(calls).toEqual(['composite forward']);
    expect(() => op.forward({ x: xi, a: a() }, {}, 'fused')).toThrow(/Scale: backend 'cpu' has no fused Scale kernels for these inputs/);
  });

  it('the training op differentiates every input through the backward, in key order, on both paths', () => {
    for (const impl of ['auto', 'composite'] as const) {
      calls.length = 0;
      const [dx, da] = tf.grads((xs: tf.Tensor, as: tf.Tensor) => op.apply({ x: xs, a: as }, {}, impl))([x(), a()]);
      expect(Array.from(dx!.dataSync())).toEqual([0.5, 0.5, 0.5]);
      expect(Array.from(da!.dataSync())).toEqual([2]);
      expect(calls).toEqual(impl === 'auto' ? [FWD, BWD] : ['composite forward', 'composite backward']);
    }
  });

  it('checks shapes at every entry point', () => {
    const bad = { x: x(), a: tf.tensor1d([1, 2]) };
    expect(() => op.forward(bad, {})).toThrow(/one element/);
    expect(() => op.backward(x(), bad, {})).toThrow(/one element/);
    expect(() => op.apply(bad, {})).toThrow(/one element/);
    expect(() => op.infer(bad, {})).toThrow(/one element/);
  });

  it('infer runs the infer kernel where registered, else the forward', () => {
    calls.length = 0;
    op.infer({ x: x(), a: a() }, {});
    tf.registerKernel({ kernelName: INFER, backendName: 'cpu', kernelFunc: cpuKernel(INFER, ({ x: v }) => [v!.slice()]) });
    op.infer({ x: x(), a: a() }, {});
    expect(calls).toEqual([FWD, INFER]);
  });
});
