/**
 * Every activation against shared/spec/activations.md: forward values against a float64 reference
 * written from the spec's formulas, and the tfjs gradients (input and every trainable weight)
 * against central finite differences of that reference. PWLU additionally: both implementations
 * (fused kernel and composite), both outer regions, inner intervals, inputs exactly on
 * breakpoints (one-sided differences and the spec's gradient table), and the channel-wise form.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { APLLayer } from '../../src/activations/apl.js';
import { FReLULayer } from '../../src/activations/frelu.js';
import { HardSwishLayer } from '../../src/activations/hardswish.js';
import { PAULayer, PAU_INIT_DENOMINATOR, PAU_INIT_NUMERATOR } from '../../src/activations/pau.js';
import { PReLULayer } from '../../src/activations/prelu.js';
import { prelu as preluOp } from '../../src/ops/prelu.js';
import { NonUniformPWLULayer } from '../../src/activations/npwlu.js';
import { PWLULayer } from '../../src/activations/pwlu.js';
import type { OpImpl } from '../../src/ops/fused-op.js';
import { pwlu } from '../../src/ops/pwlu.js';
import { ReLULayer } from '../../src/activations/relu.js';
import { SwishLayer } from '../../src/activations/swish.js';
import { swish as swishOp } from '../../src/ops/swish.js';
import { Rng } from '../../src/util/rng.js';
import { centralDiff, checkLayerGradients, expectClose, sample, type Reference } from '../helpers/fd.js';

const map = (x: Float64Array, f: (v: number, i: number) => number) => x.map(f);
const relu = (v: number) => Math.max(0, v);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

// ---- float64 references, written from the spec ----

/** PWLU per the spec's forward definition (the interpolation form, not the table form the code uses). */
export function pwluRef64(v: number, Y: ArrayLike<number>, KL: number, KR: number, BL: number, BR: number, N: number, yOff = 0): number {
  const d = (BR - BL) / N;
  if (v < BL) return KL * (v - BL) + Y[yOff]!;
  if (v >= BR) return KR * (v - BR) + Y[yOff + N]!;
  const u = (v - BL) / d;
  const i = Math.min(Math.max(Math.floor(u), 0), N - 1);
  const t = u - i;
  return (1 - t) * Y[yOff + i]! + t * Y[yOff + i + 1]!;
}

function pwluReference(N: number, C: number, P: number): Reference {
  return (x, [Y, KL, KR, BL, BR]) =>
    map(x, (v, e) => {
      const q = P === 1 ? 0 : e % C;
      return pwluRef64(v, Y!, KL![q]!, KR![q]!, BL![q]!, BR![q]!, N, q * (N + 1));
    });
}

describe('activation gradients match finite differences', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('relu', () => {
    const rng = new Rng(1);
    checkLayerGradients({ layer: new ReLULayer({ name: 'relu' }), x: sample(rng, 24, -3, 3, [0]), shape: [2, 3, 4], ref: (x) => map(x, relu) });
  });

  it('swish with trainable beta', () => {
    const rng = new Rng(2);
    checkLayerGradients({
      layer: new SwishLayer({ name: 'swish', beta: 1.3, trainable_beta: true }),
      x: sample(rng, 24, -4, 4),
      shape: [2, 3, 4],
      ref: (x, [beta]) => map(x, (v) => v * sigmoid(beta![0]! * v)),
    });
  });

  for (const beta of [1, 1.7]) {
    it(`swish with fixed beta ${beta} (the op's hand-written gradient, no beta gradient)`, () => {
      const rng = new Rng(beta === 1 ? 5 : 6);
      const layer = new SwishLayer({ name: `swish_fixed_${beta === 1 ? 'silu' : 'b'}`, beta });
      checkLayerGradients({
        layer,
        x: sample(rng, 24, -6, 6),
        shape: [2, 3, 4],
        ref: (x) => map(x, (v) => v * sigmoid(beta * v)),
      });
      expect(layer.trainableWeights).toEqual([]);
    });
  }

  it('swish and prelu ops: composite gradients with respect to every input match central differences', () => {
    const rng = new Rng(7);
    const C = 3;
    const x = sample(rng, 4 * C, -5, 5, [0]);
    const w = sample(rng, x.length, -1, 1);
    const shape = [4, C];
    const beta = 0.9;
    const alpha = [0.3, -0.2, 1.1];
    const g = tf.tidy(() => {
      const wT = tf.tensor(w, shape);
      const fs = tf.grads((xs: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(swishOp(xs, b, 'composite'), wT)));
      const fp = tf.grads((xs: tf.Tensor, a: tf.Tensor) => tf.sum(tf.mul(preluOp(xs, a, 'composite'), wT)));
      return [...fs([tf.tensor(x, shape), tf.scalar(beta)]), ...fp([tf.tensor(x, shape), tf.tensor1d(alpha)])].map((t) => Array.from(t.dataSync()));
    });
    const x64 = Float64Array.from(x);
    const w64 = Float64Array.from(w);
    const swishRef: Reference = (xs, [b]) => map(xs, (v) => v * sigmoid(b![0]! * v));
    const preluRef: Reference = (xs, [a]) => map(xs, (v, e) => relu(v) + a![e % C]! * Math.min(0, v));
    expectClose(g[0]!, centralDiff(swishRef, x64, [Float64Array.of(beta)], w64, -1), 'swish dx');
    expectClose(g[1]!, centralDiff(swishRef, x64, [Float64Array.of(beta)], w64, 0), 'swish dbeta');
    expectClose(g[2]!, centralDiff(preluRef, x64, [Float64Array.from(alpha)], w64, -1), 'prelu dx');
    expectClose(g[3]!, centralDiff(preluRef, x64, [Float64Array.from(alpha)], w64, 0), 'prelu dalpha');
  });

  it('hardswish', () => {
    const rng = new Rng(3);
    checkLayerGradients({
      layer: new HardSwishLayer({ name: 'hswish' }),
      x: sample(rng, 40, -5, 5, [-3, 3]),
      shape: [2, 5, 4],
      ref: (x) => map(x, (v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6),
    });
  });

  it('hardswish at its kinks: the middle branch (PyTorch), so the right derivative at -3 and the left one at 3', () => {
    // the layer runs the op of src/ops/hardswish.ts (composite on cpu, same customGrad)
    const ref: Reference = (x) => map(x, (v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6);
    const x = Float32Array.from([-3, 3, 0]);
    const w = Float32Array.from([0.7, -1.3, 0.4]);
    const g = tf.tidy(() => {
      const wT = tf.tensor1d(w);
      return Array.from(
        tf
          .grad((xs: tf.Tensor) => tf.sum(tf.mul(new HardSwishLayer({ name: 'hswish_kinks' }).apply(xs) as tf.Tensor, wT)))(tf.tensor1d(x))
          .dataSync(),
      );
    });
    const x64 = Float64Array.from(x);
    const w64 = Float64Array.from(w);
    const right = centralDiff(ref, x64, [], w64, -1, 1e-7, 'forward');
    const left = centralDiff(ref, x64, [], w64, -1, 1e-7, 'backward');
    expectClose([g[0]!], [right[0]!], 'dx at -3 vs right derivative');
    expectClose([g[1]!], [left[1]!], 'dx at 3 vs left derivative');
    expectClose([g[2]!], [(right[2]! + left[2]!) / 2], 'dx at 0');
    expect(g).toEqual([w[0]! * -0.5, w[1]! * 1.5, w[2]! * 0.5].map(Math.fround)); // slopes -0.5, 1.5, 0.5 exactly
  });

  it('prelu, per channel', () => {
    const rng = new Rng(4);
    const C = 3;
    checkLayerGradients({
      layer: new PReLULayer({ name: 'prelu' }),
      x: sample(rng, 2 * 2 * 2 * C, -3, 3, [0]),
      shape: [2, 2, 2, C],
      set: { alpha: [0.25, -0.4, 1.7] },
      ref: (x, [a]) => map(x, (v, e) => relu(v) + a![e % C]! * Math.min(0, v)),
    });
  });

  for (const S of [2, 5]) {
    it(`apl, S = ${S}, per channel`, () => {
      const rng = new Rng(10 + S);
      const C = 3;
      const layer = new APLLayer({ name: `apl${S}`, s: S, seed: 99 });
      const b = sample(rng, S * C, -1.5, 1.5);
      const a = sample(rng, S * C, -1, 1);
      checkLayerGradients({
        layer,
        x: sample(rng, 2 * 2 * 3 * C, -3, 3, [0, ...b]),
        shape: [2, 2, 3, C],
        set: { a, b },
        ref: (x, [pa, pb]) =>
          map(x, (v, e) => {
            const c = e % C;
            let y = relu(v);
            for (let s = 0; s < S; s++) y += pa![s * C + c]! * relu(pb![s * C + c]! - v);
            return y;
          }),
      });
    });
  }

  const pauRef: Reference = (x, [a, b]) =>
    map(x, (v) => {
      let p = 0;
      for (let j = 5; j >= 0; j--) p = p * v + a![j]!;
      let q = 1;
      for (let k = 1; k <= 4; k++) q += Math.abs(b![k - 1]!) * Math.abs(v) ** k;
      return p / q;
    });

  it('pau at the leaky-ReLU init (x, numerator; denominator away from sign changes)', () => {
    const rng = new Rng(20);
    // b1 and b3 of the init are ~1e-6: differences of width 1e-6 would cross 0, so perturb only with b moved off 0.
    checkLayerGradients({
      layer: new PAULayer({ name: 'pau0' }),
      x: sample(rng, 30, -3, 3, [0]),
      shape: [5, 6],
      set: { numerator: PAU_INIT_NUMERATOR, denominator: PAU_INIT_DENOMINATOR.map((v, i) => (i % 2 === 0 ? v + 0.05 : v)) },
      ref: pauRef,
    });
  });

  it('pau with random coefficients, including negative denominator coefficients', () => {
    const rng = new Rng(21);
    checkLayerGradients({
      layer: new PAULayer({ name: 'pau1' }),
      x: sample(rng, 30, -2.5, 2.5, [0]),
      shape: [5, 6],
      set: { numerator: sample(rng, 6, -1, 1), denominator: [0.7, -0.3, 0.2, -0.5] },
      ref: pauRef,
    });
  });

  it('pau initial coefficients approximate leaky ReLU on [-3, 3]', () => {
    const xs = Float64Array.from({ length: 61 }, (_, i) => -3 + i * 0.1);
    const y = pauRef(xs, [Float64Array.from(PAU_INIT_NUMERATOR), Float64Array.from(PAU_INIT_DENOMINATOR)]);
    let worst = 0;
    xs.forEach((v, i) => (worst = Math.max(worst, Math.abs(y[i]! - (v > 0 ? v : 0.01 * v)))));
    expect(worst).toBeLessThan(0.1);
  });

  it('frelu: max(x, BN(DWConv3x3(x))) in training mode (batch statistics)', () => {
    const rng = new Rng(30);
    const [N, H, W, C] = [2, 4, 4, 2];
    const eps = 1e-5;
    const ref: Reference = (x, [k, gamma, beta]) => {
      const t = new Float64Array(x.length);
      const at = (n: number, h: number, w: number, c: number) => ((n * H + h) * W + w) * C + c;
      for (let n = 0; n < N; n++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++)
            for (let c = 0; c < C; c++) {
              let s = 0;
              for (let i = 0; i < 3; i++)
                for (let j = 0; j < 3; j++) {
                  const hh = h + i - 1;
                  const ww = w + j - 1;
                  if (hh >= 0 && hh < H && ww >= 0 && ww < W) s += x[at(n, hh, ww, c)]! * k![(i * 3 + j) * C + c]!;
                }
              t[at(n, h, w, c)] = s;
            }
      const m = N * H * W;
      const out = new Float64Array(x.length);
      for (let c = 0; c < C; c++) {
        let mean = 0;
        for (let e = c; e < t.length; e += C) mean += t[e]!;
        mean /= m;
        let v = 0;
        for (let e = c; e < t.length; e += C) v += (t[e]! - mean) ** 2;
        v /= m;
        for (let e = c; e < t.length; e += C) out[e] = Math.max(x[e]!, (gamma![c]! * (t[e]! - mean)) / Math.sqrt(v + eps) + beta![c]!);
      }
      return out;
    };
    checkLayerGradients({
      layer: new FReLULayer({ name: 'frelu', seed: 5 }),
      x: sample(rng, N * H * W * C, -2, 2),
      shape: [N, H, W, C],
      set: { gamma: [1.3, 0.7], beta: [0.2, -0.1] },
      ref,
      tol: 3e-4,
    });
  });

  describe('pwlu', () => {
    const N = 8;
    const breakpoints = Array.from({ length: N + 1 }, (_, i) => -2 + i * 0.5);

    it('layer-wise: outer regions and inner intervals, random non-ReLU parameters', () => {
      const rng = new Rng(40);
      const layer = new PWLULayer({ name: 'pwlu_l', n: N, init_bound: 2 });
      checkLayerGradients({
        layer,
        x: sample(rng, 60, -3.5, 3.5, breakpoints),
        shape: [3, 4, 5],
        set: { heights: sample(rng, N + 1, -1, 2), kl: [-0.3], kr: [1.4], bl: [-2], br: [2] },
        ref: pwluReference(N, 5, 1),
      });
    });

    it('layer-wise with asymmetric, non-representable bounds', () => {
      const rng = new Rng(41);
      const [bl, br] = [-0.73, 1.91];
      const d = (br - bl) / N;
      const kinks = Array.from({ length: N + 1 }, (_, i) => bl + i * d);
      checkLayerGradients({
        layer: new PWLULayer({ name: 'pwlu_a', n: N }),
        x: sample(rng, 60, -2, 3, kinks, 2e-3),
        shape: [12, 5],
        set: { heights: sample(rng, N + 1, -1, 2), kl: [0.2], kr: [-0.6], bl: [bl], br: [br] },
        ref: pwluReference(N, 5, 1),
      });
    });

    it('channel-wise: one instance per channel with its own bounds', () => {
      const rng = new Rng(42);
      const C = 3;
      const bl = [-2, -1, -0.5];
      const br = [2, 3, 0.5];
      const kinks = bl.flatMap((b, c) => Array.from({ length: N + 1 }, (_, i) => b + (i * (br[c]! - b)) / N));
      checkLayerGradients({
        layer: new PWLULayer({ name: 'pwlu_c', n: N, granularity: 'channel' }),
        x: sample(rng, 4 * 5 * C, -3.5, 4, kinks),
        shape: [4, 5, C],
        set: { heights: sample(rng, C * (N + 1), -1, 2), kl: [-0.3, 0.5, 0], kr: [1.4, 0.2, -1], bl, br },
        ref: pwluReference(N, C, C),
      });
    });

    describe('non-uniform (learnable breakpoints)', () => {
      /** Float64 breakpoints of one instance: BL + (BR - BL) * cumulative softmax(widths), B_N = BR. */
      const breaks64 = (wd: ArrayLike<number>, bl: number, br: number) => {
        const e = Array.from(wd, (v) => Math.exp(v));
        const total = e.reduce((a, b) => a + b, 0);
        let acc = 0;
        return [bl, ...e.slice(0, -1).map((v) => bl + (br - bl) * (acc += v / total)), br];
      };
      /** The spec's definition in float64: params are [heights, kl, kr, bl, br, widths] (the layer's trainable order). */
      const reference =
        (n: number, c: number, p: number): Reference =>
        (x, [Y, KL, KR, BL, BR, W]) =>
          x.map((v, e) => {
            const q = p === 1 ? 0 : e % c;
            const b = breaks64(W!.subarray(q * n, (q + 1) * n), BL![q]!, BR![q]!);
            const y = Y!.subarray(q * (n + 1), (q + 1) * (n + 1));
            if (v < b[0]!) return y[0]! + KL![q]! * (v - b[0]!);
            if (v >= b[n]!) return y[n]! + KR![q]! * (v - b[n]!);
            let i = 0;
            while (v >= b[i + 1]!) i++;
            return y[i]! + ((y[i + 1]! - y[i]!) * (v - b[i]!)) / (b[i + 1]! - b[i]!);
          });

      for (const [granularity, c, p] of [
        ['layer', 4, 1],
        ['channel', 3, 3],
      ] as const) {
        it(`${granularity}-wise: d/dx and every parameter, the widths included, against finite differences`, () => {
          const rng = new Rng(44);
          const bl = Array.from({ length: p }, (_, q) => -1.5 - 0.3 * q);
          const br = Array.from({ length: p }, (_, q) => 1.7 + 0.4 * q);
          const widths = sample(rng, p * N, -0.6, 0.6);
          const kinks = bl.flatMap((b, q) => breaks64(widths.subarray(q * N, (q + 1) * N), b, br[q]!));
          checkLayerGradients({
            layer: new NonUniformPWLULayer({ name: `npwlu_${granularity}`, n: N, granularity }),
            x: sample(rng, 5 * 4 * c, -3, 3.5, kinks, 2e-3),
            shape: [5, 4, c],
            set: { heights: sample(rng, p * (N + 1), -1, 2), kl: sample(rng, p, -0.5, 0.5), kr: sample(rng, p, 0.5, 1.5), bl, br, widths },
            ref: reference(N, c, p),
          });
        });
      }
    });

    /** Gradients of sum(w * pwlu(x)) through the op, for a forced implementation. */
    function opGrads(
      impl: OpImpl,
      x: Float32Array,
      shape: number[],
      P: number,
      Y: Float32Array,
      kl: number[],
      kr: number[],
      bl: number[],
      br: number[],
      w: Float32Array,
    ) {
      return tf.tidy(() => {
        const f = (xs: tf.Tensor, y: tf.Tensor, a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
          tf.sum(tf.mul(pwlu(xs, { y, kl: a, kr: b, bl: c, br: d }, impl), tf.tensor(w, shape)));
        const g = tf.grads(f)([tf.tensor(x, shape), tf.tensor2d(Y, [P, N + 1]), tf.tensor1d(kl), tf.tensor1d(kr), tf.tensor1d(bl), tf.tensor1d(br)]);
        return g.map((t) => Array.from(t.dataSync()));
      });
    }

    for (const impl of ['fused', 'composite'] as const) {
      it(`${impl}: inputs exactly on every breakpoint and on both bounds follow the spec's gradient table`, () => {
        const rng = new Rng(43);
        // Every breakpoint B_0..B_N (x = BR is the right region), plus points in both outer regions and inside.
        const x = Float32Array.from([...breakpoints, -3.25, -2.5, 2.75, 3.5, -1.3, 0.1, 1.9, 0.7]);
        const shape = [x.length];
        const Y = sample(rng, N + 1, -1, 2);
        const [KL, KR, BL, BR] = [-0.3, 1.4, -2, 2];
        const w = sample(rng, x.length, -1, 1);
        const [dx, dY, dKL, dKR, dBL, dBR] = opGrads(impl, x, shape, 1, Y, [KL], [KR], [BL], [BR], w);
        // The spec's table, in float64.
        const d = (BR - BL) / N;
        const want = { dx: new Float64Array(x.length), dY: new Float64Array(N + 1), dKL: 0, dKR: 0, dBL: 0, dBR: 0 };
        x.forEach((v, e) => {
          const g = w[e]!;
          if (v < BL) {
            want.dx[e] = KL * g;
            want.dY[0] += g;
            want.dKL += g * (v - BL);
            want.dBL -= KL * g;
          } else if (v >= BR) {
            want.dx[e] = KR * g;
            want.dY[N] += g;
            want.dKR += g * (v - BR);
            want.dBR -= KR * g;
          } else {
            const u = (v - BL) / d;
            const i = Math.min(Math.max(Math.floor(u), 0), N - 1);
            const t = u - i;
            const K = (Y[i + 1]! - Y[i]!) / d;
            want.dx[e] = K * g;
            want.dY[i] += (1 - t) * g;
            want.dY[i + 1] += t * g;
            want.dBL -= K * (1 - u / N) * g;
            want.dBR -= K * (u / N) * g;
          }
        });
        expectClose(dx!, want.dx, 'dx');
        expectClose(dY!, want.dY, 'dY');
        expectClose(dKL!, [want.dKL], 'dKL');
        expectClose(dKR!, [want.dKR], 'dKR');
        expectClose(dBL!, [want.dBL], 'dBL');
        expectClose(dBR!, [want.dBR], 'dBR');
        // And the table agrees with one-sided differences of the float64 reference: at a breakpoint x
        // belongs to the interval on its right, so dx is the right derivative; moving BL or BR down
        // keeps every x in its region and interval, so dBL, dBR are left derivatives; f is linear in Y, KL, KR.
        const ref = pwluReference(N, 1, 1);
        const x64 = Float64Array.from(x);
        const params = [Float64Array.from(Y), Float64Array.of(KL), Float64Array.of(KR), Float64Array.of(BL), Float64Array.of(BR)];
        const w64 = Float64Array.from(w);
        expectClose(dx!, centralDiff(ref, x64, params, w64, -1, 1e-7, 'forward'), 'dx vs right derivative');
        expectClose(dY!, centralDiff(ref, x64, params, w64, 0), 'dY vs differences');
        expectClose(dKL!, centralDiff(ref, x64, params, w64, 1), 'dKL vs differences');
        expectClose(dKR!, centralDiff(ref, x64, params, w64, 2), 'dKR vs differences');
        expectClose(dBL!, centralDiff(ref, x64, params, w64, 3, 1e-7, 'backward'), 'dBL vs left derivative');
        expectClose(dBR!, centralDiff(ref, x64, params, w64, 4, 1e-7, 'backward'), 'dBR vs left derivative');
      });

      it(`${impl}: channel-wise op gradients match central differences`, () => {
        const rng = new Rng(44);
        const C = 2;
        const bl = [-1, -0.25];
        const br = [3, 0.75];
        const kinks = bl.flatMap((b, c) => Array.from({ length: N + 1 }, (_, i) => b + (i * (br[c]! - b)) / N));
        const x = sample(rng, 20 * C, -2, 4, kinks);
        const shape = [20, C];
        const Y = sample(rng, C * (N + 1), -1, 1);
        const kl = [0.4, -0.2];
        const kr = [0.9, 1.3];
        const w = sample(rng, x.length, -1, 1);
        const got = opGrads(impl, x, shape, C, Y, kl, kr, bl, br, w);
        const ref = pwluReference(N, C, C);
        const params = [Y, kl, kr, bl, br].map((a) => Float64Array.from(a));
        const x64 = Float64Array.from(x);
        const w64 = Float64Array.from(w);
        expectClose(got[0]!, centralDiff(ref, x64, params, w64, -1), 'dx');
        ['dY', 'dKL', 'dKR', 'dBL', 'dBR'].forEach((name, i) => expectClose(got[i + 1]!, centralDiff(ref, x64, params, w64, i), name));
      });
    }

    it('is exactly ReLU at initialisation (even N, symmetric bounds)', () => {
      const layer = new PWLULayer({ name: 'pwlu_init', n: 16, init_bound: 3 });
      const rng = new Rng(45);
      const x = sample(rng, 200, -5, 5);
      x[0] = 0;
      x[1] = 3;
      x[2] = -3;
      const xs = tf.tensor1d(x);
      for (const training of [false, true]) {
        const y = (layer.apply(xs, { training }) as tf.Tensor).dataSync();
        x.forEach((v, i) => expect(y[i], `x = ${v}`).toBe(Math.max(0, v)));
      }
    });
  });
});
