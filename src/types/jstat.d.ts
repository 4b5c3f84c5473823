// The part of jStat (https://github.com/jstat/jstat; no bundled types) that src/report/stats.ts uses.
// jstat is a CommonJS module: Node's ESM loader gives its exports as the default import.
declare module 'jstat' {
  const jstat: {
    jStat: {
      studentt: {
        /** P(T ≤ t) for Student's t with dof (real, > 0) degrees of freedom. */
        cdf(t: number, dof: number): number;
        /** The t with P(T ≤ t) = p (the quantile function). */
        inv(p: number, dof: number): number;
      };
    };
  };
  export default jstat;
}
