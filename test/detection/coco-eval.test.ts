/**
 * COCO's detection metrics (src/detection/coco-eval.ts) against values worked out by hand from pycocotools'
 * cocoeval.py: perfect detections, a false positive ranked above a true one, crowd regions, area ranges, maxDets
 * truncation, categories without ground truth, ties in score, IoU threshold boundaries, no detections, images
 * without detections. Then seeded random sets against numbers pycocotools printed, and (where /usr/bin/python3 has
 * pycocotools) against pycocotools itself.
 *
 * Hand arithmetic uses COCO's own conventions: precision is tp / (tp + fp + eps) with eps = np.spacing(1) = 2^-52,
 * so a lone true positive has precision 1 / (1 + 2^-52) = 1 - 2^-52 (written ONE below), while 1 / (2 + eps) is
 * exactly 1/2 and 2 / (3 + eps) exactly 2/3 (eps is half an ulp there and rounds away); precision is made
 * monotone from the right and read at the 101 recall points r / 100 at the first rank whose recall is >= r / 100
 * (0 past the last rank); AP is the mean over 10 IoU thresholds x 101 recall points x the categories that have a
 * non-crowd ground truth in the area range.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  COCO_IOU_THRESHOLDS,
  COCO_METRICS,
  COCO_RECALL_THRESHOLDS,
  cocoEvaluate,
  type CocoDetection,
  type CocoGroundTruth,
  type CocoStats,
} from '../../src/detection/coco-eval.js';
import { DataError } from '../../src/util/errors.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

type Box = [number, number, number, number];
interface Gt {
  box: Box;
  img?: number;
  cat?: number;
  area?: number;
  crowd?: boolean;
  id?: number;
}

/** A ground truth in COCO json: images and categories by id, annotation ids 1.. unless given, area = w * h unless given. */
function groundTruth(gts: Gt[], images: number[] = [1], categories: number[] = [1]): CocoGroundTruth {
  return {
    images: images.map((id) => ({ id })),
    categories: categories.map((id) => ({ id })),
    annotations: gts.map((g, n) => ({
      id: g.id ?? n + 1,
      image_id: g.img ?? 1,
      category_id: g.cat ?? 1,
      bbox: g.box,
      area: g.area ?? g.box[2] * g.box[3],
      iscrowd: g.crowd ? 1 : 0,
    })),
  };
}

function det(box: Box, score: number, img = 1, cat = 1): CocoDetection {
  return { image_id: img, category_id: cat, bbox: box, score };
}

function expectStats(s: CocoStats, want: Partial<CocoStats>): void {
  for (const [k, v] of Object.entries(want) as [keyof CocoStats, number][]) {
    expect(s[k], k).toBeCloseTo(v, 12);
  }
}

describe('COCO thresholds', () => {
  it("are numpy's linspace values, printed by numpy 1.24 (not 0.5 + 0.05 i, which differs at 0.85 and 0.9)", () => {
    expect(Array.from(COCO_IOU_THRESHOLDS)).toEqual([0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
    expect(COCO_RECALL_THRESHOLDS.length).toBe(101);
    expect([0, 35, 41, 50, 57, 100].map((r) => COCO_RECALL_THRESHOLDS[r])).toEqual([0, 0.35000000000000003, 0.41000000000000003, 0.5, 0.5700000000000001, 1]);
  });
});

describe('cocoEvaluate on hand-built cases', () => {
  it('perfect detections give AP 1 everywhere and AR10, AR100 1 (AR1 worked out), on two images, two categories, all sizes', () => {
    const gt = groundTruth(
      [
        { box: [10, 10, 20, 20], img: 1, cat: 1 }, // area 400: small
        { box: [50, 50, 60, 60], img: 1, cat: 1 }, // 3600: medium
        { box: [0, 0, 120, 100], img: 1, cat: 2 }, // 12000: large
        { box: [5, 5, 40, 40], img: 2, cat: 2 }, // 1600: medium
        { box: [100, 100, 200, 150], img: 2, cat: 1 }, // 30000: large
      ],
      [1, 2],
      [1, 2],
    );
    const dets = gt.annotations.map((a, n) => det(a.bbox, 0.9 - 0.1 * n, a.image_id, a.category_id));
    const s = cocoEvaluate(gt, dets);
    expectStats(s, Object.fromEntries(COCO_METRICS.filter((k) => k !== 'AR1').map((k) => [k, 1])));
    // maxDets 1 keeps one detection per image and category: category 1 finds 2 of its 3 boxes (image 1 has two),
    // category 2 both of its 2: AR1 = (2/3 + 1) / 2.
    expect(s.AR1).toBeCloseTo(5 / 6, 12);
  });

  it('a false positive ranked above the true one halves AP for a single ground truth', () => {
    // Ranks FP, TP: precision [0, 1/2], recall [0, 1]; monotone [1/2, 1/2]; every recall point reads 1/2.
    const gt = groundTruth([{ box: [0, 0, 10, 10] }]);
    const s = cocoEvaluate(gt, [det([50, 50, 10, 10], 0.9), det([0, 0, 10, 10], 0.8)]);
    expect(s.AP).toBe(0.5);
    expect(s.AP50).toBe(0.5);
    expect(s.AP75).toBe(0.5);
    expect(s.APs).toBe(0.5); // the ground truth (area 100) is small; both detections too
    expect(s.APm).toBe(-1); // no medium or large ground truth: nothing to evaluate
    expect(s.APl).toBe(-1);
    expect(s.AR1).toBe(0); // maxDets 1 keeps only the false positive
    expect(s.AR10).toBe(1);
    expect(s.AR100).toBe(1);
    expect([s.ARs, s.ARm, s.ARl]).toEqual([1, -1, -1]);
  });

  it('interpolates precision at 101 recall points (TP, FP, TP with two ground truths)', () => {
    // Precision [ONE, 1/2, 2/3], recall [1/2, 1/2, 1]; monotone [ONE, 2/3, 2/3]. Recall points 0.00..0.50 (51 of
    // them) read rank 0, 0.51..1.00 (50) read rank 2: AP = (51 ONE + 50 * 2/3) / 101 = 253/303 at every threshold.
    const gt = groundTruth([{ box: [0, 0, 10, 10] }, { box: [100, 0, 10, 10] }]);
    const s = cocoEvaluate(gt, [det([0, 0, 10, 10], 0.9), det([50, 50, 10, 10], 0.8), det([100, 0, 10, 10], 0.7)]);
    expectStats(s, { AP: 253 / 303, AP50: 253 / 303, AP75: 253 / 303, AR1: 0.5, AR10: 1, AR100: 1 });
  });

  it('a detection inside a crowd region is neither a true nor a false positive, and a crowd region matches many', () => {
    // Crowd IoU is intersection over the detection's own area: 100 / 100 = 1 for both boxes inside the region, so
    // both match the (ignored) crowd ground truth and are ignored; the third detection is the only positive.
    const gts: Gt[] = [{ box: [0, 0, 10, 10] }, { box: [20, 0, 40, 40], crowd: true }];
    const dets = [det([25, 5, 10, 10], 0.9), det([30, 10, 10, 10], 0.85), det([0, 0, 10, 10], 0.8)];
    const s = cocoEvaluate(groundTruth(gts), dets);
    expectStats(s, { AP: 1, AP50: 1, AP75: 1, AR10: 1, AR100: 1 });
    // An ignored detection still takes the single slot of maxDets 1: recall 0.
    expect(s.AR1).toBe(0);
    // Control: the same region as a regular ground truth. Two ground truths, ranks FP, FP, TP: precision 1/3 at
    // recall 1/2 and nothing beyond, so recall points 0..0.50 read 1/3: AP = 51 / 3 / 101 = 17/101.
    const regular = cocoEvaluate(groundTruth([gts[0]!, { box: [20, 0, 40, 40] }]), dets);
    expect(regular.AP).toBeCloseTo(17 / 101, 12);
  });

  it('a detection prefers a regular ground truth to a crowd region it overlaps more, and stops there', () => {
    // IoU with the regular box: 62.5 / 100 = 0.625; with the crowd region: 62.5 / 62.5 = 1. At thresholds 0.5, 0.55,
    // 0.6 it matches the regular box (true positive, precision ONE); from 0.65 on only the crowd region is left and
    // it is ignored, the regular box stays unmatched: precision 0. AP = 3/10, AR = 3/10.
    const gt = groundTruth([{ box: [0, 0, 10, 10] }, { box: [0, 0, 100, 100], crowd: true }]);
    const s = cocoEvaluate(gt, [det([0, 0, 10, 6.25], 0.9)]);
    expectStats(s, { AP: 0.3, AP50: 1, AP75: 0, AR100: 0.3 });
  });

  it('area ranges: small, medium and large are evaluated independently, out-of-range unmatched detections ignored', () => {
    const gt = groundTruth([
      { box: [0, 0, 10, 10] }, // S, area 100: small
      { box: [100, 0, 50, 40] }, // M, area 2000: medium
      { box: [200, 0, 100, 100] }, // L, area 10000: large
    ]);
    const dets = [
      det([400, 400, 8, 8], 0.95), // a small false positive (area 64)
      det([100, 0, 50, 40], 0.9), // M exactly
      det([0, 0, 10, 10], 0.5), // S exactly
      det([200, 0, 100, 70], 0.3), // L with IoU 7000 / 10000 = 0.7; its own area 7000 is medium
    ];
    const s = cocoEvaluate(gt, dets);
    // small: M and L are ignored ground truths, the detections matching them ignored; ranks FP, TP -> 1/2.
    expect(s.APs).toBe(0.5);
    expect(s.ARs).toBe(1);
    // medium: the small false positive is unmatched and outside [32^2, 96^2]: ignored, so M's match ranks first.
    // Above IoU 0.7 the L detection is unmatched with area 7000 (medium): a false positive, but after full recall.
    expect(s.APm).toBeCloseTo(1, 12);
    expect(s.ARm).toBe(1);
    // large: the L detection is a true positive at 0.5..0.7 (5 thresholds) and, unmatched above, outside the large
    // range, so ignored: AP 5/10, AR 5/10.
    expect(s.APl).toBeCloseTo(0.5, 12);
    expect(s.ARl).toBeCloseTo(0.5, 12);
    // all: at 0.5..0.7 ranks FP, TP, TP, TP (3 ground truths): precision [0, 1/2, 2/3, 3/4], monotone 3/4 everywhere.
    // Above 0.7: FP, TP, TP, FP: monotone [2/3, 2/3, 2/3, 1/2], recall [0, 1/3, 2/3, 2/3]; recall points 0..0.66
    // (67) read 2/3, the rest 0: 134/303.
    expect(s.AP50).toBe(0.75);
    expect(s.AP75).toBeCloseTo(134 / 303, 12);
    expect(s.AP).toBeCloseTo((5 * 0.75 + 5 * (134 / 303)) / 10, 12);
    expect(s.AR100).toBeCloseTo((5 * 1 + 5 * (2 / 3)) / 10, 12);
  });

  it("area ranges read the annotation's area field, not its box", () => {
    // A 40 x 40 box (1600, medium by its box) whose mask area is 900: a small object for COCO.
    const s = cocoEvaluate(groundTruth([{ box: [0, 0, 40, 40], area: 900 }]), [det([0, 0, 40, 40], 0.9)]);
    expectStats(s, { APs: 1, ARs: 1 });
    expect([s.APm, s.APl, s.ARm, s.ARl]).toEqual([-1, -1, -1, -1]);
  });

  it('maxDets: the right box ranked second counts for AR10, not AR1, per image and category', () => {
    const gt = groundTruth(
      [
        { box: [0, 0, 20, 20], cat: 1 },
        { box: [0, 0, 20, 20], cat: 2 },
      ],
      [1],
      [1, 2],
    );
    // Each category: a false positive first, the right box second. maxDets counts per (image, category), so
    // maxDets 1 keeps each category's false positive: AR1 = 0; AR10 = 1.
    const dets = [det([100, 100, 20, 20], 0.9, 1, 1), det([0, 0, 20, 20], 0.8, 1, 1), det([100, 100, 20, 20], 0.9, 1, 2), det([0, 0, 20, 20], 0.8, 1, 2)];
    const s = cocoEvaluate(gt, dets);
    expect([s.AR1, s.AR10, s.AR100]).toEqual([0, 1, 1]);
    expect(s.AP).toBe(0.5);
    // maxDets [1, 2, 1]: sorted to [1, 1, 2]. AP50 uses maxDets[2] = 2 (FP, TP): 1/2. AR10 becomes maxDets[1] = 1: 0.
    // AP (COCO's stats[0]) looks for maxDets == 100, which is not there: -1, as COCO reports.
    const t = cocoEvaluate(gt, dets, { maxDets: [1, 2, 1] });
    expect([t.AP50, t.AR1, t.AR10, t.AR100]).toEqual([0.5, 0, 0, 1]);
    expect(t.AP).toBe(-1);
  });

  it('a category without ground truth is left out of the mean, whatever its detections', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10], cat: 1 }], [1], [1, 2, 3]);
    const dets = [
      det([0, 0, 10, 10], 0.5, 1, 1),
      det([0, 0, 10, 10], 0.9, 1, 2), // category 2 has no ground truth: -1, excluded, its false positives cost nothing
      det([30, 30, 10, 10], 0.95, 1, 2),
      det([0, 0, 10, 10], 0.99, 1, 42), // not a category of the ground truth: not evaluated
    ];
    const s = cocoEvaluate(gt, dets);
    expectStats(s, { AP: 1, AP50: 1, AP75: 1, APs: 1, AR1: 1, AR10: 1, AR100: 1 });
    // Category 3's only ground truth is a crowd region: no non-ignored ground truth, so excluded too.
    const crowd = groundTruth(
      [
        { box: [0, 0, 10, 10], cat: 1 },
        { box: [0, 0, 50, 50], cat: 3, crowd: true },
      ],
      [1],
      [1, 3],
    );
    expectStats(cocoEvaluate(crowd, [det([0, 0, 10, 10], 0.5, 1, 1), det([60, 60, 5, 5], 0.9, 1, 3)]), { AP: 1, AR100: 1 });
  });

  it('ties in score keep the detections in the order COCO gives them (stable sort)', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10] }]);
    const fp = det([50, 50, 10, 10], 0.9);
    const tp = det([0, 0, 10, 10], 0.9);
    // Same image, equal scores: the one listed first ranks first. FP, TP -> 1/2; TP, FP -> ONE (an FP after full
    // recall does not count).
    expect(cocoEvaluate(gt, [fp, tp]).AP).toBe(0.5);
    expect(cocoEvaluate(gt, [tp, fp]).AP).toBeCloseTo(1, 12);
    // Across images COCO concatenates images in sorted id order before its stable sort, so the tie goes to the
    // lower image id, not to the order of the list. Image 1: FP (0.9), TP (0.5); image 2: TP (0.9), listed first.
    // Ranks FP(1), TP(2), TP(1): precision [0, 1/2, 2/3], recall [0, 1/2, 1], monotone 2/3 everywhere: AP 2/3.
    // (The list order would give TP, FP, TP: 253/303.)
    const two = groundTruth(
      [
        { box: [0, 0, 10, 10], img: 1 },
        { box: [0, 0, 10, 10], img: 2 },
      ],
      [1, 2],
    );
    const s = cocoEvaluate(two, [det([0, 0, 10, 10], 0.9, 2), det([50, 50, 10, 10], 0.9, 1), det([0, 0, 10, 10], 0.5, 1)]);
    expect(s.AP).toBeCloseTo(2 / 3, 12);
  });

  it('equal scores in one image also decide which detection takes a ground truth', () => {
    // A (IoU 0.6) is listed before B (IoU 0.8), equal scores. At 0.5..0.6 (3 thresholds) A takes the ground truth and
    // B is a false positive after it: AP_t = ONE. At 0.65..0.8 (4) A is a false positive ranked first, B the true
    // positive: 1/2. Above 0.8 (3) both are false positives: 0. AP = (3 + 4 / 2) / 10 = 1/2.
    const gt = groundTruth([{ box: [0, 0, 10, 10] }]);
    const a = det([0, 0, 10, 6], 0.7);
    const b = det([0, 0, 10, 8], 0.7);
    expect(cocoEvaluate(gt, [a, b]).AP).toBeCloseTo(0.5, 12);
    // B first: B takes the ground truth at 0.5..0.8 (7 thresholds): ONE; above, 0. AP = 7/10.
    expect(cocoEvaluate(gt, [b, a]).AP).toBeCloseTo(0.7, 12);
  });

  it('IoU thresholds: IoU exactly 0.75 counts at 0.75, 0.7 counts for AP50 but not AP75, 0.85 at 0.85', () => {
    const gt = groundTruth([{ box: [0, 0, 10, 10] }]);
    // IoU 75 / 100 = 0.75: a true positive at 0.5..0.75 (6 thresholds), a false positive above.
    const s75 = cocoEvaluate(gt, [det([0, 0, 10, 7.5], 0.9)]);
    expectStats(s75, { AP: 0.6, AP50: 1, AP75: 1, AR100: 0.6 });
    // IoU 0.7: 5 thresholds.
    const s70 = cocoEvaluate(gt, [det([0, 0, 10, 7], 0.9)]);
    expectStats(s70, { AP: 0.5, AP50: 1, AP75: 0, AR100: 0.5 });
    // IoU 0.85 equals linspace's 0.85 (0.5 + 0.05 * 7 would be 0.8500000000000001 and reject it): 8 thresholds.
    expectStats(cocoEvaluate(gt, [det([0, 0, 10, 8.5], 0.9)]), { AP: 0.8, AR100: 0.8 });
  });

  it('no detections at all give 0 where there is ground truth, -1 where there is none', () => {
    const s = cocoEvaluate(groundTruth([{ box: [0, 0, 10, 10] }]), []);
    expect(s).toEqual({ AP: 0, AP50: 0, AP75: 0, APs: 0, APm: -1, APl: -1, AR1: 0, AR10: 0, AR100: 0, ARs: 0, ARm: -1, ARl: -1 });
  });

  it('an image with ground truth but no detections lowers recall; imageIds restricts the evaluation', () => {
    // Two ground truths, one found: recall 1/2; recall points 0..0.50 (51) read ONE, the rest 0: AP = 51/101.
    const gt = groundTruth(
      [
        { box: [0, 0, 10, 10], img: 1 },
        { box: [0, 0, 10, 10], img: 2 },
      ],
      [1, 2],
    );
    const dets = [det([0, 0, 10, 10], 0.9, 1), det([30, 30, 10, 10], 0.95, 2)];
    const s = cocoEvaluate(gt, dets.slice(0, 1));
    expectStats(s, { AP: 51 / 101, AR100: 0.5 });
    // Only image 1: its detection finds its ground truth; image 2's false positive is not evaluated.
    expectStats(cocoEvaluate(gt, dets, { imageIds: [1] }), { AP: 1, AR100: 1 });
  });

  it("records a match as the ground truth's id, so a match to annotation id 0 counts as a false positive (as in COCO)", () => {
    const box: Box = [0, 0, 10, 10];
    expect(cocoEvaluate(groundTruth([{ box, id: 0 }]), [det(box, 0.9)])).toMatchObject({ AP: 0, AR100: 0 });
    expect(cocoEvaluate(groundTruth([{ box, id: 7 }]), [det(box, 0.9)]).AP).toBeCloseTo(1, 12);
  });

  it('rejects a detection on an image the ground truth does not have, as loadRes does', () => {
    expect(() => cocoEvaluate(groundTruth([{ box: [0, 0, 10, 10] }]), [det([0, 0, 10, 10], 0.9, 5)])).toThrow(DataError);
    expect(() => cocoEvaluate(groundTruth([{ box: [0, 0, 10, 10] }]), [det([0, 0, 10, 10], 0.9, 5)])).toThrow(/image_id 5/);
  });
});

// BEGIN randomCase: the seeded sets the golden numbers below were computed on (this exact text was evaluated for that).
function randomCase(seed: number): { gt: CocoGroundTruth; dets: CocoDetection[] } {
  let st = seed >>> 0;
  const next = (): number => {
    st = (Math.imul(st, 1664525) + 1013904223) >>> 0;
    return st / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const q = (x: number): number => Math.round(x * 4) / 4; // quarter pixels: IoUs land exactly on thresholds now and then
  const images = Array.from({ length: 4 + int(5) }, (_, i) => ({ id: 100 - 7 * i }));
  const categories = [{ id: 5 }, { id: 2 }, { id: 9 }, { id: 4 }]; // 4 gets detections only
  const annotations: CocoGroundTruth['annotations'] = [];
  const dets: CocoDetection[] = [];
  const score = (): number => int(20) / 20; // many ties
  for (const im of images) {
    for (let n = int(9); n > 0; n--) {
      const sz = [6, 20, 45, 90, 150][int(5)]!;
      const w = q(sz * (0.6 + 0.8 * next()));
      const h = q(sz * (0.6 + 0.8 * next()));
      const bbox: Box = [q(next() * 300), q(next() * 300), w, h];
      const crowd = next() < 0.08 ? 1 : 0;
      const area = next() < 0.7 ? w * h : q(w * h * (0.4 + 0.5 * next()));
      const cat = [5, 2, 9][int(3)]!;
      annotations.push({ id: annotations.length + 1, image_id: im.id, category_id: cat, bbox, area, iscrowd: crowd });
      for (let m = int(4); m > 0; m--) {
        const j = (): number => q((next() - 0.5) * 0.5 * Math.min(w, h));
        const c = next() < 0.9 ? cat : categories[int(4)]!.id;
        dets.push({ image_id: im.id, category_id: c, bbox: [bbox[0] + j(), bbox[1] + j(), Math.max(0.25, w + j()), Math.max(0.25, h + j())], score: score() });
      }
    }
  }
  for (let n = 4 + int(12); n > 0; n--) {
    const c = next() < 0.1 ? 77 : categories[int(4)]!.id;
    dets.push({
      image_id: images[int(images.length)]!.id,
      category_id: c,
      bbox: [q(next() * 300), q(next() * 300), q(4 + next() * 120), q(4 + next() * 120)],
      score: score(),
    });
  }
  for (let i = dets.length - 1; i > 0; i--) {
    const k = int(i + 1);
    [dets[i], dets[k]] = [dets[k]!, dets[i]!];
  }
  return { gt: { images, annotations, categories }, dets };
}
// END randomCase

interface RandomCheck {
  seed: number;
  opts?: { imageIds?: number[]; maxDets?: [number, number, number] };
}
const RANDOM_CHECKS: RandomCheck[] = [{ seed: 1 }, { seed: 2, opts: { maxDets: [1, 3, 10] } }, { seed: 3, opts: { imageIds: [100, 86, 72, 65] } }, { seed: 4 }];

// COCO_METRICS order, as printed (repr) by pycocotools' cocoeval.py (cocoapi commit 8c9bcc3, numpy 1.24) on
// randomCase(seed) with the options above. pycocotools' C extension is not installed on the machine that produced
// them, so its bbox IoU ran as a line-by-line Python transcription of maskApi.c's bbIou; the rest is COCO's code.
// Seed 2's AP is -1: summarize() reads AP at maxDets == 100, and its maxDets are [1, 3, 10].
const GOLDEN: string[][] = [
  [
    '0.2091897239713197',
    '0.6597375854801597',
    '0.08219091139883218',
    '0.12184818481848182',
    '0.2688040232594688',
    '0.3303394625176803',
    '0.14166666666666666',
    '0.33511904761904765',
    '0.33511904761904765',
    '0.20277777777777778',
    '0.3555555555555555',
    '0.45',
  ],
  [
    '-1.0',
    '0.7942300640320442',
    '0.3866463569433866',
    '0.2332013201320132',
    '0.4922442244224422',
    '0.5173267326732673',
    '0.3944444444444445',
    '0.5092592592592593',
    '0.5351851851851851',
    '0.38',
    '0.525',
    '0.5166666666666666',
  ],
  [
    '0.14903190319031903',
    '0.5357535753575356',
    '0.0099009900990099',
    '0.21199119911991196',
    '0.12524752475247525',
    '0.10099009900990097',
    '0.13444444444444445',
    '0.23444444444444443',
    '0.23444444444444443',
    '0.3',
    '0.175',
    '0.1',
  ],
  [
    '0.1892071386625842',
    '0.44108787252351606',
    '0.08958972820358958',
    '0.2523762376237624',
    '0.25152915291529154',
    '0.20745324532453244',
    '0.07619047619047618',
    '0.41047619047619044',
    '0.41047619047619044',
    '0.3444444444444444',
    '0.5444444444444445',
    '0.4',
  ],
];

describe('cocoEvaluate on seeded random sets', () => {
  it.each(RANDOM_CHECKS.map((c, i) => ({ ...c, i })))('equals the numbers pycocotools gave for seed $seed', ({ seed, opts, i }) => {
    const { gt, dets } = randomCase(seed);
    const s = cocoEvaluate(gt, dets, opts);
    expect(COCO_METRICS.map((k) => s[k])).toEqual(GOLDEN[i]!.map(Number));
  });
});

const PYCOCOTOOLS = spawnSync('/usr/bin/python3', ['-c', 'import pycocotools.cocoeval'], { encoding: 'utf8' }).status === 0;
const SKIP_REASON = PYCOCOTOOLS ? '' : ' (skipped: /usr/bin/python3 cannot import pycocotools)';
if (!PYCOCOTOOLS) console.warn(`[coco-eval tests] pycocotools cross-check${SKIP_REASON}`);

const PY_SCRIPT = `
import contextlib, io, json, sys
import numpy as np
if not hasattr(np, 'float'):
    np.float = float  # pycocotools < 2.0.3 calls np.float, which numpy >= 1.24 removed
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
out = []
for c in json.load(open(sys.argv[1])):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = c['gt']
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(c['dets']), 'bbox')
        if c.get('imageIds') is not None:
            ev.params.imgIds = c['imageIds']
        if c.get('maxDets') is not None:
            ev.params.maxDets = c['maxDets']
        ev.evaluate(); ev.accumulate(); ev.summarize()
    out.append([float(x) for x in ev.stats])
print(json.dumps(out))
`;

describe.skipIf(!PYCOCOTOOLS)(`cocoEvaluate against pycocotools on seeded random sets${SKIP_REASON}`, () => {
  const tmp = makeTmpDir('pwlu-coco-eval-');
  afterAll(() => removeDir(tmp));

  it('gives the 12 numbers pycocotools gives', () => {
    const checks: RandomCheck[] = [...RANDOM_CHECKS, ...Array.from({ length: 12 }, (_, i) => ({ seed: 100 + i }))];
    const cases = checks.map(({ seed, opts }) => ({ ...randomCase(seed), imageIds: opts?.imageIds, maxDets: opts?.maxDets }));
    const file = join(tmp, 'cases.json');
    writeFileSync(file, JSON.stringify(cases));
    const r = spawnSync('/usr/bin/python3', ['-c', PY_SCRIPT, file], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const want = JSON.parse(r.stdout) as number[][];
    cases.forEach((c, i) => {
      const s = cocoEvaluate(c.gt, c.dets, { imageIds: c.imageIds, maxDets: c.maxDets });
      COCO_METRICS.forEach((k, j) => expect(s[k], `seed ${checks[i]!.seed} ${k}`).toBeCloseTo(want[i]![j]!, 12));
    });
  });
});
