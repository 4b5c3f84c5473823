/**
 * Finite-difference helpers for the activation gradient tests: float64 reference functions written
 * from shared/spec/activations.md, central differences on them, and a harness that compares a
 * tfjs layer's forward values and gradients (input and every trainable weight) against both.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { expect } from 'vitest';
import { Rng } from '../../src/util/rng.js';

/** A float64 reference: the whole output for input x and the layer's trainable weights (in layer order). */
export type Reference = (x: Float64Array, params: Float64Array[]) => Float64Array;

/** Uniform values in [lo, hi), float32-representable, at least `gap` away from every kink. */
export function sample(rng: Rng, n: number, lo: number, hi: number, kinks: number[] = [], gap = 1e-3): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = Math.fround(lo + (hi - lo) * rng.uniform());
    while (kinks.some((k) => Math.abs(v - k) < gap));
    out[i] = v;
  }
  return out;
}

/** sum(w * f(x, params)) in float64. */
function objective(ref: Reference, x: Float64Array, params: Float64Array[], w: Float64Array): number {
  const y = ref(x, params);
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
  return s;
}

/**
 * Finite differences of sum(w * f) with respect to x (which = -1) or params[which]: central by
 * default, or one-sided ('forward' = right derivative, 'backward' = left derivative) at kinks.
 */
export function centralDiff(
  ref: Reference,
  x: Float64Array,
  params: Float64Array[],
  w: Float64Array,
  which: number,
  h = 1e-6,
  mode: 'central' | 'forward' | 'backward' = 'central',
): Float64Array {
  const target = which < 0 ? x : params[which]!;
  const g = new Float64Array(target.length);
  const base = mode === 'central' ? 0 : objective(ref, x, params, w);
  for (let i = 0; i < target.length; i++) {
    const v = target[i]!;
    if (mode === 'central') {
      target[i] = v + h;
      const up = objective(ref, x, params, w);
      target[i] = v - h;
      const down = objective(ref, x, params, w);
      g[i] = (up - down) / (2 * h);
    } else if (mode === 'forward') {
      target[i] = v + h;
      g[i] = (objective(ref, x, params, w) - base) / h;
    } else {
      target[i] = v - h;
      g[i] = (base - objective(ref, x, params, w)) / h;
    }
    target[i] = v;
  }
  return g;
}

/** Elementwise |got - want| <= tol * max(1, max|want|), with a message naming the worst element. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-4): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  expect(worst / scale, `${what}: worst error ${worst} at ${at} (got ${got[at]}, want ${want[at]}, scale ${scale})`).toBeLessThan(tol);
}

export interface LayerCheck {
  layer: tfl.layers.Layer;
  x: Float32Array;
  shape: number[];
  ref: Reference;
  /** Values for trainable weights, by weight name (the part after the layer name). */
  set?: Record<string, Float32Array | number[]>;
  seed?: number;
  tol?: number;
}

/**
 * Builds the layer on x, sets its weights, and checks in training mode: forward = reference, and
 * the tfjs gradients of sum(w * f) for the input and each trainable weight = central differences
 * of the float64 reference (random upstream weights w).
 */
export function checkLayerGradients(c: LayerCheck): void {
  const { layer, x, shape, ref } = c;
  const xT = tf.tensor(x, shape);
  tf.dispose(layer.apply(xT, { training: true }) as tf.Tensor);
  for (const w of layer.trainableWeights) {
    const key = w.originalName.slice(w.originalName.lastIndexOf('/') + 1);
    const v = c.set?.[key];
    if (v) w.write(tf.tensor(v, w.shape as number[]));
  }
  const rng = new Rng(c.seed ?? 7);
  const wts = new Float32Array(x.length).map(() => Math.fround(2 * rng.uniform() - 1));
  const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const xVar = tf.variable(xT);
  const wT = tf.tensor(wts, shape);
  let out: Float32Array = new Float32Array(0);
  const { grads } = tf.variableGrads(() => {
    const y = layer.apply(xVar, { training: true }) as tf.Tensor;
    out = y.dataSync() as Float32Array;
    return tf.sum(tf.mul(y, wT)) as tf.Scalar;
  }, [xVar, ...vars]);
  const x64 = Float64Array.from(x);
  const params = vars.map((v) => Float64Array.from(v.dataSync()));
  const w64 = Float64Array.from(wts);
  const tol = c.tol ?? 1e-4;
  expectClose(out, ref(x64, params), `${layer.name} forward`, tol);
  expectClose(grads[xVar.name]!.dataSync(), centralDiff(ref, x64, params, w64, -1), `${layer.name} d/dx`, tol);
  vars.forEach((v, i) => {
    expectClose(grads[v.name]!.dataSync(), centralDiff(ref, x64, params, w64, i), `${layer.name} d/d${layer.trainableWeights[i]!.originalName}`, tol);
  });
  tf.dispose([xT, xVar, wT, ...Object.values(grads)]);
}

/** Channels-last helper: the channel of flat element e. */
export function channelOf(e: number, c: number): number {
  return e % c;
}
