/**
 * A few numbers per learned PWLU, so the paper's finding (shallow layers learn near-linear shapes,
 * deep layers V-like ones) can be checked layer by layer and pooled over seeds:
 *
 * - `slope_left`, `slope_right`: the mean slope of the learned function left and right of 0 inside its
 *   bounds [B_L, B_R] (segments weighted by length; where the bounds do not reach across 0, the outer
 *   slope K_L or K_R on that side). ReLU: 0 and 1; identity: 1 and 1; a V: negative and positive.
 * - `linearity`: R² of the least-squares line through the breakpoints (1 = a straight line).
 * - `relu_linearity`: the same R² for ReLU on the same breakpoints, the reference `linearity` must be read
 *   against: ReLU on a grid is not a straight line (R² 0.80 on the symmetric N = 16 grid over [−3, 3], higher on
 *   bounds that reach further right than left), so "more linear" means above this, not merely near 1.
 * - `non_monotonic`: 1 − |f(B_R) − f(B_L)| / total variation over the breakpoints (0 = monotonic, near 1 = a
 *   symmetric V or a bump).
 * Channel-wise PWLUs are averaged over their channels.
 */
import type { PwluInstance, PwluLayer, RunRecord } from './collect.js';
import { mean, sampleStd } from './stats.js';

/** The shape numbers of one learned function. */
export interface ShapeNumbers {
  slope_left: number;
  slope_right: number;
  linearity: number;
  non_monotonic: number;
  relu_linearity: number;
}

const KEYS = ['slope_left', 'slope_right', 'linearity', 'non_monotonic', 'relu_linearity'] as const;

/** R² of the least-squares line through the points (xs, ys); 1 for a constant or degenerate set. */
function rSquared(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i]! - my);
    sxx += (x - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  });
  return syy > 0 && sxx > 0 ? (sxy * sxy) / (sxx * syy) : 1;
}

/** The shape numbers of one PWLU instance (its breakpoints, heights and outer slopes). */
export function pwluShape(q: PwluInstance): ShapeNumbers {
  const xs = q.breakpoints;
  const ys = q.heights;
  let left = 0;
  let leftW = 0;
  let right = 0;
  let rightW = 0;
  let variation = 0;
  for (let i = 0; i + 1 < xs.length; i++) {
    const w = xs[i + 1]! - xs[i]!;
    if (!(w > 0)) continue;
    const slope = (ys[i + 1]! - ys[i]!) / w;
    variation += Math.abs(ys[i + 1]! - ys[i]!);
    const mid = (xs[i]! + xs[i + 1]!) / 2;
    if (mid < 0) {
      left += slope * w;
      leftW += w;
    } else {
      right += slope * w;
      rightW += w;
    }
  }
  const net = Math.abs(ys[ys.length - 1]! - ys[0]!);
  return {
    slope_left: leftW > 0 ? left / leftW : q.kl,
    slope_right: rightW > 0 ? right / rightW : q.kr,
    linearity: rSquared(xs, ys),
    non_monotonic: variation > 0 ? 1 - net / variation : 0,
    relu_linearity: rSquared(
      xs,
      xs.map((x) => Math.max(0, x)),
    ),
  };
}

/** One layer's numbers pooled over seeds: mean ± std (n seeds) of each. */
export interface LayerShapes {
  depth: number;
  layer: string;
  n: number;
  mean: ShapeNumbers;
  std: ShapeNumbers | null;
}

/** A layer's numbers averaged over its instances (channels). */
function layerShape(l: PwluLayer): ShapeNumbers | null {
  if (l.instances.length === 0) return null;
  const each = l.instances.map(pwluShape);
  return Object.fromEntries(KEYS.map((k) => [k, mean(each.map((s) => s[k]))])) as unknown as ShapeNumbers;
}

/**
 * The learned shapes of one arch × activation cell by depth (the layers' order in activations.json,
 * which is the model's), pooled over its finished runs.
 */
export function shapesByDepth(runs: readonly RunRecord[]): LayerShapes[] {
  const withLayers = runs.filter((r) => r.pwlu.length > 0);
  if (withLayers.length === 0) return [];
  const names = withLayers[0]!.pwlu.map((l) => l.name);
  return names.map((name, depth) => {
    const per = withLayers
      .map((r) => r.pwlu.find((l) => l.name === name))
      .map((l) => (l ? layerShape(l) : null))
      .filter((s): s is ShapeNumbers => s !== null);
    const pick = (f: (v: number[]) => number) => Object.fromEntries(KEYS.map((k) => [k, f(per.map((s) => s[k]))])) as unknown as ShapeNumbers;
    return { depth, layer: name, n: per.length, mean: pick(mean), std: per.length > 1 ? pick(sampleStd) : null };
  });
}
