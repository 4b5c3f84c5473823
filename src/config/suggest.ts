/** "Did you mean …?" helpers for unknown config keys. */

/** Optimal-string-alignment (restricted Damerau-Levenshtein) distance, so a swapped pair of letters costs 1. */
export function editDistance(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  // Three rolling rows: i-2, i-1, i.
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    for (let j = 1; j <= m; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m]!;
}

/** Lower-cases and drops `_`/`-` so `warmupEpochs` and `warmup-epochs` match `warmup_epochs`. */
function normalise(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}

/** Candidates close enough to `key` to be a plausible typo of it, best first (ties keep input order). */
export function closeKeys(key: string, candidates: readonly string[], keyOf: (c: string) => string = (c) => c): string[] {
  const nk = normalise(key);
  const scored: { c: string; d: number; i: number }[] = [];
  candidates.forEach((c, i) => {
    const nc = normalise(keyOf(c));
    const d = nc === nk ? 0 : editDistance(nk, nc);
    const limit = Math.max(1, Math.floor(Math.max(nk.length, nc.length) / 3));
    // `d < length` keeps one-letter keys from "matching" every other one-letter key.
    if (d <= limit && d < Math.min(nk.length, nc.length)) scored.push({ c, d, i });
  });
  return scored.sort((a, b) => a.d - b.d || a.i - b.i).map((s) => s.c);
}

/** The candidate closest to `key`, or null when none is close enough to be a plausible typo. */
export function closestKey(key: string, candidates: readonly string[]): string | null {
  return closeKeys(key, candidates)[0] ?? null;
}
