/**
 * wasm `UnsortedSegmentSum` (the stock wasm backend has none; PWLU's composite backward needs it):
 * a scatter-add through the wasm ScatterNd kernel.
 */
import { UnsortedSegmentSum } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo, UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';
import { asBackend, tensorInput, WASM } from './common.js';
import { withScope, type KernelScope } from './scope.js';

/**
 * tf.unsortedSegmentSum for a 1-D segmentIds of length x.shape[0], via the wasm ScatterNd kernel (which
 * sums duplicates). Ids outside [0, numSegments) are dropped, as on the cpu backend: they are routed to
 * one spare segment that is cut off afterwards.
 */
function unsortedSegmentSumImpl(s: KernelScope, x: TensorInfo, segmentIds: TensorInfo, numSegments: number): TensorInfo {
  if (segmentIds.shape.length !== 1 || segmentIds.shape[0] !== x.shape[0]) {
    throw new Error(`wasm UnsortedSegmentSum: segmentIds must be 1-D with length x.shape[0]; got [${segmentIds.shape.join(',')}] for x [${x.shape.join(',')}]`);
  }
  if (segmentIds.dtype !== 'int32') throw new Error(`wasm UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`);
  const count = segmentIds.shape[0]!;
  const inner = x.shape.slice(1);
  if (count === 0) {
    return s.run('Fill', {}, { shape: [numSegments, ...inner], value: 0, dtype: x.dtype });
  }
  const ids = s.backend.typedArrayFromHeap(segmentIds);
  let valid = true;
  for (let i = 0; i < count; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= numSegments) {
      valid = false;
      break;
    }
  }
  const updates = x.shape.length === 1 ? s.reshape(x, [count, 1]) : x;
  const sliceShape = x.shape.length === 1 ? [1] : inner;
  if (valid) {
    const indices = s.reshape(segmentIds, [count, 1]);
    const out = s.run('ScatterNd', { indices, updates }, { shape: [numSegments, ...sliceShape] });
    return x.shape.length === 1 ? s.reshape(out, [numSegments]) : out;
  }
  const remapped = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const id = ids[i]!;
    remapped[i] = id >= 0 && id < numSegments ? id : numSegments;
  }
  const indices = s.adopt(s.backend.makeOutput([count, 1], 'int32', undefined, remapped));
  const spare = s.run('ScatterNd', { indices, updates }, { shape: [numSegments + 1, ...sliceShape] });
  const out = s.slice(spare, [0, ...sliceShape.map(() => 0)], [numSegments, ...sliceShape]);
  return x.shape.length === 1 ? s.reshape(out, [numSegments]) : out;
}

const unsortedSegmentSumFunc: KernelFunc = ({ inputs, backend, attrs }) => {
  const kernel = UnsortedSegmentSum;
  const a = attrs as unknown as UnsortedSegmentSumAttrs;
  const x = tensorInput(inputs, 'x', kernel);
  const segmentIds = tensorInput(inputs, 'segmentIds', kernel);
  return withScope(asBackend(backend), (s) => unsortedSegmentSumImpl(s, x, segmentIds, a.numSegments));
};

/** The UnsortedSegmentSum kernel of the wasm backend, for register.ts. */
export const unsortedSegmentSumConfig: KernelConfig = { kernelName: UnsortedSegmentSum, backendName: WASM, kernelFunc: unsortedSegmentSumFunc };
