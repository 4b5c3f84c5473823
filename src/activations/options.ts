/**
 * Each activation's own options: one strict zod schema per registered activation, keyed by its name, validated as
 * the config's `activation.<name>` section. They live apart from the layer files (which load tfjs) so that the
 * config schema can include them while commands that only parse flags (`pwlu --help`) stay light.
 */
import { z } from 'zod';

const NoOptions = z.strictObject({});

const SwishOptions = z.strictObject({
  /** Initial (or fixed) beta. */
  beta: z.number().positive().max(100).default(1),
  /** Learn beta by gradient descent (one scalar per site). */
  trainable_beta: z.boolean().default(false),
});

const PReLUOptions = z.strictObject({
  /** Initial slope of the negative part. */
  init: z.number().min(-10).max(10).default(0.25),
});

const APLOptions = z.strictObject({
  /** Number of hinges S (2..5). */
  s: z.number().int().min(2).max(5).default(2),
  /** L2 penalty weight on a and b (sum of squares), added to the training loss. */
  l2: z.number().min(0).max(1).default(1e-3),
});

const PAUOptions = z.strictObject({
  /** Cap on the joint L2 norm of all PAU coefficient gradients per step; 0 disables clipping. */
  grad_clip: z.number().min(0).max(1e6).default(5),
});

/** PWLU's shape and its two-phase method (statistics, then realignment and gradient learning). */
const PwluOptions = z.strictObject({
  /** Number of intervals N (even, so that 0 can be a breakpoint). */
  n: z
    .number()
    .int()
    .min(2)
    .max(512)
    .refine((v) => v % 2 === 0, { message: 'must be even, so that 0 can be a breakpoint' })
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

/** The options schema of every activation, by registry name (src/activations/registry.ts pairs each with its layer). */
export const ACTIVATION_OPTIONS = {
  relu: NoOptions,
  swish: SwishOptions,
  hardswish: NoOptions,
  prelu: PReLUOptions,
  apl: APLOptions,
  pau: PAUOptions,
  frelu: NoOptions,
  pwlu: PwluOptions,
} as const;

export type ActivationName = keyof typeof ACTIVATION_OPTIONS;

/** The parsed options of one activation, as its `create` receives them. */
export type ActivationOptions<N extends ActivationName> = z.infer<(typeof ACTIVATION_OPTIONS)[N]>;

/** Whether `name` has an options section (every registered activation has one). */
export function isActivationName(name: string): name is ActivationName {
  return Object.hasOwn(ACTIVATION_OPTIONS, name);
}
