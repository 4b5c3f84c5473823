import { describe, expect, it } from 'vitest';
import { mean, sampleStd, significanceMark, studentTCdf, studentTQuantile, welchTTest } from '../../src/report/stats.js';

// Reference numbers from SciPy 1.17.1: scipy.stats.ttest_ind(a, b, equal_var=False) and scipy.stats.t.cdf.
// jStat's incomplete beta agrees to about 1e-9 relative, plenty for p-values.

function close(actual: number, expected: number, rel = 1e-9): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(Math.abs(expected), 1e-300));
}

describe('statistics', () => {
  it('mean and sample standard deviation', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    close(sampleStd([1, 2, 3, 4]), Math.sqrt(5 / 3));
    expect(Number.isNaN(mean([]))).toBe(true);
    expect(Number.isNaN(sampleStd([1]))).toBe(true);
  });

  it('Student-t CDF matches SciPy, including fractional degrees of freedom and far tails', () => {
    close(studentTCdf(2.0, 3), 0.9303370157205785);
    close(studentTCdf(-1.5, 7.5), 0.08724028529323204);
    close(studentTCdf(0.3, 1), 0.5927735790777423);
    close(studentTCdf(4.0, 30), 0.9998090771819581);
    close(studentTCdf(10, 2.2), 0.9964477681448708);
    close(studentTCdf(-25, 5), 9.55338892197712e-7, 1e-9);
    expect(studentTCdf(0, 4)).toBeCloseTo(0.5, 14);
  });

  it("Welch's t-test matches scipy.stats.ttest_ind(equal_var=False)", () => {
    const cases: [number[], number[], number, number, number][] = [
      [[91.2, 91.5, 91.1], [90.8, 90.9, 91.0], 2.7499999999999236, 0.07414349300099622, 2.876404494382031],
      [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10, 12], -2.3763541031440183, 0.04928433820673053, 6.9722557297949335],
      [[71.3, 71.9], [70.1, 70.4, 70.2], 4.370614685289924, 0.11460987710013142, 1.1759167868802747],
      [[0.5, 0.6, 0.55, 0.52], [0.5, 0.61, 0.56, 0.51], -0.07488308644489611, 0.9427961258223394, 5.865546849917687],
    ];
    for (const [a, b, t, p, df] of cases) {
      const r = welchTTest(a, b);
      close(r.t, t, 1e-10);
      close(r.df, df, 1e-10);
      close(r.p!, p, 1e-8);
    }
  });

  it("gives Welch's 95% confidence interval of the difference as scipy's ttest_ind(...).confidence_interval(0.95)", () => {
    const cases: [number[], number[], number, number][] = [
      [[91.2, 91.5, 91.1], [90.8, 90.9, 91.0], -0.06816299014157584, 0.801496323474896],
      [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10, 12], -7.98346869562883, -0.016531304371169675],
      [[71.3, 71.9], [70.1, 70.4, 70.2], -1.4438687189661943, 4.177202052299514],
    ];
    for (const [a, b, lo, hi] of cases) {
      // jStat's t quantile agrees with SciPy's to about 1e-10 relative: compare the bounds to 1e-8 of the width.
      const ci = welchTTest(a, b).ci95!;
      expect(Math.abs(ci[0] - lo)).toBeLessThanOrEqual(1e-8 * (hi - lo));
      expect(Math.abs(ci[1] - hi)).toBeLessThanOrEqual(1e-8 * (hi - lo));
    }
    close(studentTQuantile(0.975, 2.876404494382031), 3.261222426061737, 1e-9);
    expect(welchTTest([1], [1, 2]).ci95).toBeNull();
    expect(welchTTest([1, 1], [1, 1]).ci95).toBeNull();
  });

  it('is undefined (p null) with fewer than two values or zero variance, and marks significance', () => {
    expect(welchTTest([1], [1, 2]).p).toBeNull();
    expect(welchTTest([1, 1], [1, 1]).p).toBeNull();
    expect(significanceMark(null)).toBe('n/a');
    expect(significanceMark(0.0004)).toBe('***');
    expect(significanceMark(0.004)).toBe('**');
    expect(significanceMark(0.04)).toBe('*');
    expect(significanceMark(0.2)).toBe('n.s.');
  });
});
