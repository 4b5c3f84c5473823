// Every pwlu kernel name, defined once. The ops of src/ops/ run these kernels where the active
// backend registers them and fall back to their composite version otherwise, and the torch backend
// registers its native kernels under the same constants, so a misspelt name cannot silently send
// a backend down the slow composite path. A leaf of constants: no imports, so both sides can use it.

/** Training-mode batch norm and its gradient (contract: src/ops/batch-norm.ts). */
export const BN_TRAIN_KERNEL = 'PwluBatchNormTrain';
export const BN_GRAD_KERNEL = 'PwluBatchNormGrad';
/** SGD with momentum over every parameter in one call (contract: src/ops/sgd-momentum.ts). */
export const SGD_MOMENTUM_KERNEL = 'PwluSgdMomentum';
/** Collectives over the run's process group (contract: src/ops/collectives.ts). */
export const ALLREDUCE_KERNEL = 'PwluAllReduce';
export const BROADCAST_KERNEL = 'PwluBroadcast';
/** PWLU (contract: src/ops/pwlu.ts); the infer kernel is the float32 inference variant of the forward. */
export const PWLU_FORWARD_KERNEL = 'PwluForward';
export const PWLU_INFER_KERNEL = 'PwluInfer';
export const PWLU_BACKWARD_KERNEL = 'PwluBackward';
/** PAU and APL (contracts: src/ops/pau.ts, src/ops/apl.ts). */
export const PAU_FORWARD_KERNEL = 'PauForward';
export const PAU_BACKWARD_KERNEL = 'PauBackward';
export const APL_FORWARD_KERNEL = 'AplForward';
export const APL_BACKWARD_KERNEL = 'AplBackward';
/** Swish, PReLU and hard-swish (contracts: src/ops/swish.ts, src/ops/prelu.ts, src/ops/hardswish.ts). */
export const SWISH_FORWARD_KERNEL = 'PwluSwishForward';
export const SWISH_BACKWARD_KERNEL = 'PwluSwishBackward';
export const PRELU_FORWARD_KERNEL = 'PwluPreluForward';
export const PRELU_BACKWARD_KERNEL = 'PwluPreluBackward';
export const HARDSWISH_FORWARD_KERNEL = 'PwluHardSwishForward';
export const HARDSWISH_BACKWARD_KERNEL = 'PwluHardSwishBackward';
/**
 * One-pass gradients of tfjs's Relu, Relu6, Sigmoid and Mean: relu/relu6 take { dy, x }, sigmoid
 * { dy, y } (y = sigmoid(x)), mean { dy, x } with attrs { axes }. The torch backend's gradient
 * overrides call them (src/backends/torch/gradients.ts).
 */
export const RELU_GRAD_KERNEL = 'PwluReluGrad';
export const RELU6_GRAD_KERNEL = 'PwluRelu6Grad';
export const SIGMOID_GRAD_KERNEL = 'PwluSigmoidGrad';
export const MEAN_GRAD_KERNEL = 'PwluMeanGrad';
