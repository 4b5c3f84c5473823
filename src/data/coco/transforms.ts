/**
 * The detection input transforms as pure functions of sizes and boxes, with torchvision's arithmetic:
 * resize keeping aspect (GeneralizedRCNNTransform), horizontal flip of boxes, and the padded batch size.
 *
 * torchvision (models/detection/transform.py, 0.10 and later) computes, for an image of h × w:
 *   min_size = torch.min(im_shape).to(torch.float32); max_size = torch.max(...)
 *   scale = torch.min(self_min_size / min_size, self_max_size / max_size)      # float32 tensors
 *   image = F.interpolate(image[None], scale_factor=scale.item(), mode="bilinear",
 *                         recompute_scale_factor=True, align_corners=False)
 * `python_float / tensor` is Tensor.__rdiv__, i.e. `tensor.reciprocal() * python_float`, both in float32, so
 * scale = f32(f32(1 / short) * min_size) (not f32(min_size / short): for a 480-pixel side and 800 they differ, and
 * the output is 800 rather than 799). With recompute_scale_factor=True, interpolate takes the output size
 * floor(in_size * scale) in float64 (torch.nn.functional.interpolate). Boxes then go through resize_boxes: per axis
 * ratio = f32(new) / f32(orig) in float32, box coordinate * ratio in float32. Batches are padded bottom/right with
 * zeros to ceil(max / size_divisible) * size_divisible per axis (batch_images).
 */

/** float32 rounding of a double. */
const f32 = Math.fround;

/** The size of one image, in pixels. */
export interface Size2 {
  height: number;
  width: number;
}

function checkPositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be a positive integer, got ${v}`);
}

/**
 * torchvision's resize scale min(min_size / short, max_size / long) in its float32 arithmetic, so resized sizes (and
 * therefore anchors and boxes) are the ones a torchvision-trained detector saw.
 */
export function resizeScale(height: number, width: number, minSize: number, maxSize: number): number {
  checkPositiveInt(height, 'image height');
  checkPositiveInt(width, 'image width');
  if (!(minSize > 0) || !(maxSize > 0)) throw new RangeError(`min_size and max_size must be positive, got ${minSize} and ${maxSize}`);
  const short = Math.min(height, width);
  const long = Math.max(height, width);
  const byShort = f32(f32(1 / short) * f32(minSize));
  const byLong = f32(f32(1 / long) * f32(maxSize));
  return Math.min(byShort, byLong);
}

/** The resized (unpadded) size: floor(side * scale) per axis, as interpolate with recompute_scale_factor does. */
export function resizedSize(height: number, width: number, minSize: number, maxSize: number): Size2 {
  const scale = resizeScale(height, width, minSize, maxSize);
  const out = { height: Math.floor(height * scale), width: Math.floor(width * scale) };
  if (out.height < 1 || out.width < 1) {
    throw new RangeError(`a ${width}x${height} image resized by ${scale} (min_size ${minSize}, max_size ${maxSize}) has no pixels left`);
  }
  return out;
}

/** resize_boxes' per-axis ratios [height, width] = new / original in float32, the factors boxes are multiplied by. */
export function boxRatios(original: Size2, resized: Size2): [number, number] {
  return [f32(f32(resized.height) / f32(original.height)), f32(f32(resized.width) / f32(original.width))];
}

/** Boxes (xyxy, flat) scaled by the ratios in float32, as resize_boxes does; returns a new array. */
export function resizeBoxes(boxes: Float32Array, ratioY: number, ratioX: number): Float32Array {
  if (boxes.length % 4 !== 0) throw new RangeError(`boxes must hold 4 numbers per box, got ${boxes.length}`);
  const out = new Float32Array(boxes.length);
  const ry = f32(ratioY);
  const rx = f32(ratioX);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = boxes[i]! * rx;
    out[i + 1] = boxes[i + 1]! * ry;
    out[i + 2] = boxes[i + 2]! * rx;
    out[i + 3] = boxes[i + 3]! * ry;
  }
  return out;
}

/**
 * Boxes mirrored with an image of `width` pixels: x1' = width - x2, x2' = width - x1 (torchvision's reference
 * RandomHorizontalFlip); returns a new array, so widths and heights are unchanged and x1' <= x2' still holds.
 */
export function flipBoxes(boxes: Float32Array, width: number): Float32Array {
  if (boxes.length % 4 !== 0) throw new RangeError(`boxes must hold 4 numbers per box, got ${boxes.length}`);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = width - boxes[i + 2]!;
    out[i + 1] = boxes[i + 1]!;
    out[i + 2] = width - boxes[i]!;
    out[i + 3] = boxes[i + 3]!;
  }
  return out;
}

/**
 * The batch's padded size: the largest height and width rounded up to a multiple of `padTo` (batch_images with
 * size_divisible = padTo), so every FPN level of the batch has whole cells.
 */
export function paddedSize(sizes: readonly Size2[], padTo: number): Size2 {
  checkPositiveInt(padTo, 'pad_to');
  let h = 0;
  let w = 0;
  for (const s of sizes) {
    h = Math.max(h, s.height);
    w = Math.max(w, s.width);
  }
  return { height: Math.ceil(h / padTo) * padTo, width: Math.ceil(w / padTo) * padTo };
}
