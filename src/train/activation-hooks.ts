/**
 * The trainer's side of the activation hooks (src/activations/hooks.ts): phase changes at epoch
 * starts, frozen variables, extra loss terms, gradient clipping, post-update guards and the
 * learned-shape dump. Every function is a no-op for models whose activations define no hooks.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { hooksOf, type ActivationEvent, type ActivationTrainingHooks } from '../activations/hooks.js';
import { isActivationLayer } from '../activations/types.js';

function activationLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => isActivationLayer(l));
}

/** Tells every activation layer that `epoch` (0-based) starts; returns what they report (e.g. PWLU realignments). */
export function startEpoch(model: tfl.LayersModel, epoch: number): ActivationEvent[] {
  const events: ActivationEvent[] = [];
  for (const layer of activationLayers(model)) {
    const e = hooksOf(layer).onEpochStart?.(epoch);
    if (e) events.push(e);
  }
  return events;
}

/** Names of the variables the activations freeze in the current phase (left out of the gradient). */
export function frozenVariableNames(model: tfl.LayersModel): Set<string> {
  const out = new Set<string>();
  for (const layer of activationLayers(model)) for (const v of hooksOf(layer).frozenVariables?.() ?? []) out.add(v.name);
  return out;
}

/** Variables of trainable weights that the activations want decayed despite the activation no-decay rule. */
export function decayedActivationVariables(layer: tfl.layers.Layer): Set<string> {
  return new Set((hooksOf(layer).decayedWeights?.() ?? []).map((w) => (w.read() as tf.Variable).name));
}

/** Per-step hooks of one model, collected once (makeTrainStep calls these every step). */
export interface StepHooks {
  /** The activations' extra loss terms summed (call inside the gradient tape), or null when none. */
  regularization(): tf.Scalar | null;
  /** Clips activation parameter gradients in place (call inside a tidy). */
  clip(grads: Record<string, tf.Tensor>): void;
  /** After the optimizer update. */
  afterStep(): void;
}

/** Collects the step hooks of a model's activation layers. */
export function stepHooks(model: tfl.LayersModel): StepHooks {
  const layers = activationLayers(model);
  const regs = layers.filter((l) => hooksOf(l).regularizationLoss !== undefined);
  const after = layers.filter((l) => hooksOf(l).afterStep !== undefined);
  // Clip groups: every layer giving the same limit shares one joint norm.
  const groups = new Map<number, string[]>();
  for (const l of layers) {
    const lim = hooksOf(l).gradClipNorm?.() ?? null;
    if (lim === null) continue;
    const names = groups.get(lim) ?? [];
    for (const w of l.trainableWeights) names.push((w.read() as tf.Variable).name);
    groups.set(lim, names);
  }
  return {
    regularization: () => {
      let total: tf.Tensor | null = null;
      for (const l of regs) {
        const r = (hooksOf(l) as Required<Pick<ActivationTrainingHooks, 'regularizationLoss'>>).regularizationLoss();
        if (r) total = total ? tf.add(total, r) : r;
      }
      return total as tf.Scalar | null;
    },
    clip: (grads) => {
      for (const [limit, names] of groups) {
        const present = names.filter((n) => grads[n] !== undefined);
        if (present.length === 0) continue;
        const norm = tf.sqrt(tf.addN(present.map((n) => tf.sum(tf.square(grads[n]!)))));
        // scale = min(1, limit / norm), as torch.nn.utils.clip_grad_norm_ (with its 1e-6).
        const scale = tf.minimum(tf.div(limit, tf.add(norm, 1e-6)), 1);
        for (const n of present) grads[n] = tf.mul(grads[n]!, scale);
      }
    },
    afterStep: () => {
      for (const l of after) hooksOf(l).afterStep!();
    },
  };
}

/** The learned activations, for activations.json: one entry per activation layer that has weights. */
export function describeActivations(model: tfl.LayersModel): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const layer of activationLayers(model)) {
    if (layer.weights.length === 0) continue;
    const own = hooksOf(layer).describe?.();
    if (own) {
      out.push({ name: layer.name, ...own });
      continue;
    }
    const weights: Record<string, { shape: number[]; values: number[] }> = {};
    for (const w of layer.weights)
      weights[w.originalName.slice(layer.name.length + 1)] = { shape: [...(w.shape as number[])], values: Array.from(w.read().dataSync()) };
    out.push({ name: layer.name, type: layer.getClassName(), weights });
  }
  return out;
}
