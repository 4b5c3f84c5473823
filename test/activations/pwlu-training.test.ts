/**
 * PWLU's two-phase method inside the real training loop (cpu backend, synthetic data, a quarter-width
 * ResNet-20): phase I keeps the PWLUs a frozen ReLU while their input statistics accumulate;
 * realignment at the boundary is logged and written to metrics.jsonl; phase II learns non-ReLU
 * shapes, dumped to activations.json; a run interrupted anywhere around the boundary resumes to the
 * same weights as an uninterrupted one. Also the other activations' step hooks (APL penalty, PAU
 * clipping, FReLU decay group).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PWLULayer } from '../../src/activations/pwlu.js';
import { ConfigSchema, type Config } from '../../src/config/schema.js';
import { makeSynthetic } from '../../src/data/synthetic.js';
import { stepHooks } from '../../src/train/activation-hooks.js';
import { Optimizer } from '../../src/train/optimizer.js';
import { createRunDir, RunDir } from '../../src/run/run-dir.js';
import { buildModel, makeTrainStep, paramGroups } from '../../src/train/step.js';
import { train, type TrainOutcome } from '../../src/train/trainer.js';
import { createLogger } from '../../src/util/log.js';
import { createProgress } from '../../src/util/progress.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-phases-');
let runCount = 0;

/** 3 steps per epoch (24 images, batch 8) of a eighth-width ResNet-20 on 6x6 images: about 0.15 s a step on cpu. */
function cfgWith(over: { activation?: Record<string, unknown>; pwlu?: Record<string, unknown>; epochs?: number; maxSteps?: number } = {}): Config {
  return ConfigSchema.parse({
    seed: 5,
    backend: 'cpu',
    model: { arch: 'resnet20', width: 0.125 },
    activation: { name: 'pwlu', ...over.activation, pwlu: { phase1_epochs: 1, n: 8, ...over.pwlu } },
    data: { name: 'synthetic', augment: { crop_padding: 1, flip: false }, synthetic: { train: 24, test: 8, size: 6, channels: 3, classes: 4 } },
    train: { epochs: over.epochs ?? 2, batch: 8, lr: 0.05, schedule: { name: 'cosine', warmup_epochs: 0.5 }, max_steps_per_epoch: over.maxSteps ?? null },
  });
}

interface Run {
  outcome: TrainOutcome;
  dir: string;
}

async function runTraining(cfg: Config, opts: { resumeDir?: string; stopAfter?: number } = {}): Promise<Run> {
  const dir = opts.resumeDir ?? join(tmp, `run${runCount++}`);
  const run = opts.resumeDir ? new RunDir(dir) : createRunDir(dir).run;
  const log = createLogger({ file: run.path('log'), quiet: true });
  let steps = 0;
  try {
    const outcome = await train({
      config: cfg,
      configHash: 'test',
      run,
      log,
      progress: createProgress(false),
      dataset: makeSynthetic(cfg.data.synthetic),
      val: null,
      resume: Boolean(opts.resumeDir),
      shouldStop: () => opts.stopAfter !== undefined && steps++ >= opts.stopAfter,
    });
    return { outcome, dir };
  } finally {
    await log.close();
  }
}

type Rec = Record<string, unknown> & { epoch: number; event?: string };
const records = (dir: string): Rec[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Rec);
const weights = (o: TrainOutcome) => o.model.weights.map((w) => Array.from(w.read().dataSync()));
const pwluLayers = (o: TrainOutcome) => o.model.layers.filter((l): l is PWLULayer => l instanceof PWLULayer);

interface Described {
  name: string;
  type: string;
  realigned: boolean;
  stat_steps: number;
  instances: { bl: number; br: number; kl: number; kr: number; breakpoints: number[]; heights: number[]; running_mean: number; running_std: number }[];
}

describe('PWLU two-phase training', () => {
  const straight: Record<string, Run> = {};

  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  afterAll(() => {
    for (const r of Object.values(straight)) r.outcome.model.dispose();
    removeDir(tmp);
  });

  it('realigns at the boundary (logged, in metrics.jsonl), then learns non-ReLU shapes', async () => {
    const r = await runTraining(cfgWith({ epochs: 2 }));
    straight.layer = r;
    const recs = records(r.dir);
    const realign = recs.filter((l) => l.event === 'realign');
    expect(realign).toHaveLength(19);
    // Realignment sits between the epoch-1 and epoch-2 lines.
    expect(recs.map((l) => l.event ?? l.epoch)).toEqual([1, ...new Array<string>(19).fill('realign'), 2]);
    for (const ev of realign) {
      const { mu, sigma, bl, br } = ev as unknown as { mu: number; sigma: number; bl: number; br: number };
      expect(ev.epoch).toBe(1);
      expect(ev.realigned).toBe(true);
      expect(bl).toBeCloseTo(mu - 3 * sigma, 5);
      expect(br).toBeCloseTo(mu + 3 * sigma, 5);
      expect(sigma).toBeGreaterThan(0);
    }
    const log = readFileSync(join(r.dir, 'train.log'), 'utf8');
    expect(log.match(/"msg":"realign /g)).toHaveLength(19);
    // activations.json: every PWLU layer with breakpoints, heights and phase-I statistics.
    const dump = JSON.parse(readFileSync(join(r.dir, 'activations.json'), 'utf8')) as { epoch: number; layers: Described[] };
    expect(dump.epoch).toBe(2);
    expect(dump.layers).toHaveLength(19);
    let notRelu = 0;
    for (const d of dump.layers) {
      expect(d.type).toBe('pwlu');
      expect(d.realigned).toBe(true);
      expect(d.stat_steps).toBe(3);
      const inst = d.instances[0]!;
      const ev = realign.find((e) => e.layer === d.name) as unknown as { mu: number; sigma: number; bl: number };
      expect(inst.running_mean).toBeCloseTo(ev.mu, 6);
      expect(inst.running_std).toBeCloseTo(ev.sigma, 6);
      expect(inst.breakpoints).toHaveLength(9);
      expect(inst.heights).toHaveLength(9);
      // Phase II moved the bounds away from mu -/+ 3 sigma and bent the shape away from ReLU.
      expect(inst.bl).not.toBe(ev.bl);
      const dev = Math.max(...inst.heights.map((h, i) => Math.abs(h - Math.max(0, inst.breakpoints[i]!))), Math.abs(inst.kl), Math.abs(inst.kr - 1));
      if (dev > 1e-3) notRelu++;
    }
    expect(notRelu).toBe(19);
  });

  it('non-uniform PWLU: the same two phases (realigned to uniform), then its breakpoints move off the uniform grid', async () => {
    const r = await runTraining(ConfigSchema.parse({ ...cfgWith({ epochs: 2 }), activation: { name: 'npwlu', npwlu: { phase1_epochs: 1, n: 8 } } }));
    expect(r.outcome.status).toBe('finished');
    const realign = records(r.dir).filter((l) => l.event === 'realign');
    expect(realign).toHaveLength(19);
    for (const ev of realign) expect(ev.realigned).toBe(true);
    const dump = JSON.parse(readFileSync(join(r.dir, 'activations.json'), 'utf8')) as { layers: Described[] };
    expect(dump.layers).toHaveLength(19);
    let moved = 0;
    for (const d of dump.layers) {
      expect(d.type).toBe('npwlu');
      const { breakpoints: b, bl, br } = d.instances[0]!;
      expect(b).toHaveLength(9);
      expect(b[0]).toBeCloseTo(bl, 6);
      expect(b[8]).toBeCloseTo(br, 6);
      for (let i = 0; i < 8; i++) expect(b[i + 1]!).toBeGreaterThan(b[i]!);
      const uniform = b.map((_, i) => bl + (i * (br - bl)) / 8);
      if (Math.max(...b.map((v, i) => Math.abs(v - uniform[i]!))) > 1e-4) moved++;
    }
    expect(moved).toBe(19);
    r.outcome.model.dispose();
  });

  for (const stopAfter of [2, 3, 4]) {
    const where = stopAfter < 3 ? 'in phase I' : stopAfter === 3 ? 'right after realignment' : 'in phase II';
    it(`resumed after an interruption ${where} gives the same weights as the uninterrupted run`, async () => {
      const ref = straight.layer ?? (straight.layer = await runTraining(cfgWith({ epochs: 2 })));
      const first = await runTraining(cfgWith({ epochs: 2 }), { stopAfter });
      expect(first.outcome.status).toBe('interrupted');
      if (stopAfter < 3) {
        // Phase I: every PWLU is still exactly the initial ReLU, its statistics counted every step.
        for (const l of pwluLayers(first.outcome)) {
          const d = l.describe() as unknown as Described;
          expect(d.stat_steps).toBe(stopAfter);
          expect(d.realigned).toBe(false);
          const inst = d.instances[0]!;
          expect([inst.bl, inst.br, inst.kl, inst.kr]).toEqual([-3, 3, 0, 1]);
          expect(inst.heights).toEqual(inst.breakpoints.map((b) => Math.max(0, b)));
          expect(inst.running_std).toBeGreaterThan(0);
          expect(inst.running_mean).not.toBe(0);
        }
      }
      first.outcome.model.dispose();
      const resumed = await runTraining(cfgWith({ epochs: 2 }), { resumeDir: first.dir });
      expect(resumed.outcome.status).toBe('finished');
      expect(weights(resumed.outcome)).toEqual(weights(ref.outcome));
      // Exactly one realignment per layer across both processes.
      expect(records(first.dir).filter((l) => l.event === 'realign')).toHaveLength(19);
      resumed.outcome.model.dispose();
    });
  }

  it('channel-wise: per-channel statistics and bounds', async () => {
    const r = await runTraining(cfgWith({ pwlu: { granularity: 'channel' } }));
    const ev = records(r.dir).find((l) => l.event === 'realign' && l.layer === 'stage3.block0.act1') as unknown as {
      mu: number[];
      sigma: number[];
      bl: number[];
      br: number[];
    };
    expect(ev.mu).toHaveLength(8);
    ev.bl.forEach((b, c) => expect(b).toBeCloseTo(ev.mu[c]! - 3 * ev.sigma[c]!, 5));
    const dump = JSON.parse(readFileSync(join(r.dir, 'activations.json'), 'utf8')) as { layers: Described[] };
    expect(dump.layers.find((l) => l.name === 'stage3.block0.act1')!.instances).toHaveLength(8);
    r.outcome.model.dispose();
  });

  it('activation.pwlu.realign false: the ablation keeps the initial bounds at the boundary, then learns', async () => {
    const r = await runTraining(cfgWith({ pwlu: { realign: false } }));
    const evs = records(r.dir).filter((l) => l.event === 'realign');
    expect(evs).toHaveLength(19);
    for (const ev of evs) {
      expect(ev.realigned).toBe(false);
      expect([ev.bl, ev.br]).toEqual([-3, 3]);
    }
    const d = pwluLayers(r.outcome)[0]!.describe() as unknown as Described;
    expect(d.instances[0]!.bl).not.toBe(-3);
    r.outcome.model.dispose();
  });

  it('phase1_epochs 0: learns from the first step, never realigns', async () => {
    const r = await runTraining(cfgWith({ pwlu: { phase1_epochs: 0 }, epochs: 1, maxSteps: 1 }));
    expect(records(r.dir).filter((l) => l.event)).toEqual([]);
    const d = pwluLayers(r.outcome)[0]!.describe() as unknown as Described;
    expect(d.stat_steps).toBe(0);
    expect(d.instances[0]!.bl).not.toBe(-3);
    r.outcome.model.dispose();
  });

  it('keeps BR - BL above the minimum width', () => {
    const cfg = cfgWith({ pwlu: { min_width: 0.5 } });
    const ds = makeSynthetic(cfg.data.synthetic);
    const model = buildModel(cfg, ds);
    const layer = model.layers.find((l): l is PWLULayer => l instanceof PWLULayer)!;
    const [bl, br] = [layer.weights[3]!, layer.weights[4]!];
    expect([bl.originalName, br.originalName]).toEqual([`${layer.name}/bl`, `${layer.name}/br`]);
    bl.write(tf.tensor1d([0.3]));
    br.write(tf.tensor1d([0.1]));
    layer.afterStep();
    expect(Array.from(bl.read().dataSync())[0]).toBeCloseTo(-0.05, 6);
    expect(Array.from(br.read().dataSync())[0]).toBeCloseTo(0.45, 6);
    model.dispose();
  });

  it('gathers the phase I statistics without keeping full-size tensors for the backward pass', () => {
    const cfg = cfgWith();
    const model = buildModel(cfg, makeSynthetic(cfg.data.synthetic));
    const layer = model.layers.find((l): l is PWLULayer => l instanceof PWLULayer)!;
    const x = tf.randomNormal([8, 6, 6, 4], 0, 1, 'float32', 3);
    // bytes alive after the layer's training call inside the tape: its output plus whatever the tape keeps
    const held = (phase: 'statistics' | 'learning'): number => {
      layer.phase = phase;
      let bytes = 0;
      const { value, grads } = tf.variableGrads(() => {
        const before = tf.memory().numBytes;
        const y = layer.apply(x, { training: true }) as tf.Tensor;
        bytes = tf.memory().numBytes - before;
        return tf.sum(y) as tf.Scalar;
      }, [layer.weights[0]!.read() as tf.Variable]);
      tf.dispose([value, ...Object.values(grads)]);
      return bytes;
    };
    const learning = held('learning');
    expect(learning).toBeGreaterThanOrEqual(x.size * 4); // the output
    // tf.moments on the tape would keep x - mean and its square: two more copies of x
    expect(held('statistics') - learning).toBeLessThan(x.size);
    x.dispose();
    model.dispose();
  });

  it('keeps the tensor count flat across steps in both phases', () => {
    const cfg = cfgWith();
    const ds = makeSynthetic(cfg.data.synthetic);
    const model = buildModel(cfg, ds);
    const params = paramGroups(model, cfg.train.no_decay);
    const opt = new Optimizer(cfg.train, params);
    const x = new Float32Array(8 * 6 * 6 * 3).map((_, i) => Math.sin(i));
    const y = new Int32Array(8).map((_, i) => i % 4);
    for (const phase of ['statistics', 'learning'] as const) {
      for (const l of model.layers) if (l instanceof PWLULayer) l.phase = phase;
      const frozen = new Set(model.layers.flatMap((l) => (l instanceof PWLULayer ? l.frozenVariables().map((v) => v.name) : [])));
      const step = makeTrainStep(
        model,
        opt,
        params.map((p) => p.variable).filter((v) => !frozen.has(v.name)),
        [6, 6, 3],
        0,
      );
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        step(x, y, 8, 0.01);
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts.slice(1)).size, phase).toBe(1);
      expect(frozen.size, phase).toBe(phase === 'statistics' ? 19 * 5 : 0);
    }
    opt.dispose();
    model.dispose();
  });
});

describe('step hooks of the other learnable activations', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('APL adds its L2 penalty to the loss; PAU gradients are clipped jointly; FReLU kernel is decayed', () => {
    const ds = makeSynthetic(cfgWith().data.synthetic);
    // APL
    const apl = buildModel(cfgWith({ activation: { name: 'apl', apl: { s: 2 } } }), ds);
    const hooks = stepHooks(apl);
    let want = 0;
    for (const l of apl.layers) for (const w of l.trainableWeights) if (/\/(a|b)$/.test(w.originalName)) for (const v of w.read().dataSync()) want += v * v;
    const reg = hooks.regularization()!;
    expect(reg.dataSync()[0]).toBeCloseTo(1e-3 * want, 6);
    apl.dispose();
    // PAU: joint norm over every PAU layer's coefficients capped at grad_clip.
    const pau = buildModel(cfgWith({ activation: { name: 'pau', pau: { grad_clip: 2 } } }), ds);
    const ph = stepHooks(pau);
    const grads: Record<string, tf.Tensor> = {};
    for (const l of pau.layers) for (const w of l.trainableWeights) grads[(w.read() as tf.Variable).name] = tf.onesLike(w.read());
    ph.clip(grads);
    let sq = 0;
    let other = 0;
    for (const l of pau.layers)
      for (const w of l.trainableWeights) {
        const v = grads[(w.read() as tf.Variable).name]!.dataSync();
        if (/numerator|denominator/.test(w.originalName)) for (const g of v) sq += g * g;
        else other = Math.max(other, ...v);
      }
    expect(Math.sqrt(sq)).toBeCloseTo(2, 4);
    expect(other).toBe(1);
    pau.dispose();
    // FReLU: the depthwise kernel is a conv weight (decayed), its BN affine parameters are not.
    const fr = buildModel(cfgWith({ activation: { name: 'frelu' } }), ds);
    const groups = paramGroups(fr, { bn: true, bias: true, activation: true });
    expect(groups.find((g) => g.name === 'stem.act/kernel')?.decay).toBe(true);
    expect(groups.find((g) => g.name === 'stem.act/gamma')?.decay).toBe(false);
    fr.dispose();
  });

  it('APL, PAU and FReLU steps keep the tensor count flat (penalty, clipping, BN statistics)', () => {
    for (const name of ['apl', 'pau', 'frelu']) {
      const cfg = cfgWith({ activation: { name } });
      const ds = makeSynthetic(cfg.data.synthetic);
      const model = buildModel(cfg, ds);
      const params = paramGroups(model, cfg.train.no_decay);
      const opt = new Optimizer(cfg.train, params);
      const step = makeTrainStep(
        model,
        opt,
        params.map((p) => p.variable),
        [6, 6, 3],
        0,
      );
      const x = new Float32Array(8 * 6 * 6 * 3).map((_, i) => Math.sin(i));
      const y = new Int32Array(8).map((_, i) => i % 4);
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        expect(Number.isFinite(step(x, y, 8, 0.01).loss)).toBe(true);
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts.slice(1)).size, name).toBe(1);
      opt.dispose();
      model.dispose();
    }
  });

  for (const name of ['prelu', 'apl', 'pau', 'frelu', 'hardswish']) {
    it(`${name}: one training epoch runs and writes activations.json for learnable ones`, async () => {
      const r = await runTraining(cfgWith({ activation: { name }, epochs: 1, maxSteps: 1 }));
      expect(r.outcome.status).toBe('finished');
      expect(Number.isFinite(r.outcome.lastMetrics!.train_loss)).toBe(true);
      const has = (() => {
        try {
          return (JSON.parse(readFileSync(join(r.dir, 'activations.json'), 'utf8')) as { layers: { type: string }[] }).layers;
        } catch {
          return null;
        }
      })();
      if (name === 'hardswish') expect(has).toBeNull();
      else expect(has?.[0]?.type).toBe(name);
      r.outcome.model.dispose();
    });
  }
});
