import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Something an activation reports at a phase boundary (e.g. PWLU's realignment), for the log and metrics.jsonl. */
export interface ActivationEvent {
  event: string;
  layer: string;
  [key: string]: unknown;
}

/**
 * Optional training hooks an activation layer may implement; the trainer (src/train/activation-hooks.ts)
 * finds them on the model's layers, so the training loop needs no per-activation code.
 */
export interface ActivationTrainingHooks {
  /** Before the first step of every epoch (also the first epoch of a resumed run); may report an event. */
  onEpochStart?(epoch: number): ActivationEvent | null;
  /** Trainable variables that must not be updated in the current phase (left out of the gradient). */
  frozenVariables?(): tf.Variable[];
  /** An extra loss term (e.g. APL's L2 penalty); called inside the gradient tape of every step. */
  regularizationLoss?(): tf.Scalar | null;
  /** Clip the L2 norm of this layer's parameter gradients (jointly with every layer giving the same value); null: no clipping. */
  gradClipNorm?(): number | null;
  /** After every optimizer update (e.g. PWLU's guard that keeps BR - BL above epsilon). */
  afterStep?(): void;
  /** Weights of this activation that DO get weight decay despite the activation no-decay rule (e.g. FReLU's conv kernel). */
  decayedWeights?(): tfl.LayerVariable[];
  /** The learned shape and parameters, as plain JSON, for activations.json. */
  describe?(): Record<string, unknown> | undefined;
}

/** Typed view of a layer's optional hooks (every member may be absent). */
export function hooksOf(layer: tfl.layers.Layer): ActivationTrainingHooks {
  return layer as unknown as ActivationTrainingHooks;
}
