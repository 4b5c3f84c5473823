import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeActivationFactory } from '../../src/activations/registry.js';
import type { ActivationFactory, ActivationSite } from '../../src/activations/types.js';
import { ActivationSchema } from '../../src/config/schema.js';
import { countTrainable } from '../../src/models/census.js';
import { detectorBackbones, detectorNames, getDetector } from '../../src/models/detectors.js';
import { hasFeatures, type DetectorBuildOptions } from '../../src/models/features.js';
import { getModel } from '../../src/models/registry.js';
import { buildRetinaNet, NearestUpsample } from '../../src/models/retinanet.js';
import type { BatchNorm } from '../../src/nn/batch-norm.js';

/** A ReLU factory that records every site it is asked for. */
function recording(): { factory: ActivationFactory; sites: ActivationSite[] } {
  const inner = makeActivationFactory(ActivationSchema.parse({ name: 'relu' }), 0);
  const sites: ActivationSite[] = [];
  return {
    sites,
    factory: (site) => {
      sites.push(site);
      return inner(site);
    },
  };
}

function options(extra: Partial<DetectorBuildOptions> = {}): DetectorBuildOptions {
  return {
    backbone: 'resnet18',
    width: 0.125,
    channels: 3,
    numClasses: 3,
    activation: recording().factory,
    sites: 'all',
    seed: 7,
    headWidth: 16,
    headConvs: 4,
    backboneBn: 'frozen',
    anchorsPerLocation: 9,
    priorProb: 0.01,
    ...extra,
  };
}

function isDetectorLayer(name: string): boolean {
  return name.startsWith('fpn.') || name.startsWith('head.') || name === 'cls' || name === 'box';
}

function std(v: Float32Array): number {
  let m = 0;
  for (const x of v) m += x;
  m /= v.length;
  let s = 0;
  for (const x of v) s += (x - m) ** 2;
  return Math.sqrt(s / v.length);
}

function weightOf(model: tfl.LayersModel, layer: string, index: number): Float32Array {
  return model.getLayer(layer).getWeights()[index]!.dataSync() as Float32Array;
}

describe('RetinaNet', () => {
  let model: tfl.LayersModel;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    model = buildRetinaNet(options());
  });

  it('gives one cls row of K logits and one box row of 4 deltas per anchor, for any padded size', () => {
    // anchors: 9 per location of P3..P7 (strides 8..128)
    const cases: [number, number, number][] = [
      [128, 128, (16 * 16 + 8 * 8 + 4 * 4 + 2 * 2 + 1 * 1) * 9],
      [128, 256, (16 * 32 + 8 * 16 + 4 * 8 + 2 * 4 + 1 * 2) * 9],
    ];
    for (const [h, w, anchors] of cases) {
      const [cls, box] = tf.tidy(() => model.apply(tf.randomNormal([1, h, w, 3], 0, 1, 'float32', 1), { training: false }) as tf.Tensor[]);
      expect(cls!.shape).toEqual([1, anchors, 3]);
      expect(box!.shape).toEqual([1, anchors, 4]);
      tf.dispose([cls!, box!]);
    }
    expect(model.outputNames).toEqual(['cls', 'box']);
  });

  it('initialises the heads as torchvision: N(0, 0.01) convs, cls bias -log(99), box bias 0; FPN kaiming_uniform(a=1)', () => {
    for (const name of ['head.cls.conv0', 'head.cls.conv3', 'head.box.conv1', 'head.cls.logits', 'head.box.reg']) {
      // 3*3*16*16 = 2304 draws (3*3*16*27 for the logits): the sample std is within 4% of 0.01
      expect(Math.abs(std(weightOf(model, name, 0)) - 0.01)).toBeLessThan(4e-4);
    }
    const clsBias = weightOf(model, 'head.cls.logits', 1);
    expect(clsBias.length).toBe(9 * 3);
    for (const v of clsBias) expect(v).toBeCloseTo(-Math.log(99), 5);
    for (const name of ['head.box.reg', 'head.cls.conv0', 'fpn.inner3', 'fpn.p7']) for (const v of weightOf(model, name, 1)) expect(v).toBe(0);
    // fpn.inner5: 1x1 conv from C5 (64 channels at width 0.125): bound sqrt(3 / 64), std sqrt(1 / 64)
    const w = weightOf(model, 'fpn.inner5', 0);
    const bound = Math.sqrt(3 / 64);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.98 * bound);
    expect(Math.abs(std(w) - 1 / 8)).toBeLessThan(0.01);
  });

  it('headInit kaiming starts the hidden head convs He-normal (std sqrt(2 / (9 * width))) and keeps the predictors at N(0, 0.01)', () => {
    const m = buildRetinaNet(options({ headInit: 'kaiming' }));
    try {
      // fan = 3 * 3 * 16 = 144: sigma sqrt(2 / 144) = 0.1179; tfjs's varianceScaling draws a normal truncated at 2 sigma,
      // whose std is 0.8796 sigma (the backbone's convs are drawn the same way)
      for (const name of ['head.cls.conv0', 'head.box.conv3']) expect(Math.abs(std(weightOf(m, name, 0)) - 0.8796 * Math.sqrt(2 / 144))).toBeLessThan(0.006);
      for (const name of ['head.cls.logits', 'head.box.reg']) expect(Math.abs(std(weightOf(m, name, 0)) - 0.01)).toBeLessThan(4e-4);
    } finally {
      m.dispose();
    }
  });

  it('asks the activation factory for every site: backbone, fpn.p6.act and 2 x headConvs head sites', () => {
    const rec = recording();
    const m = buildRetinaNet(options({ activation: rec.factory }));
    const names = rec.sites.map((s) => s.name);
    // ResNet-18: stem + 8 basic blocks x 2 sites
    expect(names.length).toBe(17 + 1 + 2 * 4);
    expect(names.slice(17)).toEqual([
      'fpn.p6.act',
      'head.cls.act0',
      'head.cls.act1',
      'head.cls.act2',
      'head.cls.act3',
      'head.box.act0',
      'head.box.act1',
      'head.box.act2',
      'head.box.act3',
    ]);
    for (const s of rec.sites.slice(17)) expect([s.channels, s.rank]).toEqual([16, 4]);
    // one instance per head site, applied to the five levels
    expect(m.getLayer('head.cls.act2').inboundNodes.length).toBe(5);
    expect(m.getLayer('head.box.reg').inboundNodes.length).toBe(5);
    m.dispose();
  });

  it('has the classifier layer names, in creation order, and the same initial backbone weights for one seed', () => {
    const cls = getModel('resnet18')!.build({
      inputShape: [128, 128, 3],
      numClasses: 10,
      width: 0.125,
      stem: 'imagenet',
      activation: recording().factory,
      seed: 7,
    });
    const byId = (m: tfl.LayersModel) => [...m.layers].sort((a, b) => a.id - b.id).map((l) => l.name);
    const det = byId(model).filter((n) => !isDetectorLayer(n));
    expect(det).toEqual(byId(cls).filter((n) => n !== 'fc' && n !== 'pool'));
    expect(det).toContain('layer4.1.act2');
    for (const name of ['stem.conv', 'layer2.0.downsample.conv', 'layer4.1.conv2']) {
      expect(Array.from(weightOf(model, name, 0))).toEqual(Array.from(weightOf(cls, name, 0)));
    }
    cls.dispose();
  });

  it('applies one head to every level: P7 (1x1) through the head equals the convs applied by hand', () => {
    const x = tf.randomNormal([1, 128, 128, 3], 0, 1, 'float32', 3);
    const sub = tfl.model({ inputs: model.inputs, outputs: ['fpn.p7', 'cls', 'box'].map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
    const [p7, cls, box] = sub.predict(x) as tf.Tensor[];
    expect(p7!.shape).toEqual([1, 1, 1, 16]);
    // On a 1x1 map a 3x3 'same' conv sees only its centre tap: y = x . K[1][1] + b, then ReLU.
    const conv = (input: number[], layer: string, relu: boolean): number[] => {
      const [k, b] = model.getLayer(layer).getWeights() as [tf.Tensor4D, tf.Tensor1D];
      const [, , cin, cout] = k.shape;
      const kv = k.dataSync();
      const bv = b.dataSync();
      const out: number[] = [];
      for (let o = 0; o < cout; o++) {
        let s = bv[o]!;
        for (let i = 0; i < cin; i++) s += input[i]! * kv[(1 * 3 + 1) * cin * cout + i * cout + o]!;
        out.push(relu ? Math.max(0, s) : s);
      }
      return out;
    };
    const byHand = (head: 'cls' | 'box', predictor: string): number[] => {
      let h = Array.from(p7!.dataSync());
      for (let i = 0; i < 4; i++) h = conv(h, `head.${head}.conv${i}`, true);
      return conv(h, `head.${head}.${predictor}`, false);
    };
    // P7's 9 anchors are the last 9 rows
    const last = (t: tf.Tensor, per: number) => Array.from(t.dataSync().slice(t.size - 9 * per));
    const expectClose = (got: number[], want: number[]) => {
      expect(got.length).toBe(want.length);
      got.forEach((g, i) => expect(Math.abs(g - want[i]!)).toBeLessThan(1e-5));
    };
    expectClose(last(cls!, 3), byHand('cls', 'logits'));
    expectClose(last(box!, 4), byHand('box', 'reg'));
    tf.dispose([x, p7!, cls!, box!]);
  });

  it('runs one gradient step: head, FPN and backbone get gradients; frozen BN weights are not trainable', () => {
    const m = buildRetinaNet(options({ backboneBn: 'frozen', seed: 11 }));
    const bn = m.getLayer('layer2.0.bn1') as BatchNorm;
    expect(bn.frozen).toBe(true);
    expect(bn.trainableWeights.length).toBe(0);
    const names = m.trainableWeights.map((w) => w.originalName);
    expect(names.some((n) => n.includes('bn'))).toBe(false);
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    // 32x32 keeps the CPU backend's convolution gradients fast: C3..C5 4x4, 2x2, 1x1; P6, P7 1x1
    const x = tf.randomNormal([1, 32, 32, 3], 0, 1, 'float32', 5);
    const { value, grads } = tf.variableGrads(() => {
      const [cls, box] = m.apply(x, { training: true }) as tf.Tensor[];
      return tf.add(tf.mean(tf.sigmoid(cls!)), tf.mean(tf.square(box!))) as tf.Scalar;
    }, vars);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    const norm = (layer: string): number => {
      const v = m.getLayer(layer).getWeights()[0] as tf.Tensor;
      const g = Object.entries(grads).find(([n]) => n === (v as tf.Variable).name)?.[1];
      if (!g) return -1;
      return tf.tidy(() => tf.norm(g).dataSync()[0]!);
    };
    for (const layer of ['head.cls.logits', 'head.box.conv0', 'fpn.inner3', 'fpn.p7', 'layer4.1.conv2', 'stem.conv']) {
      expect(norm(layer), layer).toBeGreaterThan(0);
    }
    tf.dispose([x, value, ...Object.values(grads)]);
    m.dispose();
  });

  it('frozen backbone BN: training mode uses and keeps the running statistics; train mode updates them', () => {
    const stats = (m: tfl.LayersModel) => (m.getLayer('layer3.0.bn2') as BatchNorm).movingMean.read().dataSync().slice();
    const x = tf.randomNormal([2, 64, 64, 3], 1, 2, 'float32', 9);
    for (const mode of ['frozen', 'train'] as const) {
      const m = buildRetinaNet(options({ backboneBn: mode }));
      // C5 and the logits: the head's N(0, 0.01) init makes the logits nearly constant, C5 shows the normalisation
      const sub = tfl.model({ inputs: m.inputs, outputs: [m.getLayer('layer4.1.act2').output as tfl.SymbolicTensor, m.outputs[0]!] });
      const before = stats(m);
      const trained = sub.apply(x, { training: true }) as tf.Tensor[];
      const after = stats(m);
      const evaluated = sub.apply(x, { training: false }) as tf.Tensor[];
      const diffs = trained.map((t, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(t, evaluated[i]!))).dataSync()[0]!));
      if (mode === 'frozen') {
        expect(Array.from(after)).toEqual(Array.from(before));
        expect(diffs).toEqual([0, 0]);
      } else {
        expect(Array.from(after)).not.toEqual(Array.from(before));
        expect(diffs[0]).toBeGreaterThan(0.1);
      }
      tf.dispose([...trained, ...evaluated]);
      m.dispose();
    }
    x.dispose();
  });

  it('has the hand-counted parameters (ResNet-18 at width 1/8, head width 16, K = 3)', () => {
    const conv3 = (cin: number, cout: number) => 9 * cin * cout;
    // backbone convs (no bias), channels 8/16/32/64
    const stem = 7 * 7 * 3 * 8;
    const layer1 = 4 * conv3(8, 8);
    const layer2 = conv3(8, 16) + 3 * conv3(16, 16) + 8 * 16;
    const layer3 = conv3(16, 32) + 3 * conv3(32, 32) + 16 * 32;
    const layer4 = conv3(32, 64) + 3 * conv3(64, 64) + 32 * 64;
    const fpn = (16 + 32 + 64) * 16 + 3 * 16 + 5 * (conv3(16, 16) + 16);
    const heads = 8 * (conv3(16, 16) + 16) + (conv3(16, 27) + 27) + (conv3(16, 36) + 36);
    const frozen = stem + layer1 + layer2 + layer3 + layer4 + fpn + heads;
    expect(countTrainable(model)).toBe(frozen);
    // 'train' adds BN gamma + beta: 8 (stem) + 4 x 8 + 5 x 16 + 5 x 32 + 5 x 64 channels
    const m = buildRetinaNet(options({ backboneBn: 'train' }));
    expect(countTrainable(m)).toBe(frozen + 2 * (8 + 32 + 80 + 160 + 320));
    m.dispose();
  });
});

describe('detection backbones and registry', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('lists RetinaNet and the backbones that expose C3..C5', () => {
    expect(detectorNames()).toEqual(['retinanet']);
    expect(getDetector('retinanet')?.build).toBe(buildRetinaNet);
    expect(getDetector('maskrcnn')).toBeUndefined();
    expect(detectorBackbones()).toEqual(['resnet18', 'resnet34', 'resnet50', 'mobilenet_v2', 'efficientnet_b0']);
    expect(() => buildRetinaNet(options({ backbone: 'resnet20' }))).toThrow(/resnet20.*one of: resnet18/);
    expect(() => buildRetinaNet(options({ priorProb: 1 }))).toThrow(/prior/);
  });

  it('taps the mobile families at the last block of strides 8, 16, 32 (timm), widths as torchvision rounds them', () => {
    // width 0.5: MobileNet-V2 stages 32/96/320 -> 16/48/160; EfficientNet-B0 40/112/320 -> 24/56/160
    const cases: [string, string[], number[]][] = [
      ['mobilenet_v2', ['features.6.add', 'features.13.add', 'features.17.project.bn'], [16, 48, 160]],
      ['efficientnet_b0', ['features.3.1.add', 'features.5.2.add', 'features.7.0.project.bn'], [24, 56, 160]],
    ];
    for (const [arch, layers, channels] of cases) {
      const entry = getModel(arch)!;
      if (!hasFeatures(entry)) throw new Error(`${arch} has no features`);
      const f = entry.features({ width: 0.5, channels: 3, stem: 'imagenet', activation: recording().factory, sites: 'all', seed: 0, bn: 'train' });
      const taps = [f.c3, f.c4, f.c5];
      expect(taps.map((t) => t.sourceLayer.name)).toEqual(layers);
      expect(f.channels).toEqual(channels);
      const m = tfl.model({ inputs: f.input, outputs: taps });
      const out = m.predict(tf.zeros([1, 64, 96, 3])) as tf.Tensor[];
      expect(out.map((t) => t.shape.slice(1, 3))).toEqual([
        [8, 12],
        [4, 6],
        [2, 3],
      ]);
      tf.dispose(out);
      m.dispose();
    }
  });

  it('upsamples nearest 2x (cropped to odd sizes as F.interpolate) and sums the gradient over the copies', () => {
    const h = 3;
    const w = 2;
    const xs = Array.from({ length: h * w * 2 }, (_, i) => i * 0.5 - 2);
    const x = tf.tensor4d(xs, [1, h, w, 2]);
    const up = new NearestUpsample({ name: 'up' });
    for (const [th, tw] of [
      [6, 4],
      [5, 3],
    ] as const) {
      const like = tf.zeros([1, th, tw, 1]);
      const y = up.apply([x, like]) as tf.Tensor;
      expect(y.shape).toEqual([1, th, tw, 2]);
      const got = y.dataSync();
      // torch's nearest: source index floor(i * in / out)
      for (let i = 0; i < th; i++) {
        for (let j = 0; j < tw; j++) {
          for (let c = 0; c < 2; c++) {
            const si = Math.floor((i * h) / th);
            const sj = Math.floor((j * w) / tw);
            expect(got[(i * tw + j) * 2 + c]).toBe(xs[(si * w + sj) * 2 + c]);
          }
        }
      }
      // d sum(y * r) / dx = sum of r over the copies of each x
      const r = tf.randomNormal([1, th, tw, 2], 0, 1, 'float32', 2);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(up.apply([v, like]) as tf.Tensor, r)))(x);
      const rv = r.dataSync();
      const want = new Float64Array(xs.length);
      for (let i = 0; i < th; i++) {
        for (let j = 0; j < tw; j++) {
          for (let c = 0; c < 2; c++) want[(Math.floor((i * h) / th) * w + Math.floor((j * w) / tw)) * 2 + c]! += rv[(i * tw + j) * 2 + c]!;
        }
      }
      Array.from(g.dataSync()).forEach((v, k) => expect(v).toBeCloseTo(want[k]!, 5));
      tf.dispose([like, y, r, g]);
    }
    expect(() => up.apply([x, tf.zeros([1, 8, 4, 1])])).toThrow(/cannot upsample/);
    x.dispose();
  });
});
