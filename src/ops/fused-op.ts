/**
 * The one fused-or-composite dispatch of the activation ops (PWLU, PAU, APL, Swish, PReLU,
 * hard-swish), as timm's `get_act_layer` makes its variant choice in one place. An op is declared
 * once: its kernel names, the input conditions for its fused kernels, and a composite of tfjs ops
 * with the same semantics. `defineFusedOp` returns the public entry points:
 *
 *  - `apply`: the training op, under one `tf.customGrad` that saves only the op's inputs, and whose
 *    backward runs the hand-written gradient (the backward kernel, or the composite backward);
 *  - `forward`: the forward without gradient;
 *  - `backward`: the gradients for an upstream dy (exposed for tests and kernels);
 *  - `infer`: the backend's inference kernel where it registers one, else `forward`.
 *
 * The fused path calls `runKernel(kernels.forward, inputs, attrs)` and
 * `runKernel(kernels.backward, { dy, ...inputs }, attrs)`: every backward kernel takes the forward's
 * inputs plus dy, and returns one gradient per input, in the inputs' key order (x first). Each entry
 * point takes the fused path where the active backend registers the kernels it runs
 * (`hasNativeKernel`: both for `apply`, the forward kernel for `forward`, the backward kernel for
 * `backward`) and `canFuse` accepts the inputs. So an inference-only backend (tfjs's `webgl`, through
 * `pwlu/layers`) registers forward or infer kernels alone. Which backends those are is the backends'
 * business, not the op's.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { hasNativeKernel, runNativeKernel } from './native-kernel.js';

/** Which implementation to run: the fused kernels when the backend has them ('auto'), or forced. */
export type OpImpl = 'auto' | 'fused' | 'composite';

/** A kernel's named inputs (a `KernelInputs` type of kernel-names.ts) as the tensors an op passes. */
export type OpInputs<I> = { [K in keyof I]: I[K] extends TensorInfo | undefined ? tf.Tensor : never };

/** What an op declares: its kernels, when they apply, and the composite version with the same semantics. */
export interface FusedOpSpec<I extends object, A extends object> {
  /** The op's name in error messages ('PWLU', 'Swish', ...). */
  name: string;
  /** Kernel names (kernel-names.ts); `infer` is an optional inference-only variant of the forward. */
  kernels: { forward: string; backward: string; infer?: string };
  /** Validates the inputs' shapes; every entry point calls it first. */
  check?(inputs: OpInputs<I>, attrs: A): void;
  /** Conditions on the inputs (dtypes) beyond the backend registering both kernels; default: none. */
  canFuse?(inputs: OpInputs<I>, attrs: A): boolean;
  /** The tfjs-op version: forward, and backward returning one gradient per input in key order. */
  composite: {
    forward(inputs: OpInputs<I>, attrs: A): tf.Tensor;
    backward(dy: tf.Tensor, inputs: OpInputs<I>, attrs: A): tf.Tensor[];
  };
}

/** The public entry points of one op. */
export interface FusedOp<I extends object, A extends object> {
  /** Training: differentiable in every input through the hand-written gradient. */
  apply(inputs: OpInputs<I>, attrs: A, impl?: OpImpl): tf.Tensor;
  /** Forward without gradient. */
  forward(inputs: OpInputs<I>, attrs: A, impl?: OpImpl): tf.Tensor;
  /** Gradients for an upstream dy, one per input in key order. */
  backward(dy: tf.Tensor, inputs: OpInputs<I>, attrs: A, impl?: OpImpl): tf.Tensor[];
  /** Inference: the infer kernel where the backend registers it, else `forward`. */
  infer(inputs: OpInputs<I>, attrs: A): tf.Tensor;
}

/** Declares an op with fused kernels and a composite fallback once, so that the dispatch and the customGrad are written once. */
export function defineFusedOp<I extends object, A extends object>(spec: FusedOpSpec<I, A>): FusedOp<I, A> {
  const { forward: fwdKernel, backward: bwdKernel, infer: inferKernel } = spec.kernels;

  function useFused(impl: OpImpl, inputs: OpInputs<I>, attrs: A, kernels: string[]): boolean {
    if (impl === 'composite') return false;
    const has = kernels.every(hasNativeKernel) && (spec.canFuse?.(inputs, attrs) ?? true);
    if (impl === 'fused' && !has) {
      throw new Error(`${spec.name}: backend '${tf.getBackend()}' has no fused ${spec.name} kernels${spec.canFuse ? ' for these inputs' : ''}`);
    }
    return has;
  }

  const forwardWith = (fused: boolean, inputs: OpInputs<I>, attrs: A): tf.Tensor =>
    fused ? runNativeKernel<tf.Tensor>(fwdKernel, inputs, attrs) : spec.composite.forward(inputs, attrs);

  const backwardWith = (fused: boolean, dy: tf.Tensor, inputs: OpInputs<I>, attrs: A): tf.Tensor[] => {
    if (!fused) return spec.composite.backward(dy, inputs, attrs);
    const out = runNativeKernel<tf.Tensor | tf.Tensor[]>(bwdKernel, { dy, ...inputs }, attrs);
    return Array.isArray(out) ? out : [out];
  };

  const forward = (inputs: OpInputs<I>, attrs: A, impl: OpImpl = 'auto'): tf.Tensor => {
    spec.check?.(inputs, attrs);
    return forwardWith(useFused(impl, inputs, attrs, [fwdKernel]), inputs, attrs);
  };

  const backward = (dy: tf.Tensor, inputs: OpInputs<I>, attrs: A, impl: OpImpl = 'auto'): tf.Tensor[] => {
    spec.check?.(inputs, attrs);
    return backwardWith(useFused(impl, inputs, attrs, [bwdKernel]), dy, inputs, attrs);
  };

  const apply = (inputs: OpInputs<I>, attrs: A, impl: OpImpl = 'auto'): tf.Tensor => {
    spec.check?.(inputs, attrs);
    const fused = useFused(impl, inputs, attrs, [fwdKernel, bwdKernel]);
    const keys = Object.keys(inputs) as (keyof I & string)[];
    const named = (ts: tf.Tensor[]) => Object.fromEntries(keys.map((k, i) => [k, ts[i]!])) as OpInputs<I>;
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const ts = args.slice(0, keys.length) as tf.Tensor[];
      (args[keys.length] as tf.GradSaveFunc)(ts);
      return {
        value: forwardWith(fused, named(ts), attrs),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backwardWith(fused, dy, named(saved), attrs),
      };
    });
    return f(...keys.map((k) => inputs[k] as tf.Tensor));
  };

  const infer = (inputs: OpInputs<I>, attrs: A): tf.Tensor => {
    if (inferKernel === undefined || !hasNativeKernel(inferKernel)) return forward(inputs, attrs);
    spec.check?.(inputs, attrs);
    return runNativeKernel<tf.Tensor>(inferKernel, inputs, attrs);
  };

  return { apply, forward, backward, infer };
}
