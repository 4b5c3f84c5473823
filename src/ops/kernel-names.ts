// Every pwlu kernel name, defined once, with its inputs and attributes typed beside it as tfjs's
// kernel_names.ts does (`PreluInputs = Pick<NamedTensorInfoMap, 'x' | 'alpha'>`). The ops of
// src/ops/ run these kernels where the active backend registers them and fall back to their
// composite version otherwise, and the torch backend registers its native kernels under the same
// constants and destructures the same input types, so a misspelt name or input cannot silently
// send a backend down the slow composite path. A leaf: type-only imports from tfjs-core, so both
// sides can use it.
import type { TensorInfo } from '@tensorflow/tfjs-core';

/**
 * A kernel's named inputs: tfjs's `Pick<NamedTensorInfoMap, ...>`, but with the required inputs
 * present (tfjs's map allows undefined for every name) and the optional ones marked so.
 */
export type KernelInputs<Required extends string, Optional extends string = never> = { [K in Required]: TensorInfo } & {
  [K in Optional]?: TensorInfo;
};
/** A kernel without attributes: it takes `{}`. */
export type NoAttrs = Record<string, never>;

/** Training-mode batch norm and its gradient (contract: src/ops/batch-norm.ts). */
export const BN_TRAIN_KERNEL = 'PwluBatchNormTrain';
export type BnTrainInputs = KernelInputs<'x', 'scale' | 'offset' | 'runningMean' | 'runningVar'>;
export interface BnTrainAttrs {
  epsilon: number;
  momentum: number;
}
export const BN_GRAD_KERNEL = 'PwluBatchNormGrad';
export type BnGradInputs = KernelInputs<'dy' | 'x' | 'mean' | 'invstd', 'scale'>;
export interface BnGradAttrs {
  epsilon: number;
}
/** SGD with momentum over every parameter in one call (contract: src/ops/sgd-momentum.ts). */
export const SGD_MOMENTUM_KERNEL = 'PwluSgdMomentum';
/** `w<i>`, `g<i>`, `b<i>` for each parameter i. */
export type SgdMomentumInputs = Record<string, TensorInfo>;
export interface SgdMomentumAttrs {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecays: number[];
}
/** Collectives over the run's process group (contract: src/ops/collectives.ts); inputs `t<i>`. */
export const ALLREDUCE_KERNEL = 'PwluAllReduce';
export type AllReduceInputs = Record<string, TensorInfo>;
export interface AllReduceAttrs {
  average: boolean;
  bucketBytes: number;
}
export const BROADCAST_KERNEL = 'PwluBroadcast';
export type BroadcastInputs = Record<string, TensorInfo>;
export interface BroadcastAttrs {
  root: number;
}
/** PWLU (contract: src/ops/pwlu.ts); the infer kernel is the float32 inference variant of the forward. */
export const PWLU_FORWARD_KERNEL = 'PwluForward';
export type PwluForwardInputs = KernelInputs<'x' | 'y' | 'kl' | 'kr' | 'bl' | 'br'>;
export type PwluForwardAttrs = NoAttrs;
export const PWLU_INFER_KERNEL = 'PwluInfer';
export type PwluInferInputs = PwluForwardInputs;
export type PwluInferAttrs = NoAttrs;
export const PWLU_BACKWARD_KERNEL = 'PwluBackward';
export type PwluBackwardInputs = KernelInputs<'dy' | 'x' | 'y' | 'kl' | 'kr' | 'bl' | 'br'>;
export type PwluBackwardAttrs = NoAttrs;
/** The bounds guard after each update (contract: src/ops/pwlu.ts); outputs [bl, br]. */
export const PWLU_WIDEN_BOUNDS_KERNEL = 'PwluWidenBounds';
export type PwluWidenBoundsInputs = KernelInputs<'bl' | 'br'>;
export interface PwluWidenBoundsAttrs {
  minWidth: number;
}
/** PAU and APL (contracts: src/ops/pau.ts, src/ops/apl.ts). */
export const PAU_FORWARD_KERNEL = 'PauForward';
export type PauForwardInputs = KernelInputs<'x' | 'a' | 'b'>;
export type PauForwardAttrs = NoAttrs;
export const PAU_BACKWARD_KERNEL = 'PauBackward';
export type PauBackwardInputs = KernelInputs<'dy' | 'x' | 'a' | 'b'>;
export type PauBackwardAttrs = NoAttrs;
export const APL_FORWARD_KERNEL = 'AplForward';
export type AplForwardInputs = KernelInputs<'x' | 'a' | 'b'>;
export type AplForwardAttrs = NoAttrs;
export const APL_BACKWARD_KERNEL = 'AplBackward';
export type AplBackwardInputs = KernelInputs<'dy' | 'x' | 'a' | 'b'>;
export type AplBackwardAttrs = NoAttrs;
/** Swish, PReLU and hard-swish (contracts: src/ops/swish.ts, src/ops/prelu.ts, src/ops/hardswish.ts). */
export const SWISH_FORWARD_KERNEL = 'PwluSwishForward';
/** `beta` as an input when it is trainable, else the attribute. */
export type SwishForwardInputs = KernelInputs<'x', 'beta'>;
export interface SwishForwardAttrs {
  beta: number;
}
export const SWISH_BACKWARD_KERNEL = 'PwluSwishBackward';
export type SwishBackwardInputs = KernelInputs<'dy' | 'x', 'beta'>;
export type SwishBackwardAttrs = SwishForwardAttrs;
export const PRELU_FORWARD_KERNEL = 'PwluPreluForward';
export type PreluForwardInputs = KernelInputs<'x' | 'alpha'>;
export type PreluForwardAttrs = NoAttrs;
export const PRELU_BACKWARD_KERNEL = 'PwluPreluBackward';
export type PreluBackwardInputs = KernelInputs<'dy' | 'x' | 'alpha'>;
export type PreluBackwardAttrs = NoAttrs;
export const HARDSWISH_FORWARD_KERNEL = 'PwluHardSwishForward';
export type HardSwishForwardInputs = KernelInputs<'x'>;
export type HardSwishForwardAttrs = NoAttrs;
export const HARDSWISH_BACKWARD_KERNEL = 'PwluHardSwishBackward';
export type HardSwishBackwardInputs = KernelInputs<'dy' | 'x'>;
export type HardSwishBackwardAttrs = NoAttrs;
/**
 * One-pass gradients of tfjs's Relu, Relu6, Sigmoid and Mean: relu/relu6 take { dy, x }, sigmoid
 * { dy, y } (y = sigmoid(x)), mean { dy, x } with attrs { axes }. The torch backend's gradient
 * overrides call them (src/backends/torch/gradients.ts).
 */
export const RELU_GRAD_KERNEL = 'PwluReluGrad';
export type ReluGradInputs = KernelInputs<'dy' | 'x'>;
export const RELU6_GRAD_KERNEL = 'PwluRelu6Grad';
export type Relu6GradInputs = KernelInputs<'dy' | 'x'>;
export const SIGMOID_GRAD_KERNEL = 'PwluSigmoidGrad';
export type SigmoidGradInputs = KernelInputs<'dy' | 'y'>;
export const MEAN_GRAD_KERNEL = 'PwluMeanGrad';
export type MeanGradInputs = KernelInputs<'dy' | 'x'>;
export interface MeanGradAttrs {
  axes: number[];
}
