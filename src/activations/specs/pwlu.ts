import { z } from 'zod';
import { pwluInfer } from '../../ops/pwlu.js';
import { pwluTableArrays, type PwluArrays } from '../../ops/pwlu-table.js';
import { defineActivation, requireChannels, type ArrayWeights, type SpecSite, type WeightDef } from '../spec.js';
import { onnxCallWithParams, type OnnxBody, type OnnxFunction, type OnnxGraph, type OnnxParam, type OnnxValue } from '../onnx.js';

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
 * PWLU as an ONNX segment-table lookup (non-uniform PWLU's form; uniform PWLU's `table` form writes the same nodes in
 * its function): the segment (left, N intervals, right) picks a slope S and an intercept O from tables of N + 2
 * entries, out = S x + O. For uniform PWLU the segment is trunc(clip(x / d + 1 - BL / d, 0, N + 1)): one multiply-add,
 * a clip and a cast, then two Gathers; eight element-wise passes whatever N is, but Cast and Gather have no NCHWc form
 * in onnxruntime, so at its default level reorders surround it. Channel-wise: one table per channel, flattened, the
 * segment offset by channel * (N + 2). The indices are int32: the Gathers dominate the cost in onnxruntime (they copy one element
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
  const base =
    p > 1
      ? g.ints(
          `${prefix}.base`,
          Array.from({ length: p }, (_, c) => c * (n + 2)),
          x.rank === 4 ? [p, 1, 1] : [p],
          32,
        )
      : undefined;
  const [s, o] = segmentGathers(
    g,
    segment,
    g.constant(`${prefix}.slopes`, slopes, [slopes.length]),
    g.constant(`${prefix}.offsets`, intercepts, [intercepts.length]),
    base,
  );
  return g.node('Add', [g.node('Mul', [s, x.name]), o], {}, g.name(prefix));
}

/**
 * The lookup both table forms share (onnxSegmentLookup's, the `table` function body's): the float segment number cast
 * to int32, offset by the channel's table (`base`, channel-wise), and the slope and intercept gathered for it.
 */
function segmentGathers(g: OnnxBody, segment: string, slopes: string, offsets: string, base?: string): [string, string] {
  let index = g.node('Cast', [segment], { to: 6 }); // INT32
  if (base !== undefined) index = g.node('Add', [index, base]);
  return [g.node('Gather', [slopes, index]), g.node('Gather', [offsets, index])];
}

/**
 * PWLU's ONNX forms, the first the default (`pwlu export`, `pwlu speed --onnx`; `--onnx-pwlu-form` picks another):
 * - chain: the left line Y_0 + KL (x - B_0) as one BatchNormalization, then each of the N + 1 hinges relu(x - B_j) as
 *   BatchNormalization + Relu and a BatchNormalization by its signed slope change, accumulated with Add. Standard
 *   operators that onnxruntime's NCHWc pass (its default level, 'all') keeps blocked: each BatchNormalization becomes
 *   a depthwise 1x1 convolution, the Relu and the Add fuse into them, so 2N + 3 convolutions and no reorders; one body
 *   for every site of a model. Rounding grows with |x| far outside [BL, BR] (a sum of N + 2 terms), still within the
 *   export check's 1e-4;
 * - table: the segment-table lookup (Mul, Add, Clip, Cast, two Gathers, Mul, Add: onnxSegmentLookup's nodes): eight
 *   passes whatever N is, but Cast and Gather have no NCHWc form, so at 'all' reorders surround every site;
 * - hinge: Y_0 plus hinges c * relu(a x + b) grouped by the sign of c (|c| folded into a per-channel affine written as
 *   BatchNormalization, then Relu), summed per group (Sum); the negative group's sum enters with scale -1 through one
 *   more BatchNormalization that also adds Y_0. NCHWc too, but the many-input Sum costs more than chain's fused Adds;
 *   N + 2 hinges layer-wise (up to twice that channel-wise, a hinge whose c has both signs across channels being in
 *   both groups); its body depends on the two group sizes, so a model has one definition per size pair (Pwlu, Pwlu_2).
 * Measured (`pwlu speed --onnx`, ResNet-20, 32 px, batch 64, 2 threads, onnxruntime-node 1.23, medians of 5 alternating
 * runs, results/measurements/onnx-pwlu-forms.jsonl): at 'all' chain 1331 img/s (0.35x ReLU's 3828), table 666 (0.17x),
 * hinge 517 (0.14x); at 'extended' table 710 (0.46x ReLU's 1558), hinge 420 (0.22x), chain 353 (0.23x). Chain at
 * 'all' is the fastest PWLU at any level, so it is the default; the function wrapper costs nothing measurable (chain
 * inline 1317 at 'all': onnxruntime inlines the function into the same optimised graph).
 */
export const PWLU_ONNX_FORMS = ['chain', 'table', 'hinge'] as const;
export type PwluOnnxForm = (typeof PWLU_ONNX_FORMS)[number];

/** The PWLU function's domain and op type in an export (ModelProto.functions); onnx-proto's IR 8 has no overloads. */
export const PWLU_ONNX_DOMAIN = 'pwlu';
export const PWLU_ONNX_OP = 'Pwlu';

/**
 * PWLU as Y_0 + sum_t c_t relu(a_t x + b_t) per instance: term 0 is the left side (a = -1, b = B_0, c = -KL), terms
 * 1..N + 1 the hinges at B_j = BL + j d (a = 1, b = -B_j, c = the slope change there: K_0, K_j - K_{j-1}, KR - K_{N-1}).
 * From the segment table (d rounded to float32 alike), so it is the same function up to float32 rounding: the table's
 * right side starts at BR, the last hinge at BL + N d, at most an ulp or two of BR apart. What hinge and chain write.
 */
export function pwluHingeTerms(p: number, n: number, w: PwluArrays): { y0: Float64Array; a: number[]; b: Float64Array[]; c: Float64Array[] } {
  const { slopes, d } = pwluTableArrays(p, n, w);
  const y0 = Float64Array.from({ length: p }, (_, q) => w.y[q * (n + 1)]!);
  const a = [-1, ...Array.from({ length: n + 1 }, () => 1)];
  const b = a.map(() => new Float64Array(p));
  const c = a.map(() => new Float64Array(p));
  for (let q = 0; q < p; q++) {
    const s = slopes.subarray(q * (n + 2), (q + 1) * (n + 2));
    b[0]![q] = w.bl[q]!;
    c[0]![q] = -s[0]!;
    for (let j = 0; j <= n; j++) {
      b[j + 1]![q] = -(w.bl[q]! + j * d[q]!);
      c[j + 1]![q] = s[j + 1]! - (j === 0 ? 0 : s[j]!);
    }
  }
  return { y0, a, b, c };
}

/** A per-instance vector as C per-channel values (a layer-wise instance repeated), for BatchNormalization's [C] inputs. */
function channelValues(v: ArrayLike<number>, channels: number, map: (v: number, q: number) => number = (u) => u): Float64Array {
  return Float64Array.from({ length: channels }, (_, ch) => (v.length === 1 ? map(v[0]!, 0) : map(v[ch]!, ch)));
}

/** BatchNormalization as the per-channel affine scale * x + bias (mean 0, variance 1, epsilon 0: exact). */
function affine(g: OnnxBody, x: string, v: Readonly<Record<string, string>>, name: string): string {
  return g.node('BatchNormalization', [x, v[`${name}.scale`]!, v[`${name}.bias`]!, v.mean!, v.var!], { epsilon: { float: 0 } });
}

/** Sum of the values (one value as itself). */
function sum(g: OnnxBody, xs: string[]): string {
  return xs.length === 1 ? xs[0]! : g.node('Sum', xs);
}

/** The function and its call-site parameters for one PWLU site in `form`. */
function pwluOnnxParts(form: PwluOnnxForm, x: OnnxValue, w: ArrayWeights, n: number, p: number): { params: OnnxParam[]; body: OnnxFunction['body'] } {
  const arrays: PwluArrays = { y: w.heights!, kl: w.kl!, kr: w.kr!, bl: w.bl!, br: w.br! };
  const perInstance = (name: string, v: ArrayLike<number>): OnnxParam => ({ name, values: v, dims: p === 1 ? [] : x.rank === 4 ? [p, 1, 1] : [p] });
  if (form === 'table') {
    const { slopes, intercepts, d } = pwluTableArrays(p, n, arrays);
    const inv = Array.from(d, (dd) => 1 / dd);
    const params: OnnxParam[] = [
      // u + 1 = x / d + (1 - BL / d) in one multiply-add; clipped to [0, N + 1] and cast (truncation = floor there).
      perInstance('inv_d', inv),
      perInstance(
        'shift',
        Array.from(w.bl!, (bl, i) => 1 - bl * inv[i]!),
      ),
      { name: 'zero', values: [0], dims: [] },
      { name: 'last', values: [n + 1], dims: [] },
      { name: 'slopes', values: slopes, dims: [slopes.length] },
      { name: 'offsets', values: intercepts, dims: [intercepts.length] },
      ...(p > 1
        ? [
            {
              ...perInstance(
                'base',
                Array.from({ length: p }, (_, c) => c * (n + 2)),
              ),
              int32: true,
            },
          ]
        : []),
    ];
    const body: OnnxFunction['body'] = (g, v) => {
      const u1 = g.node('Add', [g.node('Mul', [v.x!, v.inv_d!]), v.shift!]);
      const [s, o] = segmentGathers(g, g.node('Clip', [u1, v.zero!, v.last!]), v.slopes!, v.offsets!, p > 1 ? v.base! : undefined);
      return g.node('Add', [g.node('Mul', [s, v.x!]), o]);
    };
    return { params, body };
  }
  const channels = p > 1 ? p : x.channels;
  if (channels === undefined) throw new Error(`PWLU's ${form} ONNX form needs the channel count of a layer-wise site`);
  const { y0, a, b, c } = pwluHingeTerms(p, n, arrays);
  const vec = (name: string, values: Float64Array): OnnxParam => ({ name, values, dims: [channels] });
  const stats = [vec('mean', new Float64Array(channels)), vec('var', new Float64Array(channels).fill(1))];
  if (form === 'chain') {
    // The left side as the line Y_0 + KL (x - B_0) everywhere, then the hinges relu(x - B_j) by the slope change at
    // B_j (K_0 - KL at B_0): one convolution fewer than the left hinge, and the left side's values not a difference.
    const params: OnnxParam[] = [
      vec(
        'line.scale',
        channelValues(c[0]!, channels, (ct) => -ct),
      ),
      vec(
        'line.bias',
        channelValues(y0, channels, (y, q) => y + c[0]![q]! * b[0]![q]!),
      ),
    ];
    for (let t = 1; t < a.length; t++) {
      params.push(
        vec(`h${t}.scale`, new Float64Array(channels).fill(1)),
        vec(`h${t}.bias`, channelValues(b[t]!, channels)),
        vec(
          `c${t}.scale`,
          channelValues(c[t]!, channels, (ct, q) => (t === 1 ? ct + c[0]![q]! : ct)),
        ),
        vec(`c${t}.bias`, new Float64Array(channels)),
      );
    }
    const body: OnnxFunction['body'] = (g, v) => {
      let acc = affine(g, v.x!, v, 'line');
      for (let t = 1; t < a.length; t++) acc = g.node('Add', [affine(g, g.node('Relu', [affine(g, v.x!, v, `h${t}`)]), v, `c${t}`), acc]);
      return acc;
    };
    return { params: [...params, ...stats], body };
  }
  // hinge: c relu(a x + b) = sign(c) relu(|c| a x + |c| b), in the group of its sign (c = 0 counts as positive: a
  // zero affine, so every site has N + 2 terms whatever its values), the channels of the other sign zero there.
  // Parameters are named by place in the group, so the body depends only on the two group sizes.
  const groups: Record<'pos' | 'neg', string[]> = { pos: [], neg: [] };
  const params: OnnxParam[] = [];
  for (let t = 0; t < a.length; t++) {
    for (const group of ['pos', 'neg'] as const) {
      const keep = (q: number) => (group === 'pos' ? c[t]![q]! >= 0 : c[t]![q]! < 0);
      if (!c[t]!.some((_, q) => keep(q))) continue;
      const name = `${group}${groups[group].length}`;
      groups[group].push(name);
      params.push(
        vec(
          `${name}.scale`,
          channelValues(c[t]!, channels, (ct, q) => (keep(q) ? Math.abs(ct) * a[t]! : 0)),
        ),
        vec(
          `${name}.bias`,
          channelValues(c[t]!, channels, (ct, q) => (keep(q) ? Math.abs(ct) * b[t]![q]! : 0)),
        ),
      );
    }
  }
  params.push(vec('out.scale', new Float64Array(channels).fill(groups.neg.length ? -1 : 1)), vec('out.bias', channelValues(y0, channels)));
  const body: OnnxFunction['body'] = (g, v) => {
    const hinges = (names: string[]) =>
      sum(
        g,
        names.map((h) => g.node('Relu', [affine(g, v.x!, v, h)])),
      );
    if (!groups.neg.length) return affine(g, hinges(groups.pos), v, 'out');
    const neg = affine(g, hinges(groups.neg), v, 'out');
    return groups.pos.length ? g.node('Add', [hinges(groups.pos), neg]) : neg;
  };
  return { params: [...params, ...stats], body };
}

/** PWLU in ONNX: the export's chosen form, as one call of the `pwlu.Pwlu` function per site. */
function pwluOnnx(g: OnnxGraph, x: OnnxValue, w: ArrayWeights, n: number, prefix: string): string {
  const form = (g.forms?.pwlu ?? PWLU_ONNX_FORMS[0]) as PwluOnnxForm;
  if (!PWLU_ONNX_FORMS.includes(form)) throw new Error(`PWLU has no ONNX form '${form}' (${PWLU_ONNX_FORMS.join(', ')})`);
  const p = w.bl!.length;
  const { params, body } = pwluOnnxParts(form, x, w, n, p);
  const fn: OnnxFunction = {
    domain: PWLU_ONNX_DOMAIN,
    name: PWLU_ONNX_OP,
    inputs: ['x', ...params.map((q) => q.name)],
    doc: `PWLU (Zhou et al., ICCV 2021), N = ${n}, ${p === 1 ? 'layer-wise' : 'channel-wise'}, in its ${form} form (src/activations/specs/pwlu.ts); inputs: x (NCHW or NC), then that form's parameters`,
    body,
  };
  return onnxCallWithParams(g, fn, x.name, prefix, params);
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
  infer: (x, w) => pwluInfer(x, { y: w.heights!, kl: w.kl!, kr: w.kr!, bl: w.bl!, br: w.br! }),
  onnx: (g, x, w, o, prefix) => pwluOnnx(g, x, w, o.n, prefix),
  describe: (w, o) =>
    pwluRecord(w, o, (_q, bl, br) => {
      const d = (br - bl) / o.n;
      return Array.from({ length: o.n + 1 }, (_, i) => bl + i * d);
    }),
  describeSchema: PwluDescribe,
});
