import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationFactory } from '../activations/types.js';
import { deriveSeed } from '../util/rng.js';
import { BatchNorm } from './batchnorm.js';

type Sym = tfl.SymbolicTensor;

/** Shared state while building one network: seeded initialisers and the activation factory. */
export class Builder {
  private count = 0;
  constructor(
    readonly seed: number,
    readonly activation: ActivationFactory,
  ) {}

  /** A fresh seed per initialiser, so that the same config always gives the same weights. */
  nextSeed(): number {
    return deriveSeed(this.seed, this.count++);
  }

  /**
   * Convolution with PyTorch's symmetric padding (k // 2 on every side), so that strided
   * convolutions line up with the reference nets; Kaiming-normal (fan-out) init as in torchvision.
   */
  conv(x: Sym, name: string, filters: number, kernel: number, stride = 1, opts: { bias?: boolean; groups?: 'depthwise' } = {}): Sym {
    const pad = Math.floor(kernel / 2);
    let input = x;
    let padding: 'same' | 'valid' = 'same';
    if (stride > 1 && pad > 0) {
      input = tfl.layers.zeroPadding2d({ padding: pad, name: `${name}.pad` }).apply(x) as Sym;
      padding = 'valid';
    }
    if (opts.groups === 'depthwise') {
      return tfl.layers
        .depthwiseConv2d({
          name,
          kernelSize: kernel,
          strides: stride,
          padding,
          useBias: opts.bias ?? false,
          depthwiseInitializer: tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: this.nextSeed() }),
        })
        .apply(input) as Sym;
    }
    return tfl.layers
      .conv2d({
        name,
        filters,
        kernelSize: kernel,
        strides: stride,
        padding,
        useBias: opts.bias ?? false,
        kernelInitializer: tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: this.nextSeed() }),
      })
      .apply(input) as Sym;
  }

  /** Batch norm with the family's epsilon/momentum (PyTorch convention). */
  bn(x: Sym, name: string, opts: { momentum?: number; epsilon?: number } = {}): Sym {
    return new BatchNorm({ name, ...opts }).apply(x) as Sym;
  }

  /** One activation site: a new instance of the configured activation. */
  act(x: Sym, name: string): Sym {
    const channels = x.shape[x.shape.length - 1];
    if (channels == null) throw new Error(`${name}: channel dimension must be known`);
    return this.activation({ name, channels }).apply(x) as Sym;
  }

  /** Classifier head: PyTorch Linear's default uniform(+-1/sqrt(fan_in)) init. */
  dense(x: Sym, name: string, units: number): Sym {
    return tfl.layers
      .dense({
        name,
        units,
        kernelInitializer: tfl.initializers.varianceScaling({ scale: 1 / 3, mode: 'fanIn', distribution: 'uniform', seed: this.nextSeed() }),
        biasInitializer: tfl.initializers.zeros(),
      })
      .apply(x) as Sym;
  }

  globalPool(x: Sym, name = 'pool'): Sym {
    return tfl.layers.globalAveragePooling2d({ name }).apply(x) as Sym;
  }

  add(a: Sym, b: Sym, name: string): Sym {
    return tfl.layers.add({ name }).apply([a, b]) as Sym;
  }
}
