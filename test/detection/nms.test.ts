/**
 * NMS against a brute-force reference written here from the definition (visit boxes by decreasing
 * score, lower index first on ties; a visited box that survives suppresses every later box whose IoU
 * with it exceeds the threshold), on 200 random boxes from a seeded PRNG at several thresholds,
 * with and without ties in score; batchedNms against nms run class by class.
 */
import { describe, expect, it } from 'vitest';
import { batchedNms, nms } from '../../src/detection/nms.js';
import { Rng } from '../../src/util/rng.js';

/** IoU of boxes i and j in float64. */
function iou(b: Float32Array, i: number, j: number): number {
  const iw = Math.max(0, Math.min(b[4 * i + 2]!, b[4 * j + 2]!) - Math.max(b[4 * i]!, b[4 * j]!));
  const ih = Math.max(0, Math.min(b[4 * i + 3]!, b[4 * j + 3]!) - Math.max(b[4 * i + 1]!, b[4 * j + 1]!));
  const area = (k: number): number => (b[4 * k + 2]! - b[4 * k]!) * (b[4 * k + 3]! - b[4 * k + 1]!);
  const inter = iw * ih;
  return inter / (area(i) + area(j) - inter);
}

/** The O(n^2) definition. */
function referenceNms(boxes: Float32Array, scores: Float32Array, thr: number): number[] {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b]! > scores[a]! ? 1 : scores[b]! < scores[a]! ? -1 : a - b));
  const suppressed = new Array<boolean>(n).fill(false);
  const keep: number[] = [];
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    if (suppressed[i]) continue;
    keep.push(i);
    for (let s = r + 1; s < n; s++) if (iou(boxes, i, order[s]!) > thr) suppressed[order[s]!] = true;
  }
  return keep;
}

function randomCase(seed: number, n: number, scoreLevels = 0): { boxes: Float32Array; scores: Float32Array } {
  const rng = new Rng(seed);
  const boxes = new Float32Array(4 * n);
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (i > 0 && rng.uniform() < 0.4) {
      // A jittered copy of an earlier box, so that high thresholds have overlaps to decide.
      const j = rng.int(i);
      for (let k = 0; k < 4; k++) boxes[4 * i + k] = boxes[4 * j + k]! + 3 * (rng.uniform() - 0.5);
    } else {
      const x = 100 * rng.uniform();
      const y = 100 * rng.uniform();
      boxes.set([x, y, x + 5 + 35 * rng.uniform(), y + 5 + 35 * rng.uniform()], 4 * i);
    }
    scores[i] = scoreLevels > 0 ? rng.int(scoreLevels) / scoreLevels : rng.uniform();
  }
  return { boxes, scores };
}

describe('nms', () => {
  for (const thr of [0.1, 0.3, 0.5, 0.7, 0.9]) {
    it(`matches the brute-force reference at IoU ${thr}`, () => {
      const { boxes, scores } = randomCase(100 + thr * 10, 200);
      const want = referenceNms(boxes, scores, thr);
      const got = Array.from(nms(boxes, scores, thr));
      expect(got).toEqual(want);
      // Not a vacuous case: some boxes kept, some suppressed.
      expect(want.length).toBeGreaterThan(1);
      expect(want.length).toBeLessThan(200);
    });
  }

  it('matches the reference with many ties in score (lower index first)', () => {
    const { boxes, scores } = randomCase(7, 200, 5);
    for (const thr of [0.3, 0.5]) expect(Array.from(nms(boxes, scores, thr))).toEqual(referenceNms(boxes, scores, thr));
  });

  it('keeps the lower index of two identical boxes with equal scores, and suppresses only above the threshold', () => {
    const boxes = Float32Array.from([0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30]);
    expect(Array.from(nms(boxes, Float32Array.from([0.5, 0.5, 0.9]), 0.5))).toEqual([2, 0]);
    // IoU of [0,0,2,1] and [1,0,3,1] is 1/3: kept at threshold 1/3 (not strictly above), suppressed below.
    const pair = Float32Array.from([0, 0, 2, 1, 1, 0, 3, 1]);
    expect(Array.from(nms(pair, Float32Array.from([0.9, 0.8]), 1 / 3))).toEqual([0, 1]);
    expect(Array.from(nms(pair, Float32Array.from([0.8, 0.9]), 0.3))).toEqual([1]);
    expect(nms(new Float32Array(0), new Float32Array(0), 0.5).length).toBe(0);
  });
});

describe('batchedNms', () => {
  it('equals nms run per class, merged by decreasing score', () => {
    for (const [seed, levels] of [
      [3, 0],
      [4, 4],
    ] as const) {
      const { boxes, scores } = randomCase(seed, 200, levels);
      const rng = new Rng(seed + 1000);
      const labels = Int32Array.from({ length: 200 }, () => rng.int(4));
      for (const thr of [0.3, 0.5]) {
        const want: number[] = [];
        for (let c = 0; c < 4; c++) {
          const idx = Array.from({ length: 200 }, (_, i) => i).filter((i) => labels[i] === c);
          const sub = Float32Array.from(idx.flatMap((i) => Array.from(boxes.subarray(4 * i, 4 * i + 4))));
          const kept = referenceNms(sub, Float32Array.from(idx.map((i) => scores[i]!)), thr);
          want.push(...kept.map((k) => idx[k]!));
        }
        want.sort((a, b) => (scores[b]! > scores[a]! ? 1 : scores[b]! < scores[a]! ? -1 : a - b));
        const got = Array.from(batchedNms(boxes, scores, labels, thr));
        expect(got).toEqual(want);
        // Classes matter: per-class NMS keeps more than class-blind NMS here.
        expect(got.length).toBeGreaterThan(nms(boxes, scores, thr).length);
      }
    }
  });
});
