import { deriveSeed, Rng } from '../util/rng.js';
import type { MemoryDataset, Split } from './types.js';

/**
 * A seeded synthetic image-classification dataset for tests and smoke runs. Each class is an
 * oriented sinusoidal stripe pattern (orientation pi*c/classes, random phase per image) plus a
 * class-dependent colour/brightness tint, plus Gaussian noise. The tint makes it learnable by a
 * tiny model in a few steps; the stripes give convolutions something spatial to find.
 *
 * Horizontal flips would turn orientation c into classes - c, so `flipOk` is false.
 */

/** Sizes of a synthetic dataset (the `data.synthetic` config block). */
export interface SyntheticSpec {
  train: number;
  test: number;
  size: number;
  channels: number;
  classes: number;
}

/** Fixed base seed: the synthetic dataset is a dataset, so it does not change with the run's seed. */
export const SYNTHETIC_DATA_SEED = 0x5917e71c;

function makeSplit(n: number, spec: SyntheticSpec, rng: Rng): Split {
  const { size, channels, classes } = spec;
  const per = size * size * channels;
  const images = new Uint8Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % classes;
  rng.shuffle(labels);

  // Per-class constants.
  const cosT = new Float64Array(classes);
  const sinT = new Float64Array(classes);
  const freq = new Float64Array(classes);
  const tint = new Float64Array(classes * channels);
  for (let c = 0; c < classes; c++) {
    const theta = (Math.PI * c) / classes;
    cosT[c] = Math.cos(theta);
    sinT[c] = Math.sin(theta);
    freq[c] = (2 * Math.PI * (2 + (c % 2))) / size; // 2 or 3 cycles across the image
    for (let ch = 0; ch < channels; ch++) {
      tint[c * channels + ch] = ch === 0 ? 60 * (classes > 1 ? c / (classes - 1) - 0.5 : 0) : 40 * Math.cos((2 * Math.PI * c) / classes + ch);
    }
  }

  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    const phase = 2 * Math.PI * rng.uniform();
    const base = i * per;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const stripe = 70 * Math.sin(freq[c]! * (x * cosT[c]! + y * sinT[c]!) + phase);
        const o = base + (y * size + x) * channels;
        for (let ch = 0; ch < channels; ch++) {
          const v = 128 + stripe + tint[c * channels + ch]! + 20 * rng.normal();
          images[o + ch] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
        }
      }
    }
  }
  return { images, labels, n };
}

/** Per-channel mean and std of pixel/255 over a split (used as the normalisation statistics). */
export function channelStats(split: Split, channels: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const { images } = split;
  for (let i = 0; i < images.length; i++) {
    const v = images[i]! / 255;
    const ch = i % channels;
    sum[ch] += v;
    sumSq[ch] += v * v;
  }
  const count = images.length / channels;
  const mean = Array.from(sum, (s) => s / count);
  const std = Array.from(sumSq, (s, ch) => Math.sqrt(Math.max(1e-12, s / count - mean[ch]! ** 2)));
  return { mean, std };
}

/** Builds the synthetic dataset deterministically from its spec (and an optional base seed). */
export function makeSynthetic(spec: SyntheticSpec, seed: number = SYNTHETIC_DATA_SEED): MemoryDataset {
  const { train: nTrain, test: nTest, size, channels, classes } = spec;
  const base = deriveSeed(seed, nTrain, nTest, size, channels, classes);
  const train = makeSplit(nTrain, spec, new Rng(deriveSeed(base, 1)));
  const test = makeSplit(nTest, spec, new Rng(deriveSeed(base, 2)));
  const { mean, std } = channelStats(train, channels);
  return {
    name: 'synthetic',
    height: size,
    width: size,
    channels,
    numClasses: classes,
    train,
    test,
    mean,
    std,
    flipOk: false,
    source: 'synthetic',
    classNames: Array.from({ length: classes }, (_, c) => `class${c}`),
  };
}
