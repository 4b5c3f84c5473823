/**
 * Greedy non-maximum suppression with torchvision's semantics (ops.nms, ops.batched_nms): walk the
 * boxes by decreasing score, keep a box unless its IoU with an already kept box (of the same class,
 * for batchedNms) is strictly greater than the threshold.
 *
 * Ties in score are broken by the lower index first (a stable sort), so the result is deterministic;
 * torchvision's sort is not stable, so on exact ties its choice may differ.
 *
 * Cost: one sort, then for each candidate a scan over the boxes kept so far, O(n log n + n k) with
 * k kept; coordinates and areas are copied once, in score order, into contiguous float64 arrays.
 */
import { boxCount } from './boxes.js';

/** Indices of `scores` by decreasing score, ties by lower index; NaN scores sort last. */
export function sortByScore(scores: ArrayLike<number>): Int32Array {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const key = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    key[i] = Number.isNaN(s) ? -Infinity : s;
  }
  order.sort((a, b) => key[b]! - key[a]! || a - b);
  return order;
}

/** Greedy suppression over `order`; with labels, a box is only suppressed by kept boxes of its own label. */
function greedy(boxes: ArrayLike<number>, order: Int32Array, iouThreshold: number, labels?: ArrayLike<number>): Int32Array {
  const n = order.length;
  // Kept boxes' coordinates, contiguous in acceptance order, and per label the positions of its kept boxes.
  const kx1 = new Float64Array(n);
  const ky1 = new Float64Array(n);
  const kx2 = new Float64Array(n);
  const ky2 = new Float64Array(n);
  const kArea = new Float64Array(n);
  const keep = new Int32Array(n);
  let nKeep = 0;
  const byLabel = new Map<number, number[]>();
  const all: number[] = [];
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    const x1 = boxes[4 * i]!;
    const y1 = boxes[4 * i + 1]!;
    const x2 = boxes[4 * i + 2]!;
    const y2 = boxes[4 * i + 3]!;
    const area = x2 > x1 && y2 > y1 ? (x2 - x1) * (y2 - y1) : 0;
    let group = all;
    if (labels) {
      const c = labels[i]!;
      let g = byLabel.get(c);
      if (!g) {
        g = [];
        byLabel.set(c, g);
      }
      group = g;
    }
    let suppressed = false;
    for (let q = 0; q < group.length; q++) {
      const k = group[q]!;
      const iw = Math.min(x2, kx2[k]!) - Math.max(x1, kx1[k]!);
      if (iw <= 0) continue;
      const ih = Math.min(y2, ky2[k]!) - Math.max(y1, ky1[k]!);
      if (ih <= 0) continue;
      const inter = iw * ih;
      const union = area + kArea[k]! - inter;
      if (union > 0 && inter / union > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    kx1[nKeep] = x1;
    ky1[nKeep] = y1;
    kx2[nKeep] = x2;
    ky2[nKeep] = y2;
    kArea[nKeep] = area;
    group.push(nKeep);
    keep[nKeep++] = i;
  }
  return keep.slice(0, nKeep);
}

function checkInputs(name: string, boxes: ArrayLike<number>, scores: ArrayLike<number>, labels?: ArrayLike<number>): void {
  const n = boxCount(boxes, `${name}: boxes`);
  if (scores.length !== n) throw new RangeError(`${name}: ${n} boxes but ${scores.length} scores`);
  if (labels && labels.length !== n) throw new RangeError(`${name}: ${n} boxes but ${labels.length} labels`);
}

/** Indices of the boxes NMS keeps, by decreasing score (ties: lower index first), as torchvision.ops.nms. */
export function nms(boxes: ArrayLike<number>, scores: ArrayLike<number>, iouThreshold: number): Int32Array {
  checkInputs('nms', boxes, scores);
  return greedy(boxes, sortByScore(scores), iouThreshold);
}

/**
 * Per-class NMS (boxes of different labels never suppress each other), as torchvision.ops.batched_nms:
 * the kept indices by decreasing score (ties: lower index first).
 */
export function batchedNms(boxes: ArrayLike<number>, scores: ArrayLike<number>, labels: ArrayLike<number>, iouThreshold: number): Int32Array {
  checkInputs('batchedNms', boxes, scores, labels);
  return greedy(boxes, sortByScore(scores), iouThreshold, labels);
}
