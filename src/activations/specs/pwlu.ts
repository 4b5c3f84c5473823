import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { pwluTable, pwluTableArrays } from '../../ops/pwlu-table.js';
import { defineActivation, requireChannels, type ArrayWeights, type SpecSite, type WeightDef } from '../spec.js';
import { onnxPerChannel, onnxScalar, type OnnxGraph, type OnnxValue } from '../onnx.js';
import { lastAxis } from './common.js';

/** PWLU's shape and its two-phase method (statistics, then realignment and gradient learning). */
const PwluOptions = z.strictObject({
  /** Number of intervals N (even, so that 0 can be a breakpoint). */
  n: z
    .number()
    .int()
    .min(2)
    .max(512)
    .refine((v) => v % 2 === 0, { error: 'must be even, so that 0 can be a breakpoint' })
    .default(16),
  /** One PWLU per layer (paper) or per channel (TPAMI extension). */
  granularity: z.enum(['layer', 'channel']).default('layer'),
  /** Phase I length T' in epochs: PWLU is a frozen ReLU while input statistics are gathered. */
  phase1_epochs: z.number().int().min(0).default(1),
  /** Momentum of the running mean/std of the PWLU input. */
  momentum: z.number().gt(0).lt(1).default(0.9),
  /** Realignment: bounds = mu -/+ alpha * sigma. */
  alpha: z.number().positive().default(3),
  /** Realign at the phase boundary; false runs the no-realignment ablation. */
  realign: z.boolean().default(true),
  /** Initial bounds [-init_bound, init_bound] (used until realignment, and throughout with realign false). */
  init_bound: z.number().positive().max(1000).default(3),
  /** Smallest allowed BR - BL during training. */
  min_width: z.number().positive().max(1).default(1e-3),
});
export type PwluOptions = z.infer<typeof PwluOptions>;

/** One PWLU instance in activations.json: its learned shape and its phase-I statistics (kl/kr absent in the oldest files). */
const PwluInstance = z.object({
  bl: z.number(),
  br: z.number(),
  kl: z.number().default(0),
  kr: z.number().default(1),
  breakpoints: z.array(z.number()),
  heights: z.array(z.number()),
  running_mean: z.number(),
  running_std: z.number(),
});

/** PWLU's activations.json record (uniform and non-uniform alike: the breakpoints are listed either way). */
export const PwluDescribe = z.object({
  n: z.number(),
  granularity: z.string(),
  /** The phase the layer was in when described (the training layer adds it; absent for a loaded model). */
  phase: z.string().optional(),
  stat_steps: z.number(),
  realigned: z.boolean(),
  instances: z.array(PwluInstance),
});
export type PwluDescribe = z.infer<typeof PwluDescribe>;
export type PwluInstanceRecord = z.infer<typeof PwluInstance>;

/** Instances a site gets: one per layer, or one per channel. */
export function pwluInstances(o: { granularity: 'layer' | 'channel' }, site: SpecSite, what: string): number {
  return o.granularity === 'channel' ? requireChannels(site, `channel-wise ${what}`) : 1;
}

/** Heights that make PWLU exactly ReLU on the uniform grid [bl, br] (the init, and the shape realignment resets to). */
export function reluHeights(bl: number, br: number, n: number): Float32Array {
  const y = new Float32Array(n + 1);
  const d = Math.fround(Math.fround(br - bl) / n);
  for (let i = 0; i <= n; i++) y[i] = Math.max(0, Math.fround(bl + i * d));
  return y;
}

/** The phase-I state every PWLU variant carries in checkpoints: running statistics, step count, realigned flag. */
export function pwluStateWeights(p: number): WeightDef[] {
  return [
    { name: 'running_mean', shape: [p], init: { fill: 0 }, trainable: false },
    { name: 'running_std', shape: [p], init: { fill: 1 }, trainable: false },
    { name: 'stat_steps', shape: [1], init: { fill: 0 }, trainable: false },
    { name: 'realigned', shape: [1], init: { fill: 0 }, trainable: false },
  ];
}

/** The describe record of a PWLU variant: statistics and flags, and per instance its shape at the given breakpoints. */
export function pwluRecord(w: ArrayWeights, o: { n: number; granularity: string }, breakpoints: (q: number, bl: number, br: number) => number[]): PwluDescribe {
  const n = o.n;
  const instances = Array.from(w.bl!, (bl, q) => {
    const br = w.br![q]!;
    return {
      bl,
      br,
      kl: w.kl![q]!,
      kr: w.kr![q]!,
      breakpoints: breakpoints(q, bl, br),
      heights: Array.from(w.heights!.subarray(q * (n + 1), (q + 1) * (n + 1))),
      running_mean: w.running_mean![q]!,
      running_std: w.running_std![q]!,
    };
  });
  return { n, granularity: o.granularity, stat_steps: w.stat_steps![0]!, realigned: w.realigned![0]! > 0, instances };
}

/**
 * PWLU as an ONNX segment-table lookup: the segment (left, N intervals, right) picks a slope S and an intercept O from
 * tables of N + 2 entries, out = S x + O. For uniform PWLU the segment is trunc(clip(x / d + 1 - BL / d, 0, N + 1)):
 * one multiply-add, a clip and a cast, then two Gathers; eight element-wise passes whatever N is, where the
 * sum-of-ReLUs form needs three per breakpoint. Channel-wise: one table per channel, flattened, the segment offset
 * by channel * (N + 2). The indices are int32: the Gathers dominate the cost in onnxruntime (they copy one element
 * per index), and int32 indices made the ResNet-20 export 17% faster than int64 (median of 3 alternating runs, 2
 * threads). `segment` writes the float segment number of x (its own form for non-uniform breakpoints).
 */
export function onnxSegmentLookup(
  g: OnnxGraph,
  x: OnnxValue,
  prefix: string,
  p: number,
  n: number,
  slopes: ArrayLike<number>,
  intercepts: ArrayLike<number>,
  segment: string,
): string {
  let index = g.node('Cast', [segment], { to: 6 }); // INT32
  if (p > 1) {
    const base = Array.from({ length: p }, (_, c) => c * (n + 2));
    index = g.node('Add', [index, g.ints(`${prefix}.base`, base, x.rank === 4 ? [p, 1, 1] : [p], 32)]);
  }
  const s = g.node('Gather', [g.constant(`${prefix}.slopes`, slopes, [slopes.length]), index]);
  const o = g.node('Gather', [g.constant(`${prefix}.offsets`, intercepts, [intercepts.length]), index]);
  return g.node('Add', [g.node('Mul', [s, x.name]), o], {}, g.name(prefix));
}

/** A per-instance vector as an ONNX constant: a scalar layer-wise, per channel channel-wise. */
export function onnxPerInstance(g: OnnxGraph, prefix: string, v: number[], rank: number): string {
  return v.length > 1 ? onnxPerChannel(g, prefix, v, rank) : onnxScalar(g, prefix, v[0]!);
}

/**
 * Piecewise Linear Unit (Zhou et al., ICCV 2021): N uniform intervals on [BL, BR], learnable heights Y_0..Y_N, outer
 * slopes KL/KR and bounds, one instance per layer or per channel; initialised to exactly ReLU. The phase state
 * (running statistics, step count, realigned flag) lives in non-trainable weights, so checkpoints carry it.
 */
export const pwluSpec = defineActivation({
  name: 'pwlu',
  className: 'PwluPWLU',
  description: 'PWLU: learnable piecewise linear unit, N intervals, layer- or channel-wise, two-phase training (options in activation.pwlu)',
  options: PwluOptions,
  color: '#e15759',
  weights: (o, site) => {
    const p = pwluInstances(o, site, 'PWLU');
    const heights = new Float32Array(p * (o.n + 1));
    const row = reluHeights(-o.init_bound, o.init_bound, o.n);
    for (let q = 0; q < p; q++) heights.set(row, q * (o.n + 1));
    return [
      { name: 'heights', shape: [p, o.n + 1], init: { values: heights }, trainable: true },
      { name: 'kl', shape: [p], init: { fill: 0 }, trainable: true },
      { name: 'kr', shape: [p], init: { fill: 1 }, trainable: true },
      { name: 'bl', shape: [p], init: { fill: -o.init_bound }, trainable: true },
      { name: 'br', shape: [p], init: { fill: o.init_bound }, trainable: true },
      ...pwluStateWeights(p),
    ];
  },
  infer: (x, w, o) =>
    tf.tidy(() => {
      const n = o.n;
      const p = w.heights!.shape[0];
      const { slopes, intercepts, d } = pwluTable({ y: w.heights!, kl: w.kl!, kr: w.kr!, bl: w.bl!, br: w.br! });
      const per = (v: tf.Tensor) => (p === 1 ? tf.reshape(v, []) : lastAxis(v, x));
      const u = tf.div(tf.sub(x, per(w.bl!)), per(d));
      let seg = tf.cast(tf.clipByValue(tf.add(tf.floor(u), 1), 0, n + 1), 'int32');
      if (p > 1)
        seg = tf.add(
          seg,
          lastAxis(
            tf.tensor1d(
              Array.from({ length: p }, (_, c) => c * (n + 2)),
              'int32',
            ),
            x,
          ),
        );
      return tf.add(tf.mul(tf.gather(tf.reshape(slopes, [-1]), seg), x), tf.gather(tf.reshape(intercepts, [-1]), seg));
    }),
  onnx: (g, x, w, o, prefix) => {
    const n = o.n;
    const p = w.bl!.length;
    const { slopes, intercepts, d } = pwluTableArrays(p, n, { y: w.heights!, kl: w.kl!, kr: w.kr!, bl: w.bl!, br: w.br! });
    // u + 1 = x / d + (1 - BL / d) in one multiply-add; clipped to [0, N + 1] and cast (truncation = floor there).
    const inv = Array.from(d, (dd) => 1 / dd);
    const u1 = g.node('Add', [
      g.node('Mul', [x.name, onnxPerInstance(g, `${prefix}.inv_d`, inv, x.rank)]),
      onnxPerInstance(
        g,
        `${prefix}.shift`,
        Array.from(w.bl!, (b, i) => 1 - b * inv[i]!),
        x.rank,
      ),
    ]);
    const seg = g.node('Clip', [u1, onnxScalar(g, 'zero', 0), onnxScalar(g, `${prefix}.last`, n + 1)]);
    return onnxSegmentLookup(g, x, prefix, p, n, slopes, intercepts, seg);
  },
  describe: (w, o) =>
    pwluRecord(w, o, (_q, bl, br) => {
      const d = (br - bl) / o.n;
      return Array.from({ length: o.n + 1 }, (_, i) => bl + i * d);
    }),
  describeSchema: PwluDescribe,
});
