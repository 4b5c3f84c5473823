import { describe, expect, it } from 'vitest';
import type { PwluInstance, PwluLayer, RunRecord } from '../../src/report/collect.js';
import { pwluShape, shapesByDepth } from '../../src/report/shapes.js';

/** A PWLU instance with the heights f(breakpoint) of a function f over [bl, br] in n segments. */
function instance(f: (x: number) => number, bl = -2, br = 2, n = 8, kl = 0, kr = 1): PwluInstance {
  const breakpoints = Array.from({ length: n + 1 }, (_, i) => bl + ((br - bl) * i) / n);
  return { bl, br, kl, kr, breakpoints, heights: breakpoints.map(f), running_mean: 0, running_std: 1 };
}

describe('learned-shape numbers', () => {
  it('ReLU, identity and a V give the numbers the definitions say', () => {
    const relu = pwluShape(instance((x) => Math.max(0, x)));
    expect([relu.slope_left, relu.slope_right, relu.non_monotonic]).toEqual([0, 1, 0]);
    expect(relu.linearity).toBeCloseTo(27 / 34, 12); // R² of the line through ReLU's 9 breakpoints on [-2, 2], by hand
    expect(relu.relu_linearity).toBeCloseTo(27 / 34, 12); // a ReLU is exactly as linear as ReLU on its own grid
    const id = pwluShape(instance((x) => x));
    expect(id.slope_left).toBeCloseTo(1, 12);
    expect(id.slope_right).toBeCloseTo(1, 12);
    expect(id.linearity).toBeCloseTo(1, 12);
    expect(id.non_monotonic).toBe(0);
    const v = pwluShape(instance((x) => Math.abs(x)));
    expect([v.slope_left, v.slope_right, v.non_monotonic]).toEqual([-1, 1, 1]);
    expect(v.linearity).toBeCloseTo(0, 12);
    expect(v.relu_linearity).toBeCloseTo(27 / 34, 12); // the reference depends on the grid only
    // ReLU on the symmetric N = 16 grid over [-3, 3]: R² 0.798 (numpy: corrcoef(x, maximum(x, 0))**2 = 0.7983425414364642).
    expect(pwluShape(instance((x) => 2 * x, -3, 3, 16)).relu_linearity).toBeCloseTo(0.7983425414364642, 12);
  });

  it('uses the outer slope on a side the bounds do not reach', () => {
    const s = pwluShape(instance((x) => 2 * x, 0.5, 3, 5, 0.3, 2));
    expect(s.slope_left).toBe(0.3);
    expect(s.slope_right).toBeCloseTo(2, 12);
  });

  it('pools each layer over seeds (mean ± std) in model order, averaging channels', () => {
    const layer = (name: string, fs: ((x: number) => number)[]): PwluLayer => ({
      name,
      n: 8,
      granularity: fs.length > 1 ? 'channel' : 'layer',
      phase: 'learning',
      stat_steps: 10,
      realigned: true,
      instances: fs.map((f) => instance(f)),
    });
    const run = (layers: PwluLayer[]) => ({ pwlu: layers }) as unknown as RunRecord;
    const runs = [
      run([layer('stem.act', [(x) => x]), layer('deep.act', [(x) => Math.abs(x)])]),
      run([layer('stem.act', [(x) => x, (x) => Math.max(0, x)]), layer('deep.act', [(x) => Math.abs(x)])]),
    ];
    const depth = shapesByDepth(runs);
    expect(depth.map((d) => [d.depth, d.layer, d.n])).toEqual([
      [0, 'stem.act', 2],
      [1, 'deep.act', 2],
    ]);
    // stem: seed 0 slope_left 1, seed 1 the mean of identity (1) and ReLU (0) = 0.5.
    expect(depth[0]!.mean.slope_left).toBeCloseTo(0.75, 12);
    expect(depth[0]!.std!.slope_left).toBeCloseTo(Math.SQRT1_2 * 0.5, 12);
    expect(depth[1]!.mean.non_monotonic).toBe(1);
    expect(shapesByDepth([run([])])).toEqual([]);
  });
});
