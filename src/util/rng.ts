/**
 * Seeded pseudo-random numbers: xoshiro128** seeded through splitmix32.
 *
 * Everything random in pwlu (data subsets, shuffles, augmentation, synthetic data) draws from an
 * `Rng` whose seed is derived with `deriveSeed`, so a run is reproducible from its config seed and
 * a resumed run can rebuild exactly the stream it would have had.
 */

const TWO_POW_32 = 4294967296;

/** splitmix32 step: returns [output, nextState]. Used to expand one 32-bit seed into a full state. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z = (z ^ (z >>> 16)) >>> 0;
  return [z, next];
}

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Hash-mixes integers into one 32-bit seed, so `deriveSeed(seed, epoch, batch)` names an independent stream. */
export function deriveSeed(...parts: number[]): number {
  let h = fmix32((0x3c6ef372 ^ parts.length) >>> 0);
  for (const p of parts) {
    if (!Number.isFinite(p) || !Number.isInteger(p)) {
      throw new RangeError(`deriveSeed: parts must be finite integers, got ${p}`);
    }
    // Fold in both 32-bit halves so values up to 2^53 (and negatives) are all distinct inputs.
    const lo = p >>> 0;
    const hi = Math.floor(p / TWO_POW_32) >>> 0;
    h = fmix32((h ^ lo) >>> 0);
    h = (Math.imul(h, 0x9e3779b1) + 0x7f4a7c15) >>> 0;
    h = fmix32((h ^ hi) >>> 0);
  }
  return h;
}

/** A small, fast, seeded PRNG (xoshiro128**) whose whole state is four 32-bit words. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed) || !Number.isInteger(seed)) {
      throw new RangeError(`Rng seed must be a finite integer, got ${seed}`);
    }
    let st = deriveSeed(seed);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [out, next] = splitmix32(st);
      words.push(out);
      st = next;
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** Unbiased integer in [0, n), n a positive integer up to 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Rejection sampling: discard the top partial block so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal sample (Box–Muller; no cached spare, so the state stays four words). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(a: T[] | Int32Array): void {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i]!;
      a[i] = a[j]!;
      a[j] = tmp;
    }
  }

  /** The full state, for checkpoints; `Rng.fromState` restores it exactly. */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** Rebuilds a generator from `getState()` output. */
  static fromState(s: number[]): Rng {
    if (s.length !== 4 || s.some((w) => !Number.isInteger(w) || w < 0 || w >= TWO_POW_32)) {
      throw new RangeError('Rng.fromState: expected four unsigned 32-bit integers');
    }
    if (s.every((w) => w === 0)) throw new RangeError('Rng.fromState: the all-zero state is invalid');
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = s as [number, number, number, number];
    return r;
  }
}
