/**
 * RetinaNet anchors against torchvision's AnchorGenerator, with the expected values worked out by
 * hand from its formula: sizes int(s * 2^(k/3)) (32, 40, 50 on P3; 64, 80, 101 on P4; ...), base
 * anchors round([-w, -h, w, h] / 2) with h = sqrt(r) s, w = s / sqrt(r) in float32 and torch.round's
 * half-to-even, shifts (x * stride, y * stride), order level / y / x / (ratio, size).
 */
import { describe, expect, it } from 'vitest';
import { anchorsPerLocation, levelSizes, retinaNetAnchors } from '../../src/detection/anchors.js';

const anchor = (a: Float32Array, i: number): number[] => Array.from(a.subarray(4 * i, 4 * i + 4));

describe('retinaNetAnchors', () => {
  it('has (16*16 + 8*8 + 4*4 + 2*2 + 1) * 9 anchors for 128 x 128', () => {
    expect(anchorsPerLocation()).toBe(9);
    expect(retinaNetAnchors(128, 128).length).toBe(4 * 341 * 9);
  });

  it('uses torchvision sizes, truncated to integers', () => {
    expect(levelSizes()).toEqual([
      [32, 40, 50],
      [64, 80, 101],
      [128, 161, 203],
      [256, 322, 406],
      [512, 645, 812],
    ]);
  });

  it('gives torchvision base anchors at the first location', () => {
    // Size 32, 40, 50 with ratio 0.5: h = 0.70710677 s, w = 1.4142135 s (float32), halves
    // (22.63, 11.31), (28.28, 14.14), (35.36, 17.68) round to (23, 11), (28, 14), (35, 18).
    // Ratio 1: halves 16, 20, 25. Ratio 2: the ratio-0.5 values with w and h swapped.
    const want = [
      [-23, -11, 23, 11],
      [-28, -14, 28, 14],
      [-35, -18, 35, 18],
      [-16, -16, 16, 16],
      [-20, -20, 20, 20],
      [-25, -25, 25, 25],
      [-11, -23, 11, 23],
      [-14, -28, 14, 28],
      [-18, -35, 18, 35],
    ];
    const a = retinaNetAnchors(128, 128);
    want.forEach((w, i) => expect(anchor(a, i), `anchor ${i}`).toEqual(w));
  });

  it('shifts by the stride at later locations and levels, rounding halves to even', () => {
    const a = retinaNetAnchors(128, 128);
    // P3, location y = 3, x = 5: index (3 * 16 + 5) * 9 = 477, shift (40, 24), base [-23, -11, 23, 11].
    expect(anchor(a, 477)).toEqual([17, 13, 63, 35]);
    // P4 starts after 256 * 9 = 2304 anchors; location y = 1, x = 2 (index 10), anchor 5 = ratio 1,
    // size 101: half 50.5 rounds to 50 (torch.round is half to even); shift (32, 16).
    expect(anchor(a, 2304 + 10 * 9 + 5)).toEqual([-18, -34, 82, 66]);
    // P4 anchor 4 (ratio 1, size 80) at location y = 7, x = 7: shift 112, half 40.
    expect(anchor(a, 2304 + 63 * 9 + 4)).toEqual([72, 72, 152, 152]);
    // P5 (after 2304 + 576 = 2880), location 0: sizes 161 and 203 halve to 80.5 -> 80 and 101.5 -> 102.
    expect(anchor(a, 2880 + 4)).toEqual([-80, -80, 80, 80]);
    expect(anchor(a, 2880 + 5)).toEqual([-102, -102, 102, 102]);
    // P7, the last 9: ratio 1, size 645 halves to 322.5 -> 322; size 812 to 406.
    expect(anchor(a, 3060 + 4)).toEqual([-322, -322, 322, 322]);
    expect(anchor(a, 3060 + 5)).toEqual([-406, -406, 406, 406]);
  });

  it('walks locations row-major on a non-square image', () => {
    // 128 high, 256 wide: P3 is 16 x 32; location y = 1, x = 20 is index 52, shift (160, 8).
    const a = retinaNetAnchors(128, 256);
    expect(a.length).toBe(4 * (16 * 32 + 8 * 16 + 4 * 8 + 2 * 4 + 1 * 2) * 9);
    expect(anchor(a, 52 * 9)).toEqual([137, -3, 183, 19]);
  });

  it('uses torchvision stride image // feature for unpadded sizes, and given feature sizes', () => {
    // 100 x 100: P3 is ceil(100 / 8) = 13 wide, stride 100 // 13 = 7.
    const a = retinaNetAnchors(100, 100);
    expect(a.length).toBe(4 * (13 * 13 + 7 * 7 + 4 * 4 + 2 * 2 + 1) * 9);
    expect(anchor(a, 9 + 3)).toEqual([7 - 16, -16, 7 + 16, 16]);
    const b = retinaNetAnchors(64, 64, { sizes: [32], strides: [16], featureSizes: [[2, 2]] });
    expect(b.length).toBe(4 * 4 * 9);
    // stride 64 // 2 = 32; location y = 1, x = 1.
    expect(anchor(b, 3 * 9 + 3)).toEqual([16, 16, 48, 48]);
  });

  it('caches per shape', () => {
    expect(retinaNetAnchors(256, 128)).toBe(retinaNetAnchors(256, 128));
    expect(retinaNetAnchors(256, 128)).not.toBe(retinaNetAnchors(128, 256));
  });
});
