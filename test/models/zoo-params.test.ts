import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeDivisible } from '../../src/models/inverted-residual.js';
import { FixedActivation } from '../../src/nn/fixed-layers.js';
import { countMacs } from '../../src/models/macs.js';
import { modelNames } from '../../src/models/registry.js';
import { countActivationSites, countAllSites } from '../../src/models/sites.js';
import { activationParamCount, countTrainable } from '../../src/models/census.js';
import { buildArch, factory } from '../helpers/zoo.js';

// torchvision 0.14: parameter counts (its weights' meta "num_params") and MACs ("GFLOPS").
const REFERENCE: Record<string, { params: number; macs: number; sites: number }> = {
  resnet18: { params: 11_689_512, macs: 1.814e9, sites: 17 },
  resnet34: { params: 21_797_672, macs: 3.664e9, sites: 33 },
  resnet50: { params: 25_557_032, macs: 4.089e9, sites: 49 },
  mobilenet_v2: { params: 3_504_872, macs: 0.301e9, sites: 35 },
  mobilenet_v3_large: { params: 5_483_032, macs: 0.217e9, sites: 40 },
  mobilenet_v3_small: { params: 2_542_856, macs: 0.057e9, sites: 33 },
  efficientnet_b0: { params: 5_288_548, macs: 0.386e9, sites: 49 },
};

const IMAGENET = { inputShape: [224, 224, 3] as [number, number, number], numClasses: 1000, stem: 'imagenet' as const };

describe('architecture zoo: torchvision parameter counts', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('registers every family', () => {
    expect(modelNames()).toEqual(expect.arrayContaining(Object.keys(REFERENCE)));
  });

  for (const [arch, ref] of Object.entries(REFERENCE)) {
    it(`${arch}: ${ref.params.toLocaleString('en-US')} params, MACs and sites at 224 with the reference activations`, () => {
      const m = buildArch(arch, { ...IMAGENET, activation: factory('reference') });
      expect(countTrainable(m)).toBe(ref.params);
      expect(countActivationSites(m)).toBe(ref.sites);
      expect(countAllSites(m)).toBe(ref.sites);
      // torchvision rounds GFLOPS to 3 decimals.
      expect(Math.abs(countMacs(m) - ref.macs)).toBeLessThanOrEqual(0.0005e9);
      m.dispose();
    });
  }

  it('a learnable activation adds its parameters on top, one instance per site', () => {
    const m = buildArch('efficientnet_b0', { ...IMAGENET, activation: factory('swish', { trainable_beta: true }) });
    expect(countTrainable(m)).toBe(REFERENCE.efficientnet_b0.params + 49);
    expect(activationParamCount(m)).toBe(49);
    m.dispose();
  });
});

describe('activation sites', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('names sites stage.block.role, each a distinct instance', () => {
    const m = buildArch('mobilenet_v3_large', { width: 0.25, activation: factory('relu') });
    const acts = m.layers.filter((l) => /\.act\d?$/.test(l.name)).map((l) => l.name);
    expect(new Set(acts).size).toBe(acts.length);
    expect(acts).toEqual(
      expect.arrayContaining(['features.0.act', 'features.2.expand.act', 'features.2.dw.act', 'features.4.se.act', 'features.16.act', 'classifier.act']),
    );
    expect(countActivationSites(m)).toBe(40);
    m.dispose();
    const r = buildArch('resnet50', { width: 0.125 });
    expect(r.layers.map((l) => l.name)).toEqual(expect.arrayContaining(['stem.act', 'layer1.0.act1', 'layer1.0.act2', 'layer1.0.act3', 'layer4.2.act3']));
    r.dispose();
    const e = buildArch('efficientnet_b0', { width: 0.25 });
    expect(e.layers.map((l) => l.name)).toEqual(
      expect.arrayContaining(['features.1.0.dw.act', 'features.1.0.se.act', 'features.6.3.expand.act', 'features.8.act']),
    );
    e.dispose();
  });

  it('SE gates and the final classifier are not sites', () => {
    const m = buildArch('mobilenet_v3_small', { width: 0.25, activation: factory('swish') });
    const gates = m.layers.filter((l) => l.name.endsWith('.gate'));
    expect(gates.length).toBe(9);
    for (const g of gates) expect(g instanceof FixedActivation && g.kind === 'hardsigmoid' && !g.isSite).toBe(true);
    const out = m.layers[m.layers.length - 1];
    expect(out.name).toBe('classifier.fc');
    m.dispose();
    const e = buildArch('efficientnet_b0', { width: 0.25 });
    expect(e.layers.filter((l) => l instanceof FixedActivation && l.kind === 'sigmoid').length).toBe(16);
    e.dispose();
  });

  it("sites: 'default' replaces only MobileNet-V3's hard-swish sites and keeps its ReLU sites", () => {
    for (const [arch, hs] of [
      ['mobilenet_v3_large', 21],
      ['mobilenet_v3_small', 19],
    ] as const) {
      const m = buildArch(arch, { width: 0.25, activation: factory('swish', { trainable_beta: true }), sites: 'default' });
      expect(countActivationSites(m)).toBe(hs);
      expect(activationParamCount(m)).toBe(hs);
      const kept = m.layers.filter((l) => l instanceof FixedActivation && l.role === 'kept');
      expect(kept.length).toBe(countAllSites(m) - hs);
      expect(kept.every((l) => (l as FixedActivation).kind === 'relu')).toBe(true);
      expect(kept.map((l) => l.name)).toContain('features.1.dw.act');
      m.dispose();
    }
    // Single-activation families: 'default' is 'all'.
    const r = buildArch('resnet18', { width: 0.125, sites: 'default' });
    expect(countActivationSites(r)).toBe(17);
    r.dispose();
  });

  it('is deterministic in the seed', () => {
    const a = buildArch('mobilenet_v2', { width: 0.25, seed: 3 });
    const b = buildArch('mobilenet_v2', { width: 0.25, seed: 3 });
    const c = buildArch('mobilenet_v2', { width: 0.25, seed: 4 });
    const wa = a.getWeights().map((w) => Array.from(w.dataSync()));
    expect(b.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(wa);
    expect(c.getWeights().map((w) => Array.from(w.dataSync()))).not.toEqual(wa);
    [a, b, c].forEach((m) => m.dispose());
  });
});

describe('channel rounding', () => {
  it("matches torchvision's _make_divisible", () => {
    expect([32, 16, 24, 9.6, 3.2, 1280, 72 * 0.75, 120 * 0.35].map((v) => makeDivisible(v))).toEqual([32, 16, 24, 16, 8, 1280, 56, 40]);
  });
});
