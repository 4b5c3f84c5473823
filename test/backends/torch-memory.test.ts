/**
 * Memory bookkeeping of the 'torch' backend: refcounts shared by Reshape/Identity as on the cpu
 * backend, exact disposal (tfjs counters and the addon's native tensor table), data moved in from
 * another backend, and flat tensor counts across training steps.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients

import { registerTorchBackend, torchAvailability, type TorchBackend } from '../../src/backends/torch/index.js';
import { microTrain } from '../helpers/micro-train.js';
import { optionalPart, torchTestDevice } from '../helpers/optional-parts.js';

const avail = torchAvailability();
optionalPart('native', avail.available, avail.reason);

function backend(): TorchBackend {
  return tf.backend() as TorchBackend;
}
function native(): number {
  return backend().addon.live();
}

describe.skipIf(!avail.available)(`torch backend memory${avail.available ? '' : ` (skipped: ${avail.reason})`}`, () => {
  beforeAll(async () => {
    await registerTorchBackend({ threads: 1, device: torchTestDevice() });
    await tf.setBackend('torch');
  });

  it('write/read/dispose are exact', () => {
    const ids0 = backend().numDataIds();
    const n0 = native();
    const t0 = tf.memory().numTensors;
    const a = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const i = tf.tensor([1, -2, 3], [3], 'int32');
    const b = tf.tensor([1, 0, 1], [3], 'bool');
    expect(a.dataSync()).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(i.dataSync()).toEqual(new Int32Array([1, -2, 3]));
    expect(b.dataSync()).toEqual(new Uint8Array([1, 0, 1]));
    expect(backend().numDataIds()).toBe(ids0 + 3);
    expect(native()).toBe(n0 + 3);
    tf.dispose([a, i, b]);
    expect(backend().numDataIds()).toBe(ids0);
    expect(native()).toBe(n0);
    expect(tf.memory().numTensors).toBe(t0);
  });

  it('reshape and clone share data with refcounts, like the cpu backend', async () => {
    const ids0 = backend().numDataIds();
    const n0 = native();
    const a = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const r = tf.reshape(a, [3, 2]);
    const c = tf.clone(a);
    expect(r.dataId).toBe(a.dataId);
    expect(c.dataId).toBe(a.dataId);
    expect(backend().refCount(a.dataId)).toBe(3);
    // a kernel on the reshaped tensor sees the new shape (a native view is created and cached)
    const s = tf.sum(r, 0);
    expect(s.shape).toEqual([2]);
    expect(Array.from(s.dataSync())).toEqual([9, 12]);
    a.dispose();
    expect(backend().refCount(r.dataId)).toBe(2);
    expect(Array.from(await r.data())).toEqual([1, 2, 3, 4, 5, 6]);
    r.dispose();
    c.dispose();
    s.dispose();
    expect(backend().numDataIds()).toBe(ids0);
    expect(native()).toBe(n0); // views released with their data
  });

  it('disposeData(force) and data moved in from the cpu backend', async () => {
    const ids0 = backend().numDataIds();
    const n0 = native();
    await tf.setBackend('cpu');
    const onCpu = tf.tensor([1, 2, 3], [3]);
    await tf.setBackend('torch');
    const y = tf.mul(onCpu, 2); // moves onCpu's data into torch
    expect(Array.from(y.dataSync())).toEqual([2, 4, 6]);
    expect(backend().numDataIds()).toBe(ids0 + 2);
    tf.dispose([onCpu, y]);
    expect(backend().numDataIds()).toBe(ids0);
    expect(native()).toBe(n0);
    const id = backend().write(new Float32Array([1]), [1], 'float32');
    backend().incRef(id);
    expect(backend().disposeData(id)).toBe(false);
    expect(backend().disposeData(id, true)).toBe(true);
    expect(backend().refCount(id)).toBe(0);
    expect(native()).toBe(n0);
  });

  it('a failing kernel throws a JS error and leaks nothing', () => {
    const x = tf.tensor([1, 2, 3]);
    const idx = tf.tensor1d([0, 7], 'int32');
    const ids0 = backend().numDataIds();
    const n0 = native();
    expect(() => tf.gather(x, idx)).toThrow(/^torch: .*out of/i);
    expect(backend().numDataIds()).toBe(ids0);
    expect(native()).toBe(n0);
    tf.dispose([x, idx]);
  });

  it('the caching allocator reuses blocks', () => {
    const stats = backend().addon.allocatorStats();
    expect(stats.enabled).toBe(true);
    const before = backend().addon.allocatorStats().hits;
    for (let i = 0; i < 3; i++) tf.tidy(() => tf.relu(tf.fill([256, 256], 1)).dataSync());
    expect(backend().addon.allocatorStats().hits).toBeGreaterThan(before);
  });

  it('tensor counts stay flat across training steps', () => {
    const micro = microTrain('resnet20', { name: 'relu' }, { model: { arch: 'resnet20', width: 0.125 } });
    const counts: Array<[number, number, number]> = [];
    for (let i = 0; i < 8; i++) {
      micro.step();
      counts.push([tf.memory().numTensors, backend().numDataIds(), native()]);
    }
    // the optimizer allocates its accumulators on the first step; after that nothing may grow
    for (let i = 2; i < counts.length; i++) expect(counts[i], `step ${i}`).toEqual(counts[1]);
    micro.dispose();
  });

  it('counts the peak of the bytes tensors ask the addon for, from the bytes in use at the reset', async () => {
    const { measurePeakMemory } = await import('../../src/backends/memory.js');
    const held = tf.zeros([256, 1024]); // 1 MiB alive throughout
    const m = await measurePeakMemory(() => {
      const a = tf.ones([1024, 1024]); // 4 MiB
      const b = tf.mul(a, a); // 4 MiB more while a is alive
      tf.dispose([a, b]);
      tf.dispose(tf.ones([512, 1024])); // 2 MiB after they are freed: not a new peak
    });
    expect(m.source).toBe('torch-allocator');
    const inUse = backend().tensorBytes()!.inUse;
    expect(m.tensor_bytes - inUse).toBe(8 * 2 ** 20);
    expect(m.rss_bytes === null || m.rss_bytes > 8 * 2 ** 20).toBe(true);
    held.dispose();
    expect(backend().tensorBytes()!.inUse).toBe(inUse - 2 ** 20);
  });
});
