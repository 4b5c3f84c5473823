/**
 * COCO's detection metrics (the 12 numbers of pycocotools' `COCOeval(iouType='bbox').summarize()`), computed the way
 * COCOeval computes them, down to its float conventions, so a pwlu AP can be compared with a published one.
 *
 * What is reproduced from pycocotools (cocoeval.py, coco.py's loadRes, maskApi.c's bbIou):
 * - IoU thresholds and recall thresholds are `np.linspace` values (`i * step + start`, last = stop), which are not
 *   `0.5 + 0.05 * i` (that gives 0.8500000000000001 and 0.9 where linspace gives 0.85 and 0.8999999999999999).
 * - Box IoU as bbIou: intersection over `da + ga - i`, or over the detection's area `da` for a crowd ground truth.
 * - Ground truths are ignored when crowd or when their `area` field is outside the range (bounds inclusive);
 *   detections take `w * h` as their area (loadRes). Detections are ordered by score with a stable sort and cut at
 *   maxDets per (image, category); ground truths are stably reordered non-ignored first.
 * - The greedy matching loop, including its quirks: a crowd ground truth can be matched any number of times; a
 *   detection matched to a regular ground truth stops at the first ignored one; a match is recorded as the ground
 *   truth's `id`, so a match to an annotation whose id is 0 reads as "unmatched" afterwards (COCO ids start at 1).
 * - Accumulation concatenates the per-image detections in sorted image-id order and sorts them stably by score, so
 *   ties are broken by image id, then by rank within the image. Precision is `tp / (tp + fp + eps)` with numpy's eps,
 *   made monotone from the right and read at the recall thresholds with searchsorted 'left'.
 * - Categories (and area ranges) without a non-ignored ground truth are -1 and left out of the means; the means are
 *   numpy's pairwise sums over the entries in C order; AP (stats[0]) looks for maxDets == 100 literally, as
 *   summarize() does, so it is -1 when 100 is not one of the maxDets.
 */
import { DataError, UserError } from '../util/errors.js';

export interface CocoGtImage {
  id: number;
  width?: number;
  height?: number;
}
export interface CocoGtAnnotation {
  /** COCO's annotation id; when absent, its 1-based position in `annotations`. */
  id?: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  area: number;
  iscrowd?: 0 | 1;
}
export interface CocoGroundTruth {
  images: CocoGtImage[];
  annotations: CocoGtAnnotation[];
  categories: { id: number; name?: string }[];
}
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

export const COCO_METRICS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;
/** The six AP figures summaries and reports show (COCO_METRICS' first half). */
export const COCO_AP_METRICS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] as const;
export type CocoMetricName = (typeof COCO_METRICS)[number];
/** -1 where COCO gives -1 (nothing to evaluate). */
export type CocoStats = Record<CocoMetricName, number>;

/** np.linspace(start, stop, num): `i * step + start`, the last point set to stop, so thresholds equal COCO's bit for bit. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** COCO's IoU thresholds .50:.05:.95 as np.linspace makes them (the matching compares against these exact doubles). */
export const COCO_IOU_THRESHOLDS: Float64Array = linspace(0.5, 0.95, 10);
/** COCO's 101 recall points 0:.01:1 as np.linspace makes them (searchsorted compares recall against these doubles). */
export const COCO_RECALL_THRESHOLDS: Float64Array = linspace(0, 1, 101);
/** COCO's area ranges all, small, medium, large ([0, 1e5^2], [0, 32^2], [32^2, 96^2], [96^2, 1e5^2]), bounds inclusive. */
const AREA_LO = [0, 0, 32 ** 2, 96 ** 2] as const;
const AREA_HI = [1e10, 32 ** 2, 96 ** 2, 1e10] as const;
/** np.spacing(1): COCO adds it to the precision's denominator, so a lone true positive has precision 1 - 2^-52. */
const EPS = 2.220446049250313e-16;
const T = COCO_IOU_THRESHOLDS.length;
const R = COCO_RECALL_THRESHOLDS.length;
const A = 4;

/** numpy's pairwise summation (DOUBLE_pairwise_sum, blocks of 128 unrolled by 8), so the means equal np.mean's bits. */
function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= 128) {
    let r0 = a[start]!,
      r1 = a[start + 1]!,
      r2 = a[start + 2]!,
      r3 = a[start + 3]!,
      r4 = a[start + 4]!,
      r5 = a[start + 5]!,
      r6 = a[start + 6]!,
      r7 = a[start + 7]!;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const p = start + i;
      r0 += a[p]!;
      r1 += a[p + 1]!;
      r2 += a[p + 2]!;
      r3 += a[p + 3]!;
      r4 += a[p + 4]!;
      r5 += a[p + 5]!;
      r6 += a[p + 6]!;
      r7 += a[p + 7]!;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** Orders detection indices as numpy's stable argsort of -score does: higher score first, NaN last, ties by position. */
function byScoreDesc(score: Float64Array): (i: number, j: number) => number {
  return (i, j) => {
    const si = score[i]!;
    const sj = score[j]!;
    if (si > sj) return -1;
    if (si < sj) return 1;
    if (si === sj) return i - j;
    const ni = Number.isNaN(si);
    const nj = Number.isNaN(sj);
    if (ni !== nj) return ni ? 1 : -1;
    return i - j;
  };
}

/** Sorts a[s..e) in place by `cmp` (a total order): insertion sort for the many tiny (image, category) groups. */
function sortSegment(a: Int32Array, s: number, e: number, cmp: (i: number, j: number) => number): void {
  if (e - s > 32) {
    a.subarray(s, e).sort(cmp);
    return;
  }
  for (let i = s + 1; i < e; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= s && cmp(a[j]!, v) > 0) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** Counting-sort items into (category, image) groups keeping their input order: COCO's `_gts`/`_dts` dictionaries. */
function groupOffsets(keys: Int32Array, nGroups: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(nGroups + 1);
  for (let n = 0; n < keys.length; n++) start[keys[n]! + 1]!++;
  for (let g = 0; g < nGroups; g++) start[g + 1]! += start[g]!;
  const fill = start.slice(0, nGroups);
  const order = new Int32Array(keys.length);
  for (let n = 0; n < keys.length; n++) order[fill[keys[n]!]!++] = n;
  return { start, order };
}

/** COCO's 12 detection metrics for results `dets` on `gt`, as pycocotools' COCOeval (bbox) reports them, so pwlu's AP is comparable. */
export function cocoEvaluate(gt: CocoGroundTruth, dets: CocoDetection[], opts: { imageIds?: number[]; maxDets?: [number, number, number] } = {}): CocoStats {
  const maxDets = [...(opts.maxDets ?? [1, 10, 100])].sort((x, y) => x - y);
  for (const m of maxDets) {
    if (!Number.isInteger(m) || m < 0) throw new UserError(`cocoEvaluate: maxDets must be non-negative integers, got [${opts.maxDets?.join(', ')}]`);
  }
  const M = maxDets.length;
  const maxDetAll = maxDets[M - 1]!;

  // Params: imgIds and catIds sorted and unique (np.unique), from the ground truth unless restricted.
  const allImageIds = new Set(gt.images.map((im) => im.id));
  const imgIds = [...new Set(opts.imageIds ?? allImageIds)].sort((x, y) => x - y);
  const catIds = [...new Set(gt.categories.map((c) => c.id))].sort((x, y) => x - y);
  const I = imgIds.length;
  const K = catIds.length;
  const imgIndex = new Map(imgIds.map((id, i) => [id, i]));
  const catIndex = new Map(catIds.map((id, k) => [id, k]));
  const nGroups = K * I;

  // Ground truths of the evaluated images and categories, grouped by (category, image) in file order.
  const gtSel: number[] = [];
  const gtKeySel: number[] = [];
  gt.annotations.forEach((a, n) => {
    const i = imgIndex.get(a.image_id);
    const k = catIndex.get(a.category_id);
    if (i === undefined || k === undefined) return;
    gtSel.push(n);
    gtKeySel.push(k * I + i);
  });
  const gtGroups = groupOffsets(Int32Array.from(gtKeySel), nGroups);
  const nGt = gtSel.length;
  const gBox = new Float64Array(4 * nGt);
  const gArea = new Float64Array(nGt);
  const gCrowd = new Uint8Array(nGt);
  const gId = new Float64Array(nGt);
  for (let p = 0; p < nGt; p++) {
    const n = gtSel[gtGroups.order[p]!]!;
    const a = gt.annotations[n]!;
    gBox[4 * p] = a.bbox[0];
    gBox[4 * p + 1] = a.bbox[1];
    gBox[4 * p + 2] = a.bbox[2];
    gBox[4 * p + 3] = a.bbox[3];
    gArea[p] = a.area;
    gCrowd[p] = a.iscrowd ? 1 : 0;
    gId[p] = a.id ?? n + 1;
  }
  const gStart = gtGroups.start;

  // Detections: loadRes rejects an image the ground truth does not have; other categories and images are not evaluated.
  // One sequential pass reads each selected detection's fields into typed arrays (indexed by selection order).
  const dKeyAll = new Int32Array(dets.length);
  const rawBox = new Float64Array(4 * dets.length);
  const rawScore = new Float64Array(dets.length);
  let nSel = 0;
  for (let n = 0; n < dets.length; n++) {
    const d = dets[n]!;
    if (!allImageIds.has(d.image_id)) {
      throw new DataError(`detections[${n}]: image_id ${d.image_id} is not an image of the ground truth (COCO's loadRes rejects such results)`);
    }
    const i = imgIndex.get(d.image_id);
    const k = catIndex.get(d.category_id);
    if (i === undefined || k === undefined) continue;
    const b = d.bbox;
    rawBox[4 * nSel] = b[0];
    rawBox[4 * nSel + 1] = b[1];
    rawBox[4 * nSel + 2] = b[2];
    rawBox[4 * nSel + 3] = b[3];
    rawScore[nSel] = d.score;
    dKeyAll[nSel++] = k * I + i;
  }
  const dtGroups = groupOffsets(dKeyAll.subarray(0, nSel), nGroups);
  // Per group: stable sort by score, cut at the largest maxDet (computeIoU/evaluateImg), then lay out contiguously.
  const cmpRaw = byScoreDesc(rawScore);
  const dOrder = dtGroups.order;
  const dStart = new Int32Array(nGroups + 1);
  for (let g = 0; g < nGroups; g++) {
    const s = dtGroups.start[g]!;
    const e = dtGroups.start[g + 1]!;
    if (e - s > 1) sortSegment(dOrder, s, e, cmpRaw);
    dStart[g + 1] = dStart[g]! + Math.min(e - s, maxDetAll);
  }
  const kept = new Int32Array(dStart[nGroups]!);
  for (let g = 0; g < nGroups; g++) {
    const from = dtGroups.start[g]! - dStart[g]!;
    for (let q = dStart[g]!; q < dStart[g + 1]!; q++) kept[q] = dOrder[from + q]!;
  }
  const nDt = kept.length;
  const dBox = new Float64Array(4 * nDt);
  const dScore = new Float64Array(nDt);
  const dArea = new Float64Array(nDt);
  const dRank = new Int32Array(nDt);
  for (let q = 0; q < nDt; q++) {
    const n = kept[q]!;
    for (let c = 0; c < 4; c++) dBox[4 * q + c] = rawBox[4 * n + c]!;
    dScore[q] = rawScore[n]!;
    dArea[q] = rawBox[4 * n + 2]! * rawBox[4 * n + 3]!;
  }
  for (let g = 0; g < nGroups; g++) for (let q = dStart[g]!; q < dStart[g + 1]!; q++) dRank[q] = q - dStart[g]!;

  // evaluateImg for every (category, area range, image): per detection and area range, bit t of tpBits/fpBits says
  // whether it is a true/false positive at IoU threshold t (neither: ignored).
  const tpBits = new Uint16Array(A * nDt);
  const fpBits = new Uint16Array(A * nDt);
  const npig = new Float64Array(K * A);
  let maxG = 0;
  let maxD = 0;
  for (let g = 0; g < nGroups; g++) {
    maxG = Math.max(maxG, gStart[g + 1]! - gStart[g]!);
    maxD = Math.max(maxD, dStart[g + 1]! - dStart[g]!);
  }
  const ious = new Float64Array(maxG * maxD);
  const gtIg = new Uint8Array(maxG);
  const gOrder = new Int32Array(maxG);
  const gTaken = new Uint8Array(maxG);
  const dOut = new Uint8Array(maxD);
  const thr = COCO_IOU_THRESHOLDS.map((t) => Math.min(t, 1 - 1e-10));
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) {
      const g = k * I + i;
      const g0 = gStart[g]!;
      const G = gStart[g + 1]! - g0;
      const d0 = dStart[g]!;
      const D = dStart[g + 1]! - d0;
      if (G === 0 && D === 0) continue;
      // bbIou (maskApi.c), ious[d * G + j] with j in the group's file order.
      for (let d = 0; d < D; d++) {
        const o = 4 * (d0 + d);
        const dx = dBox[o]!,
          dy = dBox[o + 1]!,
          dw = dBox[o + 2]!,
          dh = dBox[o + 3]!;
        const da = dw * dh;
        for (let j = 0; j < G; j++) {
          const b = 4 * (g0 + j);
          const gx = gBox[b]!,
            gy = gBox[b + 1]!,
            gw = gBox[b + 2]!,
            gh = gBox[b + 3]!;
          let v = 0;
          const w = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
          if (w > 0) {
            const h = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
            if (h > 0) {
              const inter = w * h;
              v = inter / (gCrowd[g0 + j] ? da : da + gw * gh - inter);
            }
          }
          ious[d * G + j] = v;
        }
      }
      for (let a = 0; a < A; a++) {
        const lo = AREA_LO[a]!;
        const hi = AREA_HI[a]!;
        let regular = 0;
        for (let j = 0; j < G; j++) {
          const area = gArea[g0 + j]!;
          gtIg[j] = gCrowd[g0 + j] || area < lo || area > hi ? 1 : 0;
          if (!gtIg[j]) gOrder[regular++] = j;
        }
        let p = regular;
        for (let j = 0; j < G; j++) if (gtIg[j]) gOrder[p++] = j;
        npig[k * A + a]! += regular;
        for (let d = 0; d < D; d++) {
          const area = dArea[d0 + d]!;
          dOut[d] = area < lo || area > hi ? 1 : 0;
        }
        const bitBase = a * nDt + d0;
        for (let t = 0; t < T; t++) {
          for (let j = 0; j < G; j++) gTaken[j] = 0;
          const bit = 1 << t;
          for (let d = 0; d < D; d++) {
            let best = thr[t]!;
            let m = -1;
            const row = d * G;
            for (let q = 0; q < G; q++) {
              const j = gOrder[q]!;
              if (gTaken[j] && !gCrowd[g0 + j]) continue;
              if (m > -1 && !gtIg[m] && gtIg[j]) break;
              const v = ious[row + j]!;
              if (v < best) continue;
              best = v;
              m = j;
            }
            let matched = false;
            let ignored = false;
            if (m > -1) {
              gTaken[m] = 1;
              ignored = gtIg[m] === 1;
              matched = gId[g0 + m] !== 0; // dtMatches holds the gt's id: id 0 reads as no match
            }
            if (!matched && dOut[d]) ignored = true;
            if (!ignored) {
              if (matched) tpBits[bitBase + d]! |= bit;
              else fpBits[bitBase + d]! |= bit;
            }
          }
        }
      }
    }
  }

  // accumulate(): per (category, area, maxDet) the detections of all images, stably sorted by score.
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const pIdx = (t: number, r: number, k: number, a: number, m: number) => (((t * R + r) * K + k) * A + a) * M + m;
  const rIdx = (t: number, k: number, a: number, m: number) => ((t * K + k) * A + a) * M + m;
  const cmpDet = byScoreDesc(dScore);
  const sel = new Int32Array(nDt);
  const tpSel = new Uint16Array(nDt);
  const fpSel = new Uint16Array(nDt);
  const rc = new Float64Array(nDt);
  const pr = new Float64Array(nDt);
  for (let k = 0; k < K; k++) {
    const s = dStart[k * I]!;
    const e = dStart[(k + 1) * I]!;
    // Positions in this range are positions in COCO's concatenation (images in sorted id order, each by rank).
    const sorted = new Int32Array(e - s);
    for (let n = 0; n < e - s; n++) sorted[n] = s + n;
    sorted.sort(cmpDet);
    for (let m = 0; m < M; m++) {
      const maxDet = maxDets[m]!;
      let nd = 0;
      for (const q of sorted) if (dRank[q]! < maxDet) sel[nd++] = q;
      for (let a = 0; a < A; a++) {
        const np = npig[k * A + a]!;
        if (np === 0) continue;
        const base = a * nDt;
        for (let n = 0; n < nd; n++) {
          tpSel[n] = tpBits[base + sel[n]!]!;
          fpSel[n] = fpBits[base + sel[n]!]!;
        }
        for (let t = 0; t < T; t++) {
          const bit = 1 << t;
          let tp = 0;
          let fp = 0;
          for (let n = 0; n < nd; n++) {
            if (tpSel[n]! & bit) tp++;
            if (fpSel[n]! & bit) fp++;
            rc[n] = tp / np;
            pr[n] = tp / (fp + tp + EPS);
          }
          recall[rIdx(t, k, a, m)] = nd ? rc[nd - 1]! : 0;
          for (let n = nd - 1; n > 0; n--) if (pr[n]! > pr[n - 1]!) pr[n - 1] = pr[n]!;
          let n = 0;
          for (let r = 0; r < R; r++) {
            const rt = COCO_RECALL_THRESHOLDS[r]!;
            while (n < nd && rc[n]! < rt) n++;
            precision[pIdx(t, r, k, a, m)] = n < nd ? pr[n]! : 0;
          }
        }
      }
    }
  }

  // summarize(): means over the entries > -1 of the selected slice, in numpy's C order.
  const buf = new Float64Array(T * R * K * M);
  const mean = (count: number) => (count === 0 ? -1 : pairwiseSum(buf, 0, count) / count);
  const tSel = (iouThr?: number) => [...COCO_IOU_THRESHOLDS.keys()].filter((t) => iouThr === undefined || COCO_IOU_THRESHOLDS[t] === iouThr);
  const mSel = (md: number) => [...maxDets.keys()].filter((m) => maxDets[m] === md);
  const ap = (a: number, md: number, iouThr?: number) => {
    let c = 0;
    const ms = mSel(md);
    for (const t of tSel(iouThr))
      for (let r = 0; r < R; r++)
        for (let k = 0; k < K; k++)
          for (const m of ms) {
            const v = precision[pIdx(t, r, k, a, m)]!;
            if (v > -1) buf[c++] = v;
          }
    return mean(c);
  };
  const ar = (a: number, md: number) => {
    let c = 0;
    const ms = mSel(md);
    for (let t = 0; t < T; t++)
      for (let k = 0; k < K; k++)
        for (const m of ms) {
          const v = recall[rIdx(t, k, a, m)]!;
          if (v > -1) buf[c++] = v;
        }
    return mean(c);
  };
  const [m0, m1, m2] = [maxDets[0]!, maxDets[1]!, maxDets[2]!];
  return {
    AP: ap(0, 100),
    AP50: ap(0, m2, 0.5),
    AP75: ap(0, m2, 0.75),
    APs: ap(1, m2),
    APm: ap(2, m2),
    APl: ap(3, m2),
    AR1: ar(0, m0),
    AR10: ar(0, m1),
    AR100: ar(0, m2),
    ARs: ar(1, m2),
    ARm: ar(2, m2),
    ARl: ar(3, m2),
  };
}
