/**
 * Small statistics for comparing activations over seeds: mean, sample standard deviation and
 * Welch's unequal-variance t-test with the confidence interval of the difference; the Student-t distribution
 * is jStat's (a statistics library, not hand-written code), checked against SciPy's values in
 * test/report/stats.test.ts.
 */
import jstat from 'jstat';

const { jStat } = jstat;

/** Arithmetic mean; NaN for an empty sample, so a missing value never looks like a zero. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator, as numpy's ddof=1); NaN below two values. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}

/** Student-t cumulative distribution function P(T ≤ t) with `df` (real, > 0) degrees of freedom (jStat's). */
export function studentTCdf(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  return jStat.studentt.cdf(t, df);
}

/** Two-sided p-value of a t statistic: P(|T| ≥ |t|), from the lower tail (no 1 − cdf cancellation). */
export function studentTTwoSided(t: number, df: number): number {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), df));
}

/** Result of Welch's t-test; `p` is null when the test is undefined (fewer than 2 values, or zero variance). */
export interface WelchResult {
  /** mean(a) − mean(b). */
  diff: number;
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  p: number | null;
  /** The 95% confidence interval of `diff` (Welch: diff ± t(0.975, df) · SE), null where `p` is. */
  ci95: [number, number] | null;
}

/** Student-t quantile: the t with P(T ≤ t) = q, for 0 < q < 1 and real df > 0 (jStat's inverse). */
export function studentTQuantile(q: number, df: number): number {
  if (!(q > 0 && q < 1) || !(df > 0)) return NaN;
  return jStat.studentt.inv(q, df);
}

/**
 * Welch's unequal-variance two-sample t-test (scipy.stats.ttest_ind(a, b, equal_var=False), and its
 * `confidence_interval(0.95)`), the right test for seeds of two activations whose spreads need not match.
 * A non-significant p says only that the interval contains 0, not that the difference is small: the
 * interval says how large a difference the seeds still allow.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchResult {
  const diff = mean(a) - mean(b);
  if (a.length < 2 || b.length < 2) return { diff, t: NaN, df: NaN, p: null, ci95: null };
  const va = sampleStd(a) ** 2 / a.length;
  const vb = sampleStd(b) ** 2 / b.length;
  const se2 = va + vb;
  if (!(se2 > 0)) return { diff, t: NaN, df: NaN, p: null, ci95: null };
  const se = Math.sqrt(se2);
  const t = diff / se;
  const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  const half = studentTQuantile(0.975, df) * se;
  return { diff, t, df, p: studentTTwoSided(t, df), ci95: [diff - half, diff + half] };
}

/** The significance mark printed beside a difference: *, **, *** (p < 0.05, 0.01, 0.001), n.s., or n/a. */
export function significanceMark(p: number | null): string {
  if (p === null || Number.isNaN(p)) return 'n/a';
  if (p < 0.001) return '***';
  if (p < 0.01) return '**';
  if (p < 0.05) return '*';
  return 'n.s.';
}

/** A comparison of two groups of seeds (an activation against the baseline, or PWLU against Swish). */
export interface Delta {
  diff: number;
  p: number | null;
  df: number | null;
  mark: string;
  /** Welch's 95% confidence interval of `diff`; null where the test is undefined. */
  ci95: [number, number] | null;
  /** Seeds on each side: this cell's and the baseline's. */
  n: [number, number];
}

/** Welch's test of `a` against `b` as every table prints it (classification top-1 and detection AP alike); null when a side is empty. */
export function delta(a: readonly number[], b: readonly number[]): Delta | null {
  if (a.length === 0 || b.length === 0) return null;
  const w = welchTTest(a, b);
  return { diff: w.diff, p: w.p, df: Number.isFinite(w.df) ? w.df : null, mark: significanceMark(w.p), ci95: w.ci95, n: [a.length, b.length] };
}
