// Wrapping every registered kernel of a tfjs backend, for the profiling and kernel-census scripts.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Re-registers every kernel of `backend` so that each call goes through around(kernelName, args, run),
 * where run() calls the original kernel and returns its result.
 */
export function wrapKernels(backend, around) {
  for (const k of tf.getKernelsForBackend(backend)) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({ ...k, kernelFunc: (args) => around(k.kernelName, args, () => f(args)) });
  }
}

/** "Name [shape] [shape] -": a kernel call labelled with its input shapes. */
export function shapeKey(kernelName, inputs) {
  return `${kernelName} ${Object.values(inputs)
    .map((t) => (t ? `[${t.shape}]` : '-'))
    .join(' ')}`;
}

/** Copies of results to row-major layout so far on the 'torch' backend (0 elsewhere): a cost hidden inside kernels. */
function relayouts() {
  const addon = tf.backend().addon;
  return addon ? addon.relayouts() : 0;
}

/**
 * Wraps the kernels of `backend` to time them, and returns report(label, fn): runs fn `warmup` times, then
 * `n` times, and prints to stderr where its wall time went (inside each kernel, or key = kernel + input
 * shapes with `shapes`; and outside kernels: engine, layers, N-API), top `limit` rows.
 * Shared by torch-speed and profile-model so that both report a step the same way.
 */
export function kernelProfiler(backend, { shapes = false, warmup = 3, n = 5, limit = Infinity } = {}) {
  const acc = new Map();
  wrapKernels(backend, (name, args, run) => {
    const r0 = relayouts();
    const t0 = performance.now();
    const r = run();
    const key = shapes ? shapeKey(name, args.inputs) : name;
    const e = acc.get(key) ?? { calls: 0, ms: 0, relayouts: 0 };
    e.calls++;
    e.ms += performance.now() - t0;
    e.relayouts += relayouts() - r0;
    acc.set(key, e);
    return r;
  });
  return (label, fn) => {
    for (let i = 0; i < warmup; i++) fn();
    acc.clear();
    const r0 = relayouts();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const stepMs = (performance.now() - t0) / n;
    const rows = [...acc.entries()].map(([key, e]) => ({ key, calls: e.calls / n, ms: e.ms / n, relayouts: e.relayouts / n })).sort((p, q) => q.ms - p.ms);
    const kernelMs = rows.reduce((s, r) => s + r.ms, 0);
    const kernelCalls = rows.reduce((s, r) => s + r.calls, 0);
    const perCall = (((stepMs - kernelMs) / kernelCalls) * 1000).toFixed(0);
    console.error(
      `${label}: ${stepMs.toFixed(1)} ms, ${kernelMs.toFixed(1)} ms in ${kernelCalls} kernel calls, ${(stepMs - kernelMs).toFixed(1)} ms outside (${perCall} us per call)`,
    );
    const copies = (relayouts() - r0) / n;
    if (copies) console.error(`  results copied to row-major layout per call: ${copies}`);
    for (const r of rows.slice(0, limit)) {
      const note = r.relayouts ? `  (${r.relayouts} results copied to row-major)` : '';
      console.error(`  ${r.key.padEnd(shapes ? 80 : 36)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(2).padStart(8)} ms${note}`);
    }
    return { stepMs, kernelMs, kernelCalls };
  };
}
