import * as tfl from '@tensorflow/tfjs-layers';
import { Builder } from './blocks.js';
import type { ModelBuildOptions, ModelEntry } from './types.js';

/**
 * A small convnet without normalisation layers: three 3x3 convolutions with biases (16, 32, 64
 * channels), each followed by the activation, with a 3x3 stride-2 max pool before the last two,
 * then global pooling and a linear classifier. Without batch norm, nothing in it depends on how a batch is split, so a data-parallel
 * run must equal one process over the global batch with no SyncBatchNorm; also a quick sanity net.
 */
function plainNet(o: ModelBuildOptions): tfl.LayersModel {
  const b = new Builder(o.seed, o.activation);
  const input = tfl.input({ shape: o.inputShape, name: 'input' });
  let x: tfl.SymbolicTensor = input;
  [16, 32, 64].forEach((c, i) => {
    if (i > 0) x = b.maxPool(x, `pool${i}`, 3, 2);
    x = b.conv(x, `conv${i + 1}`, Math.max(1, Math.round(c * o.width)), 3, 1, { bias: true });
    x = b.act(x, `act${i + 1}`);
  });
  const logits = b.dense(b.globalPool(x), 'fc', o.numClasses);
  return tfl.model({ inputs: input, outputs: logits, name: 'plainnet' });
}

export const plainnet: ModelEntry = {
  name: 'plainnet',
  family: 'plainnet',
  description: 'PlainNet: three 3x3 conv + activation layers with max pooling, no normalisation (BN-free checks, quick runs)',
  referenceSize: 32,
  build: plainNet,
};
