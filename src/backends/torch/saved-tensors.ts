// Saving a tensor for the backward pass costs tfjs an Identity kernel and a tape node per tensor
// (Engine.clone), about 1,300 of each per MobileNet-V2 training step. On the torch backend a saved
// tensor becomes a second reference to the same data instead, as the Identity kernel would make,
// without the kernel dispatch and without the tape node. The tape node only matters for gradients of
// gradients, which tfjs records through the kernels the gradient functions run, not through clones
// made while saving; pwlu computes first-order gradients only.
import * as tf from '@tensorflow/tfjs-core';

import { TorchBackend } from './backend.js';

/** The parts of tfjs-core's Engine (4.x) this relies on; checked at install time. */
interface EngineInternals {
  clone(x: tf.Tensor): tf.Tensor;
  state: { tensorInfo: WeakMap<object, { backend: tf.KernelBackend }> };
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: tf.KernelBackend): tf.Tensor;
}

let installed = false;

/** Makes saved-for-backward tensors of the torch backend plain references; true once installed. */
export function shareSavedTensors(): boolean {
  if (installed) return true;
  const engine = tf.engine() as unknown as Partial<EngineInternals>;
  if (typeof engine.clone !== 'function' || typeof engine.makeTensorFromTensorInfo !== 'function' || !(engine.state?.tensorInfo instanceof WeakMap)) {
    return false; // another tfjs-core: keep its own clone
  }
  const e = engine as EngineInternals;
  const tfjsClone = e.clone.bind(e);
  e.clone = (x: tf.Tensor): tf.Tensor => {
    const backend = e.state.tensorInfo.get(x.dataId)?.backend;
    if (!(backend instanceof TorchBackend)) return tfjsClone(x);
    backend.incRef(x.dataId);
    return e.makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, backend);
  };
  installed = true;
  return true;
}
