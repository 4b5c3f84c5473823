import { describe, expect, it } from 'vitest';
import { channelStats, makeSynthetic } from '../../src/data/synthetic.js';
import type { Split } from '../../src/data/types.js';

const SPEC = { train: 256, test: 128, size: 16, channels: 3, classes: 4 };

/** Nearest-class-mean accuracy on test, with means fitted on train: a crude learnability check. */
function nearestMeanAccuracy(train: Split, test: Split, classes: number, per: number): number {
  const means = Array.from({ length: classes }, () => new Float64Array(per));
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < train.n; i++) {
    const c = train.labels[i]!;
    counts[c]!++;
    for (let p = 0; p < per; p++) means[c]![p]! += train.images[i * per + p]!;
  }
  means.forEach((m, c) => m.forEach((v, p) => (m[p] = v / counts[c]!)));
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let c = 0; c < classes; c++) {
      let d = 0;
      for (let p = 0; p < per; p++) d += (test.images[i * per + p]! - means[c]![p]!) ** 2;
      if (d < bestD) [bestD, best] = [d, c];
    }
    if (best === test.labels[i]) correct++;
  }
  return correct / test.n;
}

describe('synthetic dataset', () => {
  it('has the configured shapes, balanced labels and consistent stats', () => {
    const d = makeSynthetic(SPEC);
    expect([d.height, d.width, d.channels, d.numClasses]).toEqual([16, 16, 3, 4]);
    expect(d.train.n).toBe(256);
    expect(d.test.n).toBe(128);
    expect(d.train.images.length).toBe(256 * 16 * 16 * 3);
    const hist = [0, 0, 0, 0];
    for (const l of d.train.labels) hist[l]!++;
    expect(hist).toEqual([64, 64, 64, 64]);
    expect(d.flipOk).toBe(false);
    expect(d.source).toBe('synthetic');
    expect(d.mean).toHaveLength(3);
    expect(d.std.every((s) => s > 0.05)).toBe(true);
    expect(channelStats(d.train, 3)).toEqual({ mean: d.mean, std: d.std });
  });

  it('is deterministic and does not depend on anything but the spec (and an explicit seed)', () => {
    const a = makeSynthetic(SPEC);
    const b = makeSynthetic(SPEC);
    expect(Buffer.from(a.train.images).equals(Buffer.from(b.train.images))).toBe(true);
    expect(Array.from(a.test.labels)).toEqual(Array.from(b.test.labels));
    const c = makeSynthetic(SPEC, 123);
    expect(Buffer.from(a.train.images).equals(Buffer.from(c.train.images))).toBe(false);
    // train and test are different draws
    expect(Buffer.from(a.train.images.subarray(0, 768)).equals(Buffer.from(a.test.images.subarray(0, 768)))).toBe(false);
  });

  it.each([
    { channels: 3, classes: 4 },
    { channels: 1, classes: 10 },
  ])('is learnable: nearest class mean beats chance clearly ($channels ch, $classes classes)', ({ channels, classes }) => {
    const spec = { train: 40 * classes, test: 20 * classes, size: 12, channels, classes };
    const d = makeSynthetic(spec);
    const acc = nearestMeanAccuracy(d.train, d.test, classes, 12 * 12 * channels);
    expect(acc).toBeGreaterThan(Math.min(0.9, 3 / classes));
  });
});
