/**
 * PIL's antialiased bilinear resampling (ImagingResample with the triangle filter, the filter
 * torchvision's Resize/RandomResizedCrop use), in JS for the step sharp cannot do like PIL: libvips
 * samples an enlargement half an output pixel off PIL's pixel-centre convention and blends the
 * edges with a background, so the sharp decoder enlarges here instead.
 */

/** Decoded pixels, HWC, any channel count (1: grey, 2: grey + alpha, 3: RGB, 4: RGBA). */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/**
 * A window of a resized image: `size` × `size` pixels (or `height` × `width` where given: detection's whole resized
 * image) at (top, left) of the target, mirrored if `flip`.
 */
export interface ResizeWindow {
  targetWidth: number;
  targetHeight: number;
  top: number;
  left: number;
  size: number;
  flip: boolean;
  height?: number;
  width?: number;
}

/** One output sample's source taps on one axis. */
interface Taps {
  first: number;
  weights: Float64Array;
}

/** PIL's per-axis filter taps for output samples first .. first + count - 1 (support widened by the scale when shrinking). */
function axisTaps(inSize: number, outSize: number, first: number, count: number): Taps[] {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const taps: Taps[] = [];
  for (let k = 0; k < count; k++) {
    const center = (first + k + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = new Float64Array(hi - lo);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const d = Math.abs((j - center + 0.5) / support);
      const w = d < 1 ? 1 - d : 0;
      weights[j - lo] = w;
      total += w;
    }
    for (let j = 0; j < weights.length; j++) weights[j]! /= total;
    taps.push({ first: lo, weights });
  }
  return taps;
}

/** PIL rounds each pass to 8 bits (half up) and clips. */
function clip8(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v + 0.5);
}

/**
 * Resizes `src` to targetWidth × targetHeight (horizontal pass, then vertical, as PIL does), computing
 * only the window, and writes it as RGB (grey replicated, alpha dropped) at `offset` of `out`.
 */
export function resizeWindowInto(src: RawImage, win: ResizeWindow, out: Uint8Array, offset: number): void {
  const { width: W, height: H, channels: c, data } = src;
  const outW = win.width ?? win.size;
  const outH = win.height ?? win.size;
  const cols = axisTaps(W, win.targetWidth, win.left, outW);
  const rows = axisTaps(H, win.targetHeight, win.top, outH);
  const y0 = rows[0]!.first;
  const last = rows[outH - 1]!;
  const nRows = last.first + last.weights.length - y0;
  const band = [0, c < 3 ? 0 : 1, c < 3 ? 0 : 2];
  const tmp = new Uint8Array(nRows * outW * 3);
  for (let y = 0; y < nRows; y++) {
    const rowIn = (y0 + y) * W * c;
    for (let x = 0; x < outW; x++) {
      const t = cols[x]!;
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        for (let k = 0; k < t.weights.length; k++) s += t.weights[k]! * data[rowIn + (t.first + k) * c + band[ch]!]!;
        tmp[(y * outW + x) * 3 + ch] = clip8(s);
      }
    }
  }
  for (let y = 0; y < outH; y++) {
    const t = rows[y]!;
    for (let x = 0; x < outW; x++) {
      const o = offset + (y * outW + (win.flip ? outW - 1 - x : x)) * 3;
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        for (let k = 0; k < t.weights.length; k++) s += t.weights[k]! * tmp[((t.first - y0 + k) * outW + x) * 3 + ch]!;
        out[o + ch] = clip8(s);
      }
    }
  }
}
