// Native kernel configs of the 'torch' backend, assembled from one table per op family. The
// tables are plain data keyed by kernel name, so the names can be listed without the addon.
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchAddon } from '../addon.js';
import type { KernelArgs } from '../fallback.js';
import { activationKernels } from './activations.js';
import { batchNormKernels } from './batch-norm.js';
import { collectiveKernels } from './collectives.js';
import type { Impl, KernelFamily } from './common.js';
import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { matmulKernels } from './matmul.js';
import { optimizerKernels } from './optimizer.js';
import { poolingKernels } from './pooling.js';
import { reductionKernels } from './reductions.js';
import { shapeKernels } from './shape.js';

const FAMILIES: readonly KernelFamily[] = [
  elementwiseKernels,
  reductionKernels,
  shapeKernels,
  convKernels,
  poolingKernels,
  batchNormKernels,
  matmulKernels,
  activationKernels,
  optimizerKernels,
  collectiveKernels,
];

/** Names of the kernels the backend implements natively, listed without loading the addon (so tests can check them anywhere). */
export function torchKernelNames(): string[] {
  return FAMILIES.flatMap((family) => Object.keys(family));
}

function config(kernelName: string, impl: Impl): KernelConfig {
  const kernelFunc = ((args: KernelArgs) =>
    impl(args.inputs as unknown as Record<string, TensorInfo>, args.backend, args.attrs ?? {}, args, kernelName)) as unknown as KernelFunc;
  return { kernelName, backendName: 'torch', kernelFunc };
}

/** Every native kernel config, bound to the loaded addon, for registerTorchBackend to register. */
export function nativeKernels(addon: TorchAddon): KernelConfig[] {
  return FAMILIES.flatMap((family) => Object.entries(family).map(([kernelName, bind]) => config(kernelName, bind(addon))));
}
