/**
 * The matcher against torchvision's Matcher(0.5, 0.4, allow_low_quality_matches=True), on hand-built
 * IoU matrices whose expected assignments are worked out from torchvision's rules: positives,
 * the ignore band, background, the thresholds' closed ends, low-quality matches (with a tie, and an
 * anchor whose low-quality gt is not its argmax gt), argmax ties, and images without objects.
 */
import { describe, expect, it } from 'vitest';
import { matchAnchors } from '../../src/detection/matcher.js';

const f32 = (rows: number[][]): Float32Array => Float32Array.from(rows.flat());

describe('matchAnchors', () => {
  // 3 gts x 8 anchors.
  const iou = f32([
    [0.7, 0.45, 0.1, 0.0, 0.35, 0.0, 0.05, 0.55],
    [0.2, 0.3, 0.0, 0.1, 0.0, 0.6, 0.05, 0.55],
    [0.0, 0.0, 0.0, 0.3, 0.3, 0.0, 0.0, 0.0],
  ]);

  it('assigns positives, ignored and background anchors, with low-quality matches', () => {
    // a0: gt0 at 0.7. a1: best 0.45, ignored. a2: best 0.1, background. a3 and a4 tie at gt2's
    // highest IoU 0.3, so both are low-quality matches: a3's argmax is gt2, a4's is gt0 (0.35), and
    // a4 takes gt0 as torchvision does. a5: gt1 at 0.6. a6: background. a7: gt0 and gt1 tie at 0.55,
    // the first gt wins.
    expect(Array.from(matchAnchors(iou, 3, 8))).toEqual([0, -2, -1, 2, 0, 1, -1, 0]);
  });

  it('without low-quality matches leaves those anchors to the thresholds', () => {
    expect(Array.from(matchAnchors(iou, 3, 8, { allowLowQuality: false }))).toEqual([0, -2, -1, -1, -1, 1, -1, 0]);
  });

  it('lifts an ignored anchor that is a gt best match, and uses closed lower ends', () => {
    // One gt whose best IoU 0.45 is in the ignore band: anchor 0 becomes its match.
    expect(Array.from(matchAnchors(f32([[0.45, 0.42, 0.1]]), 1, 3))).toEqual([0, -2, -1]);
    // IoU exactly 0.5 is positive, exactly 0.4 ignored, just under 0.4 background.
    expect(Array.from(matchAnchors(f32([[0.5, 0.4, 0.39999, 0.6]]), 1, 4))).toEqual([0, -2, -1, 0]);
  });

  it('honours custom thresholds', () => {
    expect(Array.from(matchAnchors(f32([[0.65, 0.55, 0.45, 0.2]]), 1, 4, { high: 0.6, low: 0.5, allowLowQuality: false }))).toEqual([0, -2, -1, -1]);
  });

  it('makes every anchor background without gts', () => {
    expect(Array.from(matchAnchors(new Float32Array(0), 0, 5))).toEqual([-1, -1, -1, -1, -1]);
  });

  it('gives a gt that overlaps no anchor no low-quality matches', () => {
    // gt1 (a zero-area box) has IoU 0 everywhere; torchvision would match every IoU-0 anchor.
    expect(
      Array.from(
        matchAnchors(
          f32([
            [0.8, 0.2, 0],
            [0, 0, 0],
          ]),
          2,
          3,
        ),
      ),
    ).toEqual([0, -1, -1]);
  });

  it('rejects a matrix of the wrong size', () => {
    expect(() => matchAnchors(new Float32Array(5), 2, 3)).toThrow(/expected 2 x 3/);
  });
});
