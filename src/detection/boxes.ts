/**
 * Box geometry on flat typed arrays: boxes are absolute pixel `x1, y1, x2, y2` (torchvision's
 * convention: width = x2 - x1, no +1), n boxes in one array of length 4n. COCO's `[x, y, w, h]`
 * appears only at the edges (annotation files, detections.json) and converts with the helpers here.
 *
 * Everything is plain loops over typed arrays: the IoU matrix runs once per image over every anchor
 * (about 100k at 800 px) against each ground truth, on the training path.
 */

/** The number of boxes in a flat 4n array, failing loudly on a length that is not a multiple of 4 (a layout bug). */
export function boxCount(boxes: ArrayLike<number>, what = 'boxes'): number {
  if (boxes.length % 4 !== 0) throw new RangeError(`${what}: length ${boxes.length} is not a multiple of 4 (flat x1, y1, x2, y2)`);
  return boxes.length / 4;
}

/** Areas, because IoU, NMS and COCO's area ranges all need them; degenerate boxes (x2 < x1) count as area 0. */
export function boxArea(boxes: ArrayLike<number>): Float32Array {
  const n = boxCount(boxes);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const w = boxes[4 * i + 2]! - boxes[4 * i]!;
    const h = boxes[4 * i + 3]! - boxes[4 * i + 1]!;
    out[i] = w > 0 && h > 0 ? w * h : 0;
  }
  return out;
}

/**
 * The IoU matrix [na, nb] row-major (row = a box of `a`, the ground truths; column = a box of `b`,
 * the anchors), as torchvision's box_iou, which the matcher consumes. Computed in float64 and stored
 * as float32. A zero-area box has IoU 0 with everything, itself included (torchvision gives NaN for
 * two zero-area boxes), so a degenerate box never poisons the matcher's maxima.
 */
export function boxIou(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const na = boxCount(a, 'boxIou: a');
  const nb = boxCount(b, 'boxIou: b');
  const out = new Float32Array(na * nb);
  if (na === 0 || nb === 0) return out;
  // Anchor coordinates and areas once, contiguous, so the inner loop (over ~100k anchors) reads four
  // arrays sequentially and never recomputes an area.
  const bx1 = new Float64Array(nb);
  const by1 = new Float64Array(nb);
  const bx2 = new Float64Array(nb);
  const by2 = new Float64Array(nb);
  const bArea = new Float64Array(nb);
  for (let j = 0; j < nb; j++) {
    const x1 = b[4 * j]!;
    const y1 = b[4 * j + 1]!;
    const x2 = b[4 * j + 2]!;
    const y2 = b[4 * j + 3]!;
    bx1[j] = x1;
    by1[j] = y1;
    bx2[j] = x2;
    by2[j] = y2;
    bArea[j] = x2 > x1 && y2 > y1 ? (x2 - x1) * (y2 - y1) : 0;
  }
  for (let i = 0; i < na; i++) {
    const ax1 = a[4 * i]!;
    const ay1 = a[4 * i + 1]!;
    const ax2 = a[4 * i + 2]!;
    const ay2 = a[4 * i + 3]!;
    const aArea = ax2 > ax1 && ay2 > ay1 ? (ax2 - ax1) * (ay2 - ay1) : 0;
    const row = i * nb;
    for (let j = 0; j < nb; j++) {
      const iw = Math.min(ax2, bx2[j]!) - Math.max(ax1, bx1[j]!);
      if (iw <= 0) continue;
      const ih = Math.min(ay2, by2[j]!) - Math.max(ay1, by1[j]!);
      if (ih <= 0) continue;
      // iw, ih > 0 here, so the union (at least the larger area) is positive.
      const inter = iw * ih;
      out[row + j] = inter / (aArea + bArea[j]! - inter);
    }
  }
  return out;
}

/** Clips boxes to the image in place, as torchvision's clip_boxes_to_image does for decoded detections. */
export function clipBoxes<T extends Float32Array | Float64Array>(boxes: T, height: number, width: number): T {
  const n = boxCount(boxes, 'clipBoxes');
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    boxes[o] = Math.min(Math.max(boxes[o]!, 0), width);
    boxes[o + 1] = Math.min(Math.max(boxes[o + 1]!, 0), height);
    boxes[o + 2] = Math.min(Math.max(boxes[o + 2]!, 0), width);
    boxes[o + 3] = Math.min(Math.max(boxes[o + 3]!, 0), height);
  }
  return boxes;
}

/** COCO's `[x, y, w, h]` (annotation files) to pwlu's `x1, y1, x2, y2`. */
export function xywhToXyxy(boxes: ArrayLike<number>): Float32Array {
  const n = boxCount(boxes, 'xywhToXyxy');
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    out[o] = boxes[o]!;
    out[o + 1] = boxes[o + 1]!;
    out[o + 2] = boxes[o]! + boxes[o + 2]!;
    out[o + 3] = boxes[o + 1]! + boxes[o + 3]!;
  }
  return out;
}

/** pwlu's `x1, y1, x2, y2` to COCO's `[x, y, w, h]` (detections.json). */
export function xyxyToXywh(boxes: ArrayLike<number>): Float32Array {
  const n = boxCount(boxes, 'xyxyToXywh');
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    out[o] = boxes[o]!;
    out[o + 1] = boxes[o + 1]!;
    out[o + 2] = boxes[o + 2]! - boxes[o]!;
    out[o + 3] = boxes[o + 3]! - boxes[o + 1]!;
  }
  return out;
}
