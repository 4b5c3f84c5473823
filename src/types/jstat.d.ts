// The part of jStat (https://github.com/jstat/jstat; no bundled types) that src/report/stats.ts uses.
declare module 'jstat' {
  export const jStat: {
    studentt: {
      /** P(T ≤ t) for Student's t with dof (real, > 0) degrees of freedom. */
      cdf(t: number, dof: number): number;
    };
  };
}
