import { describe, expect, it } from 'vitest';
import { deriveSeed, Rng } from '../../src/util/rng.js';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.nextU32());
    const sb = Array.from({ length: 8 }, () => b.nextU32());
    const sc = Array.from({ length: 8 }, () => c.nextU32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
    for (const v of sa) expect(Number.isInteger(v) && v >= 0 && v < 2 ** 32).toBe(true);
  });

  it('keeps producing the same stream across versions (golden values)', () => {
    // Pinned so that a change to the generator (which would silently change every run's data order) is noticed.
    const r = new Rng(0);
    expect([r.nextU32(), r.nextU32(), r.nextU32()]).toEqual(GOLDEN_RNG0);
    expect(deriveSeed(1, 2, 3)).toBe(GOLDEN_DERIVE);
  });

  it('matches the xoshiro128** reference output for state [1, 2, 3, 4]', () => {
    // Reference: the C implementation at https://prng.di.unimi.it/xoshiro128starstar.c
    const r = Rng.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => r.nextU32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('restores exactly from getState()', () => {
    const r = new Rng(7);
    for (let i = 0; i < 100; i++) r.nextU32();
    const state = r.getState();
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
    const s = Rng.fromState(state);
    for (let i = 0; i < 50; i++) expect(s.nextU32()).toBe(r.nextU32());
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow();
    expect(() => Rng.fromState([1, 2, 3])).toThrow();
  });

  it('uniform is in [0,1) with mean 1/2; int(n) is in range and roughly uniform', () => {
    const r = new Rng(1);
    let sum = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(Math.abs(sum / N - 0.5)).toBeLessThan(0.01);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[r.int(7)]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(1.5)).toThrow(RangeError);
    expect(r.int(1)).toBe(0);
  });

  it('normal() has mean ~0 and variance ~1', () => {
    const r = new Rng(2);
    const N = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < N; i++) {
      const v = r.normal();
      expect(Number.isFinite(v)).toBe(true);
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / N)).toBeLessThan(0.03);
    expect(Math.abs(s2 / N - 1)).toBeLessThan(0.05);
  });

  it('shuffle is a deterministic permutation for arrays and Int32Array', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    const b = Int32Array.from(a);
    new Rng(3).shuffle(a);
    new Rng(3).shuffle(b);
    expect(Array.from(b)).toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('deriveSeed', () => {
  it('is order-sensitive, length-sensitive and spreads nearby inputs', () => {
    const seen = new Set<number>();
    for (let a = 0; a < 20; a++) for (let b = 0; b < 20; b++) seen.add(deriveSeed(a, b));
    expect(seen.size).toBe(400);
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 1));
    expect(deriveSeed(1)).not.toBe(deriveSeed(1, 0));
    expect(deriveSeed(5, -1)).not.toBe(deriveSeed(5, 2 ** 32 - 1));
    expect(deriveSeed(5, 2 ** 33)).not.toBe(deriveSeed(5, 0));
    expect(() => deriveSeed(1.5)).toThrow(RangeError);
  });

  it('gives independent-looking streams for consecutive batch indices', () => {
    const first = Array.from({ length: 100 }, (_, k) => new Rng(deriveSeed(0, 0, k)).uniform());
    const mean = first.reduce((x, y) => x + y, 0) / first.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.1);
    expect(new Set(first).size).toBe(100);
  });
});

const GOLDEN_RNG0 = [2203576034, 850332249, 1911285929];
const GOLDEN_DERIVE = 1052845416;
