// Kernels the torch backend lacks run on a private cpu backend: inputs are copied in, the cpu
// kernel runs, outputs are copied back. Each such kernel warns once and is recorded, so tests can
// assert that a training step used none.
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { getKernel, type KernelConfig, type KernelFunc, type NamedAttrMap, type NamedTensorInfoMap, type TensorInfo } from '@tensorflow/tfjs-core';

import type { TorchBackend } from './backend.js';

const used = new Set<string>();
let cpu: MathBackendCPU | undefined;

function cpuBackend(): MathBackendCPU {
  if (!cpu) {
    cpu = new MathBackendCPU();
    // Skip the "running TensorFlow.js in Node.js" banner of the first write.
    (cpu as unknown as { firstUse: boolean }).firstUse = false;
  }
  return cpu;
}

/** Names of the kernels that have fallen back to the cpu backend so far in this process. */
export function fallbackKernelsUsed(): string[] {
  return [...used].sort();
}

function note(kernelName: string): void {
  if (used.has(kernelName)) return;
  used.add(kernelName);
  console.warn(`[pwlu] torch backend: kernel '${kernelName}' is not native, running it on the cpu backend (slow)`);
}

/** What tfjs passes to a torch kernelFunc. */
export interface KernelArgs {
  inputs: NamedTensorInfoMap;
  backend: TorchBackend;
  attrs?: NamedAttrMap;
}

/** Runs the cpu backend's kernel `kernelName` on copies of the inputs; outputs come back as torch tensors. */
export function runOnCpu(kernelName: string, args: KernelArgs): TensorInfo | TensorInfo[] {
  const config = getKernel(kernelName, 'cpu');
  if (!config) throw new Error(`torch backend: kernel '${kernelName}' is neither native nor available on the cpu backend`);
  note(kernelName);
  const torch = args.backend;
  const c = cpuBackend();
  const created: TensorInfo[] = [];
  const copy = (t: TensorInfo | null | undefined): TensorInfo | null | undefined => {
    if (t == null) return t;
    const ti = { dataId: c.write(torch.readInfo(t), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
    created.push(ti);
    return ti;
  };
  const src = args.inputs as unknown as Record<string, TensorInfo | null | undefined> | Array<TensorInfo>;
  let inputs: NamedTensorInfoMap;
  if (Array.isArray(src)) {
    inputs = src.map((t) => copy(t)) as unknown as NamedTensorInfoMap;
  } else {
    const m: Record<string, TensorInfo | null | undefined> = {};
    for (const k of Object.keys(src)) m[k] = copy(src[k]);
    inputs = m as NamedTensorInfoMap;
  }
  let result: TensorInfo | TensorInfo[];
  try {
    result = config.kernelFunc({ inputs, backend: c, attrs: args.attrs ?? {} });
  } catch (e) {
    for (const t of created) c.disposeData(t.dataId, true);
    throw e;
  }
  const outs = Array.isArray(result) ? result : [result];
  const back = outs.map((o) => {
    const values = c.readSync(o.dataId);
    return torch.makeTensorInfo(o.shape, o.dtype, values);
  });
  for (const t of [...created, ...outs]) c.disposeData(t.dataId, true);
  return Array.isArray(result) ? back : back[0];
}

/** A torch kernel config that delegates `kernelName` to the cpu backend. */
export function fallbackKernel(kernelName: string): KernelConfig {
  const kernelFunc = ((args: KernelArgs) => runOnCpu(kernelName, args)) as unknown as KernelFunc;
  return { kernelName, backendName: 'torch', kernelFunc };
}
