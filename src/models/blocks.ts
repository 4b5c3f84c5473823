import * as tfl from '@tensorflow/tfjs-layers';
import type { ActivationFactory } from '../activations/types.js';
import { deriveSeed } from '../util/rng.js';
import { BatchNorm } from '../nn/batch-norm.js';
import { FixedActivation, SeededDropout, TorchMaxPool } from '../nn/fixed-layers.js';
import { referenceActivation, type SiteKind } from './sites.js';

type Sym = tfl.SymbolicTensor;

/** Shared state while building one network: seeded initialisers and the activation factory. */
export class Builder {
  private count = 0;
  constructor(
    readonly seed: number,
    readonly activation: ActivationFactory,
    /** Which sites `site()` gives the configured activation: every one, or only the primary ones. */
    readonly sites: 'all' | 'default' = 'all',
    /** 'frozen': every `bn()` is a FrozenBatchNorm2d (detection backbones); 'train': ordinary batch norm. */
    readonly bnMode: 'train' | 'frozen' = 'train',
  ) {}

  /** A fresh seed per initialiser, so that the same config always gives the same weights. */
  nextSeed(): number {
    return deriveSeed(this.seed, this.count++);
  }

  /**
   * PyTorch's symmetric padding (k // 2 on every side): explicit zero padding + 'valid' for
   * strided convolutions, where tfjs' 'same' would pad bottom/right only; 'same' otherwise.
   */
  private torchPadding(x: Sym, name: string, kernel: number, stride: number): { input: Sym; padding: 'same' | 'valid' } {
    const pad = Math.floor(kernel / 2);
    if (stride > 1 && pad > 0) return { input: tfl.layers.zeroPadding2d({ padding: pad, name: `${name}.pad` }).apply(x) as Sym, padding: 'valid' };
    return { input: x, padding: 'same' };
  }

  /** The tfjs layer of a convolution (its initialiser draws the next seed). */
  private convLayer(name: string, filters: number, kernel: number, stride: number, padding: 'same' | 'valid', opts: ConvOptions): tfl.layers.Layer {
    const init = opts.init ?? 'kaimingNormalFanOut';
    const seed = this.nextSeed();
    const kernelInitializer =
      init === 'kaimingNormalFanOut'
        ? tfl.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed })
        : init === 'kaimingUniformA1'
          ? tfl.initializers.varianceScaling({ scale: 1, mode: 'fanIn', distribution: 'uniform', seed })
          : tfl.initializers.randomNormal({ mean: 0, stddev: init.std, seed });
    return tfl.layers.conv2d({
      name,
      filters,
      kernelSize: kernel,
      strides: stride,
      padding,
      useBias: opts.bias ?? false,
      kernelInitializer,
      biasInitializer: opts.biasValue === undefined ? 'zeros' : tfl.initializers.constant({ value: opts.biasValue }),
    });
  }

  /** Convolution with PyTorch's padding and torchvision's Kaiming-normal (fan-out) init unless `opts.init` says otherwise. */
  conv(x: Sym, name: string, filters: number, kernel: number, stride = 1, opts: ConvOptions = {}): Sym {
    const { input, padding } = this.torchPadding(x, name, kernel, stride);
    return this.convLayer(name, filters, kernel, stride, padding, opts).apply(input) as Sym;
  }

  /**
   * A stride-1 convolution (PyTorch padding: 'same') as a layer, for weights shared across inputs
   * (RetinaNet's heads run one set of convolutions over every pyramid level).
   */
  sharedConv(name: string, filters: number, kernel: number, opts: ConvOptions = {}): tfl.layers.Layer {
    return this.convLayer(name, filters, kernel, 1, 'same', opts);
  }

  /** Batch norm with the family's epsilon/momentum (PyTorch convention), frozen when the builder's mode says so. */
  bn(x: Sym, name: string, opts: { momentum?: number; epsilon?: number } = {}): Sym {
    return new BatchNorm({ name, ...opts, frozen: this.bnMode === 'frozen' }).apply(x) as Sym;
  }

  /** One activation site: a new instance of the configured activation (the site's `kind` where it does not apply). */
  act(x: Sym, name: string, kind: SiteKind = 'relu'): Sym {
    const channels = x.shape[x.shape.length - 1];
    if (channels == null) throw new Error(`${name}: channel dimension must be known`);
    const layer = this.activation({ name, channels, rank: x.shape.length }) ?? new FixedActivation({ name, kind, role: 'kept' });
    return layer.apply(x) as Sym;
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

  /**
   * An activation site whose reference function is `kind`. `primary` marks sites of the family's
   * main activation (MobileNet-V3: hard-swish); with `sites: 'default'` the others keep their
   * reference function. With `referenceActivation` every site gets its reference function.
   */
  site(x: Sym, name: string, kind: SiteKind, primary = true): Sym {
    const channels = x.shape[x.shape.length - 1];
    if (channels == null) throw new Error(`${name}: channel dimension must be known`);
    return this.siteLayer(name, channels, x.shape.length, kind, primary).apply(x) as Sym;
  }

  /**
   * An activation site as a layer (the rules of `site`), for a site shared across inputs: one
   * instance applied to every pyramid level, so its state (PWLU's statistics) accumulates over
   * the levels as a shared torch module's does.
   */
  sharedSite(name: string, channels: number, kind: SiteKind, primary = true): tfl.layers.Layer {
    return this.siteLayer(name, channels, 4, kind, primary);
  }

  private siteLayer(name: string, channels: number, rank: number, kind: SiteKind, primary: boolean): tfl.layers.Layer {
    if (this.activation === referenceActivation) return new FixedActivation({ name, kind, role: 'configured' });
    if (this.sites === 'default' && !primary) return new FixedActivation({ name, kind, role: 'kept' });
    return this.activation({ name, channels, rank }) ?? new FixedActivation({ name, kind, role: 'kept' });
  }

  /** A squeeze-excitation gate (sigmoid / hard-sigmoid): fixed, never replaced (a gate, not an activation). */
  gate(x: Sym, name: string, kind: 'sigmoid' | 'hardsigmoid'): Sym {
    return new FixedActivation({ name, kind, role: 'gate' }).apply(x) as Sym;
  }

  /**
   * Depthwise convolution with PyTorch padding and torchvision's init: kaiming-normal over
   * PyTorch's fan-out of a [C,1,k,k] weight (C*k*k), which is tfjs' fan-in of [k,k,C,1].
   */
  dwConv(x: Sym, name: string, kernel: number, stride = 1): Sym {
    const { input, padding } = this.torchPadding(x, name, kernel, stride);
    return tfl.layers
      .depthwiseConv2d({
        name,
        kernelSize: kernel,
        strides: stride,
        padding,
        useBias: false,
        depthwiseInitializer: tfl.initializers.varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'normal', seed: this.nextSeed() }),
      })
      .apply(input) as Sym;
  }

  /** PyTorch MaxPool2d(k, s, padding=k//2): padded with -inf, so it is right after any activation. */
  maxPool(x: Sym, name: string, kernel: number, stride: number): Sym {
    return new TorchMaxPool({ name, poolSize: kernel, strides: stride }).apply(x) as Sym;
  }

  /**
   * Linear layer with a family's init: 'torch' = nn.Linear's default (as `dense`); {normal} =
   * N(0, std) (MobileNets); {uniform} = U(-limit, limit) (EfficientNet). Bias starts at zero.
   */
  linear(x: Sym, name: string, units: number, init: LinearInit = 'torch'): Sym {
    if (init === 'torch') return this.dense(x, name, units);
    const seed = this.nextSeed();
    const kernelInitializer =
      'std' in init
        ? tfl.initializers.randomNormal({ mean: 0, stddev: init.std, seed })
        : tfl.initializers.randomUniform({ minval: -init.limit, maxval: init.limit, seed });
    return tfl.layers.dense({ name, units, kernelInitializer, biasInitializer: tfl.initializers.zeros() }).apply(x) as Sym;
  }

  /** Seeded, resumable dropout ('element') or stochastic depth ('row'); identity at inference. */
  dropout(x: Sym, name: string, rate: number, mode: 'element' | 'row' = 'element'): Sym {
    return new SeededDropout({ name, rate, mode, seed: this.nextSeed() }).apply(x) as Sym;
  }

  /** Elementwise product with broadcasting (SE scale). */
  multiply(a: Sym, b: Sym, name: string): Sym {
    return tfl.layers.multiply({ name }).apply([a, b]) as Sym;
  }

  /**
   * Squeeze-and-excitation (torchvision ops.SqueezeExcitation): global average pool, 1x1 conv
   * with bias, activation site `${prefix}.act`, 1x1 conv with bias, gate, rescale.
   */
  se(x: Sym, prefix: string, squeeze: number, act: SiteKind, gate: 'sigmoid' | 'hardsigmoid', primary = true): Sym {
    const c = x.shape[x.shape.length - 1];
    if (c == null) throw new Error(`${prefix}: channel dimension must be known`);
    let s = this.globalPool(x, `${prefix}.pool`);
    s = tfl.layers.reshape({ targetShape: [1, 1, c], name: `${prefix}.reshape` }).apply(s) as Sym;
    s = this.conv(s, `${prefix}.fc1`, squeeze, 1, 1, { bias: true });
    s = this.site(s, `${prefix}.act`, act, primary);
    s = this.conv(s, `${prefix}.fc2`, c, 1, 1, { bias: true });
    s = this.gate(s, `${prefix}.gate`, gate);
    return this.multiply(x, s, `${prefix}.scale`);
  }
}

/**
 * Convolution kernel init: torchvision's classification default (Kaiming normal, fan-out), the
 * FPN's kaiming_uniform_(a=1) (U(+-sqrt(3 / fan_in))), or N(0, std) (RetinaNet's heads).
 */
export type ConvInit = 'kaimingNormalFanOut' | 'kaimingUniformA1' | { std: number };

/** Options of `Builder.conv` / `sharedConv`: bias (default none), kernel init, constant bias init (default 0). */
export interface ConvOptions {
  bias?: boolean;
  init?: ConvInit;
  biasValue?: number;
}

/** Classifier init of a family (see `Builder.linear`). */
export type LinearInit = 'torch' | { std: number } | { limit: number };
