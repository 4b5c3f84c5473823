/**
 * Anchor-to-ground-truth assignment exactly as torchvision's `Matcher` (models/detection/_utils.py),
 * RetinaNet's Matcher(0.5, 0.4, allow_low_quality_matches=True), so that pwlu trains on the same
 * positives, negatives and ignored anchors as the reference:
 *
 *  1. each anchor takes the gt of its highest IoU (the first gt on a tie, as torch.max(dim=0));
 *  2. that IoU < low: -1 (background); low <= IoU < high: -2 (ignored); >= high: the gt index;
 *  3. low-quality matches: for each gt, every anchor whose IoU with it equals that gt's highest IoU
 *     (ties included) gets back its step-1 match, which is the argmax over gts, not necessarily
 *     this gt (torchvision's `set_low_quality_matches_` indexes `all_matches`).
 *
 * One deliberate difference: a gt whose highest IoU is 0 (a zero-area box, or none overlapping any
 * anchor) makes no low-quality matches. torchvision would "match" every anchor with IoU 0 to it, i.e.
 * turn all background into positives of gt 0; its GeneralizedRCNN rejects such boxes before matching.
 */

/** Background: the anchor's best IoU is below `low`. */
export const BELOW_LOW_THRESHOLD = -1;
/** Ignored in the classification loss: the best IoU is in [low, high). */
export const BETWEEN_THRESHOLDS = -2;

/** The matcher's thresholds; RetinaNet's are the defaults. */
export interface MatcherOptions {
  high: number;
  low: number;
  allowLowQuality: boolean;
}

/** RetinaNet's matcher settings (torchvision's retinanet.py). */
export const RETINANET_MATCHER: Readonly<MatcherOptions> = { high: 0.5, low: 0.4, allowLowQuality: true };

/**
 * Per anchor: the matched gt index (>= 0), -1 background or -2 ignored, from the IoU matrix [numGt,
 * numAnchors] row-major (boxIou(gts, anchors)). With no gts every anchor is background (an image
 * without objects still trains the classifier), where torchvision raises.
 */
export function matchAnchors(iou: ArrayLike<number>, numGt: number, numAnchors: number, opts: Partial<MatcherOptions> = {}): Int32Array {
  const { high, low, allowLowQuality } = { ...RETINANET_MATCHER, ...opts };
  if (low > high) throw new RangeError(`matchAnchors: low threshold ${low} above high threshold ${high}`);
  if (iou.length !== numGt * numAnchors) throw new RangeError(`matchAnchors: IoU matrix has ${iou.length} values, expected ${numGt} x ${numAnchors}`);
  const matches = new Int32Array(numAnchors).fill(BELOW_LOW_THRESHOLD);
  if (numGt === 0 || numAnchors === 0) return matches;

  // Step 1: argmax over gts per anchor (first on ties: strict > keeps the lower index).
  const best = new Float64Array(numAnchors);
  const argmax = new Int32Array(numAnchors);
  for (let a = 0; a < numAnchors; a++) best[a] = iou[a]!;
  for (let g = 1; g < numGt; g++) {
    const row = g * numAnchors;
    for (let a = 0; a < numAnchors; a++) {
      const v = iou[row + a]!;
      if (v > best[a]!) {
        best[a] = v;
        argmax[a] = g;
      }
    }
  }
  // Step 2: thresholds.
  for (let a = 0; a < numAnchors; a++) {
    const v = best[a]!;
    matches[a] = v >= high ? argmax[a]! : v >= low ? BETWEEN_THRESHOLDS : BELOW_LOW_THRESHOLD;
  }
  // Step 3: every anchor that is some gt's best (ties included) keeps its argmax match.
  if (allowLowQuality) {
    for (let g = 0; g < numGt; g++) {
      const row = g * numAnchors;
      let top = -Infinity;
      for (let a = 0; a < numAnchors; a++) if (iou[row + a]! > top) top = iou[row + a]!;
      if (!(top > 0)) continue;
      for (let a = 0; a < numAnchors; a++) if (iou[row + a] === top) matches[a] = argmax[a]!;
    }
  }
  return matches;
}
