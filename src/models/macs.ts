import type * as tfl from '@tensorflow/tfjs-layers';

const COUNTED = new Set(['Conv2D', 'DepthwiseConv2D', 'Dense']);

/**
 * Multiply-accumulates of one image's forward pass, from the layer shapes, as torchvision's
 * "GFLOPS" column counts them: convolutions (kh*kw*Cin*Cout per output position), depthwise
 * convolutions (kh*kw*C per output position), SE 1x1 convolutions and dense layers (in*out).
 * Not counted: batch norm, activations, pooling, residual adds, SE rescaling, and anything inside
 * custom activation layers (e.g. FReLU's depthwise conv).
 */
export function countMacs(model: tfl.LayersModel): number {
  let macs = 0;
  for (const layer of model.layers) {
    if (!COUNTED.has(layer.getClassName())) continue;
    const kernel = layer.weights[0];
    const k = (kernel.shape as number[]).reduce((a, b) => a * b, 1);
    const out = layer.outputShape as (number | null)[];
    const positions = out.length === 4 ? (out[1] ?? 0) * (out[2] ?? 0) : 1;
    macs += k * positions;
  }
  return macs;
}
