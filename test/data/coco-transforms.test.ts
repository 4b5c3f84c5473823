/**
 * Detection transforms (src/data/coco/transforms.ts) against hand-computed values. The float32 constants below were
 * computed with numpy.float32 the way torchvision computes them (`(np.float32(1) / np.float32(short)) *
 * np.float32(min_size)`, then floor(side * float(scale)) in float64), not with the code under test.
 */
import { describe, expect, it } from 'vitest';
import { boxRatios, flipBoxes, paddedSize, resizeBoxes, resizedSize, resizeScale } from '../../src/data/coco/transforms.js';

describe('resize keeping aspect (torchvision GeneralizedRCNNTransform)', () => {
  it('a 100x50 image with min 64 max 100 is capped by the longer side: scale 1, size unchanged', () => {
    // min(64 / 50, 100 / 100) = min(1.28, 1) = 1.
    expect(resizeScale(50, 100, 64, 100)).toBe(1);
    expect(resizedSize(50, 100, 64, 100)).toEqual({ height: 50, width: 100 });
    // Portrait: the same scale, axes swapped.
    expect(resizedSize(100, 50, 64, 100)).toEqual({ height: 100, width: 50 });
  });

  it('float32 scale: 64 / 50 is 1.2799999713897705, so 50 -> 63 and 100 -> 127 (not 64 and 128)', () => {
    expect(resizeScale(50, 100, 64, 200)).toBe(1.2799999713897705);
    expect(resizedSize(50, 100, 64, 200)).toEqual({ height: 63, width: 127 });
    // Shrinking: 32 / 50 in float32 is 0.6399999856948853; 50 -> 31, 100 -> 63.
    expect(resizedSize(50, 100, 32, 100)).toEqual({ height: 31, width: 63 });
  });

  it("COCO's 640x480 goes to 1066x800 (reciprocal times min_size: 1.6666667461395264), 640x427 to 1199x799", () => {
    expect(resizeScale(480, 640, 800, 1333)).toBe(1.6666667461395264);
    expect(resizedSize(480, 640, 800, 1333)).toEqual({ height: 800, width: 1066 });
    expect(resizedSize(427, 640, 800, 1333)).toEqual({ height: 799, width: 1199 });
    // A long image is capped by max_size: 1333 / 2000 is 0.6665000319480896 in float32; 500 * it -> 333, 2000 * it -> 1333.
    expect(resizeScale(500, 2000, 800, 1333)).toBe(0.6665000319480896);
    expect(resizedSize(500, 2000, 800, 1333)).toEqual({ height: 333, width: 1333 });
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => resizedSize(0, 10, 8, 16)).toThrow(RangeError);
    expect(() => resizedSize(10, 10.5, 8, 16)).toThrow(RangeError);
  });
});

describe('boxes follow the resize (resize_boxes) and the flip', () => {
  it('ratios are new / old per axis in float32 and boxes are scaled by them', () => {
    const [ry, rx] = boxRatios({ height: 50, width: 100 }, { height: 63, width: 127 });
    expect(ry).toBe(Math.fround(1.26));
    expect(rx).toBe(Math.fround(1.27));
    const out = resizeBoxes(Float32Array.of(10, 5, 30, 25), ry, rx);
    // 10 * 1.27, 5 * 1.26, 30 * 1.27, 25 * 1.26
    expect(Array.from(out).map((v) => Number(v.toFixed(4)))).toEqual([12.7, 6.3, 38.1, 31.5]);
    expect(out[0]).toBe(Math.fround(10 * Math.fround(1.27)));
  });

  it('flip: x1 -> W - x2, x2 -> W - x1, y unchanged, width preserved', () => {
    const out = flipBoxes(Float32Array.of(10, 5, 30, 25, 0, 0, 100, 50), 100);
    expect(Array.from(out)).toEqual([70, 5, 90, 25, 0, 0, 100, 50]);
    expect(out[2]! - out[0]!).toBe(20);
  });
});

describe('padded batch size', () => {
  it('rounds the largest height and width up to a multiple of pad_to', () => {
    expect(
      paddedSize(
        [
          { height: 63, width: 127 },
          { height: 100, width: 50 },
        ],
        128,
      ),
    ).toEqual({ height: 128, width: 128 });
    expect(paddedSize([{ height: 129, width: 128 }], 128)).toEqual({ height: 256, width: 128 });
    expect(paddedSize([{ height: 800, width: 1066 }], 32)).toEqual({ height: 800, width: 1088 });
  });
});
