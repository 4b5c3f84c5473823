/**
 * Box geometry: the IoU matrix against hand-computed cases (disjoint, nested, identical, touching
 * edges, zero-area boxes) and its row-major [gts, anchors] layout, clipping, areas and the COCO
 * [x, y, w, h] conversions.
 */
import { describe, expect, it } from 'vitest';
import { boxArea, boxIou, clipBoxes, xywhToXyxy, xyxyToXywh } from '../../src/detection/boxes.js';

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
const iou1 = (a: number[], b: number[]): number => boxIou(f32(a), f32(b))[0]!;

describe('boxIou', () => {
  it('gives the hand-computed IoU of single pairs', () => {
    expect(iou1([0, 0, 1, 1], [2, 2, 3, 3])).toBe(0); // disjoint
    expect(iou1([0, 0, 4, 4], [1, 1, 3, 3])).toBe(0.25); // nested: 4 / 16
    expect(iou1([1, 1, 3, 3], [0, 0, 4, 4])).toBe(0.25); // nested, the other way round
    expect(iou1([5, 6, 9, 12], [5, 6, 9, 12])).toBe(1); // identical
    expect(iou1([0, 0, 1, 1], [1, 0, 2, 1])).toBe(0); // touching along an edge
    expect(iou1([0, 0, 1, 1], [1, 1, 2, 2])).toBe(0); // touching at a corner
    expect(iou1([0, 0, 2, 2], [1, 1, 3, 3])).toBeCloseTo(1 / 7, 7); // inter 1, union 4 + 4 - 1
    expect(iou1([0, 0, 10, 2], [5, 0, 15, 2])).toBeCloseTo(10 / 30, 7); // inter 5 x 2, union 20 + 20 - 10
  });

  it('gives 0 (not NaN) for zero-area boxes', () => {
    expect(iou1([1, 1, 1, 3], [0, 0, 2, 2])).toBe(0); // zero width inside a box
    expect(iou1([0, 0, 2, 2], [1, 1, 3, 1])).toBe(0); // zero height
    expect(iou1([1, 1, 1, 1], [1, 1, 1, 1])).toBe(0); // two identical points: union 0
  });

  it('lays the matrix out [a, b] row-major', () => {
    const gts = f32([0, 0, 2, 2, 10, 10, 12, 12]);
    const anchors = f32([0, 0, 2, 2, 1, 1, 3, 3, 10, 10, 11, 11]);
    const m = boxIou(gts, anchors);
    expect(m.length).toBe(6);
    const want = [1, 1 / 7, 0, 0, 0, 1 / 4];
    want.forEach((v, i) => expect(m[i]!, `element ${i}`).toBeCloseTo(v, 7));
  });

  it('handles empty sets and rejects a length that is not 4n', () => {
    expect(boxIou(new Float32Array(0), f32([0, 0, 1, 1])).length).toBe(0);
    expect(boxIou(f32([0, 0, 1, 1]), new Float32Array(0)).length).toBe(0);
    expect(() => boxIou(f32([0, 0, 1]), f32([0, 0, 1, 1]))).toThrow(/multiple of 4/);
  });
});

describe('box helpers', () => {
  it('boxArea: width x height, degenerate boxes 0', () => {
    expect(Array.from(boxArea(f32([0, 0, 2, 3, 1, 1, 1, 5, 4, 4, 2, 2])))).toEqual([6, 0, 0]);
  });

  it('clipBoxes clips every coordinate to the image, in place', () => {
    const b = f32([-5, -1, 50, 30, 10, 10, 20, 20]);
    const out = clipBoxes(b, 25, 40);
    expect(out).toBe(b);
    expect(Array.from(b)).toEqual([0, 0, 40, 25, 10, 10, 20, 20]);
  });

  it('converts COCO [x, y, w, h] to x1y1x2y2 and back', () => {
    const xywh = [10, 20, 5, 7, 0.5, 1.5, 2, 3];
    const xyxy = xywhToXyxy(xywh);
    expect(Array.from(xyxy)).toEqual([10, 20, 15, 27, 0.5, 1.5, 2.5, 4.5]);
    expect(Array.from(xyxyToXywh(xyxy))).toEqual(xywh);
  });
});
