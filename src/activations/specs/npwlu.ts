import * as tf from '@tensorflow/tfjs-core';
import { defineActivation, type ArrayWeights, type TensorWeights } from '../spec.js';
import { lastAxis } from './common.js';
import { onnxSegmentLookup, pwluInstances, pwluRecord, pwluStateWeights, PwluDescribe, pwluSpec } from './pwlu.js';

/**
 * Non-uniform PWLU's breakpoints: B_0 = BL, B_N = BR and B_i = BL + (BR - BL) * (f_0 + … + f_{i-1}) for the interval
 * fractions f = softmax(widths) of each instance (positive, summing to one, so the breakpoints stay ordered and inside
 * the bounds whatever the gradient does). Tensor form: [P, N + 1].
 */
export function npwluBreakpoints(w: TensorWeights): tf.Tensor2D {
  return tf.tidy(() => {
    const widths = w.widths!;
    const [p, n] = widths.shape as [number, number];
    const bl = tf.reshape(w.bl!, [p, 1]);
    const br = tf.reshape(w.br!, [p, 1]);
    const inner = tf.add(bl, tf.mul(tf.sub(br, bl), tf.slice(tf.cumsum(tf.softmax(widths), 1), [0, 0], [p, n - 1])));
    return tf.concat([bl, inner, br], 1) as tf.Tensor2D;
  });
}

/** The same breakpoints as numbers (float64 from the float32 weights), row-major [P * (N + 1)]. */
export function npwluBreakpointArrays(w: ArrayWeights, n: number): Float64Array {
  const p = w.bl!.length;
  const out = new Float64Array(p * (n + 1));
  for (let q = 0; q < p; q++) {
    const row = w.widths!.subarray(q * n, (q + 1) * n);
    const top = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - top));
    const total = e.reduce((a, b) => a + b, 0);
    const bl = w.bl![q]!;
    const br = w.br![q]!;
    let acc = 0;
    out[q * (n + 1)] = bl;
    for (let i = 1; i < n; i++) {
      acc += e[i - 1]! / total;
      out[q * (n + 1) + i] = bl + (br - bl) * acc;
    }
    out[q * (n + 1) + n] = br;
  }
  return out;
}

/** Slope and intercept tables [P, N + 2] (segments: left, the N intervals, right) from breakpoints B [P, N + 1] and heights Y [P, N + 1]. */
function tableFromBreakpoints(b: tf.Tensor2D, w: TensorWeights): { slopes: tf.Tensor2D; intercepts: tf.Tensor2D } {
  return tf.tidy(() => {
    const [p, n1] = b.shape;
    const n = n1 - 1;
    const y = w.heights!;
    const col = (t: tf.Tensor) => tf.reshape(t, [p, 1]);
    const yl = tf.slice(y, [0, 0], [p, n]);
    const bl = tf.slice(b, [0, 0], [p, n]);
    const k = tf.div(tf.sub(tf.slice(y, [0, 1], [p, n]), yl), tf.sub(tf.slice(b, [0, 1], [p, n]), bl));
    const slopes = tf.concat([col(w.kl!), k, col(w.kr!)], 1) as tf.Tensor2D;
    const intercepts = tf.concat(
      [
        tf.sub(tf.slice(y, [0, 0], [p, 1]), tf.mul(col(w.kl!), col(w.bl!))),
        tf.sub(yl, tf.mul(k, bl)),
        tf.sub(tf.slice(y, [0, n], [p, 1]), tf.mul(col(w.kr!), col(w.br!))),
      ],
      1,
    ) as tf.Tensor2D;
    return { slopes, intercepts };
  });
}

/**
 * A tensor autodiff treats as a constant: computed where the tape is off (a custom gradient's forward, anchored on a
 * fresh scalar that no gradient reaches). The segment index is piecewise constant in x and the breakpoints, and tfjs
 * cannot differentiate through int32 gather indices.
 */
function untaped(compute: () => tf.Tensor): tf.Tensor {
  const anchor = tf.scalar(0);
  return tf.customGrad(() => ({ value: compute(), gradFunc: () => [tf.zerosLike(anchor)] }))(anchor);
}

/**
 * Non-uniform PWLU in tfjs-core ops, differentiable in x and every parameter (the breakpoints included): the segment
 * of x is the number of breakpoints at or below it (0: left of BL, N + 1: right of BR), and out = S_seg x + O_seg.
 * Training and inference share it (composite ops; tfjs differentiates the tables, the segment count is constant
 * almost everywhere).
 */
export function npwluForward(x: tf.Tensor, w: TensorWeights): tf.Tensor {
  return tf.tidy(() => {
    const b = npwluBreakpoints(w);
    const [p, n1] = b.shape;
    const { slopes, intercepts } = tableFromBreakpoints(b, w);
    const seg = untaped(() => {
      // One breakpoint at a time, each step in its own scope: the count stays one int32 tensor the size of x, where a
      // comparison against all N + 1 breakpoints at once would hold an (N + 1)-times larger one.
      const columns = tf.unstack(b, 1); // N + 1 tensors of [P]
      let count = tf.zeros(x.shape, 'int32');
      for (const bi of columns) {
        const next = tf.tidy(() => tf.add(count, tf.cast(tf.greaterEqual(x, p === 1 ? tf.reshape(bi, []) : lastAxis(bi, x)), 'int32')));
        count.dispose();
        count = next;
      }
      tf.dispose(columns);
      return p === 1
        ? count
        : tf.add(
            count,
            lastAxis(
              tf.tensor1d(
                Array.from({ length: p }, (_, c) => c * (n1 + 1)),
                'int32',
              ),
              x,
            ),
          );
    });
    return tf.add(tf.mul(tf.gather(tf.reshape(slopes, [-1]), seg), x), tf.gather(tf.reshape(intercepts, [-1]), seg));
  });
}

/**
 * Non-uniform PWLU (the TPAMI 2023 extension of the paper; N-PWLU, ICPR 2022): PWLU whose N intervals have learnable
 * widths, so the breakpoints move to where the input needs resolution. Our parametrisation: interval fractions
 * softmax(widths) per instance, widths starting at 0 (uniform, so the unit starts as exactly ReLU like PWLU); the
 * same options and two-phase method as PWLU (realignment also resets the widths to uniform).
 */
export const npwluSpec = defineActivation({
  name: 'npwlu',
  className: 'PwluNonUniformPWLU',
  description:
    'Non-uniform PWLU: PWLU with learnable breakpoints (interval widths softmax-normalised), same options and two-phase training as pwlu (in activation.npwlu)',
  options: pwluSpec.options,
  color: '#59a14f',
  weights: (o, site, seed) => {
    const uniform = pwluSpec.weights(o, site, seed);
    const p = pwluInstances(o, site, 'non-uniform PWLU');
    const state = pwluStateWeights(p);
    const shape = uniform.slice(0, uniform.length - state.length);
    return [...shape, { name: 'widths', shape: [p, o.n], init: { fill: 0 }, trainable: true }, ...state];
  },
  infer: (x, w) => npwluForward(x, w),
  onnx: (g, x, w, o, prefix) => {
    const n = o.n;
    const p = w.bl!.length;
    const b = npwluBreakpointArrays(w, n);
    const slopes: number[] = [];
    const intercepts: number[] = [];
    for (let q = 0; q < p; q++) {
      const bq = b.subarray(q * (n + 1), (q + 1) * (n + 1));
      const yq = w.heights!.subarray(q * (n + 1), (q + 1) * (n + 1));
      slopes.push(w.kl![q]!);
      intercepts.push(yq[0]! - w.kl![q]! * bq[0]!);
      for (let i = 0; i < n; i++) {
        const k = (yq[i + 1]! - yq[i]!) / (bq[i + 1]! - bq[i]!);
        slopes.push(k);
        intercepts.push(yq[i]! - k * bq[i]!);
      }
      slopes.push(w.kr![q]!);
      intercepts.push(yq[n]! - w.kr![q]! * bq[n]!);
    }
    // The segment: how many breakpoints are at or below x, counted over a trailing axis of N + 1.
    const dims = p === 1 ? [n + 1] : x.rank === 4 ? [p, 1, 1, n + 1] : [p, n + 1];
    const xe = g.node('Unsqueeze', [x.name, g.ints(`${prefix}.axis`, [x.rank])]);
    const ge = g.node('GreaterOrEqual', [xe, g.constant(`${prefix}.breakpoints`, b, dims)]);
    const seg = g.node('ReduceSum', [g.node('Cast', [ge], { to: 1 }), g.ints(`${prefix}.last`, [-1])], { keepdims: 0 });
    return onnxSegmentLookup(g, x, prefix, p, n, slopes, intercepts, seg);
  },
  describe: (w, o) => {
    const b = npwluBreakpointArrays(w, o.n);
    return pwluRecord(w, o, (q) => Array.from(b.subarray(q * (o.n + 1), (q + 1) * (o.n + 1))));
  },
  describeSchema: PwluDescribe,
});
