/**
 * The activation registry: every activation is registered, builds through the factory, survives a
 * save/load round trip (topology JSON through the registered class + weights) with its learned
 * parameters, and bad names/options are config errors that list the valid choices.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACTIVATION_OPTIONS } from '../../src/activations/options.js';
import { activationNames, checkActivationName, makeActivationFactory } from '../../src/activations/registry.js';
import { specOf } from '../../src/activations/specs/index.js';
import { isActivationLayer } from '../../src/activations/types.js';
import { loadConfig } from '../../src/config/load.js';
import { ActivationSchema, ConfigSchema, type ActivationConfig } from '../../src/config/schema.js';
import { activationParamCount } from '../../src/models/census.js';
import { Rng } from '../../src/util/rng.js';
import { userErrorOf } from '../helpers/config-files.js';
import { sample } from '../helpers/fd.js';

/** An activation config section as the loader produces it (defaults of the chosen activation's options filled in). */
const section = (o: Record<string, unknown>): ActivationConfig => ActivationSchema.parse(o);

function tinyModel(name: string, options: Record<string, unknown> = {}): tfl.LayersModel {
  const factory = makeActivationFactory(section({ name, [name]: options }), 1);
  const input = tfl.input({ shape: [4, 4, 3], name: 'input' });
  const out = factory({ name: 'act', channels: 3, rank: 4 })!.apply(input) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: `m_${name}` });
}

describe('activation registry', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('has every activation of the paper and its baselines', () => {
    expect(activationNames()).toEqual(['relu', 'swish', 'hardswish', 'prelu', 'apl', 'pau', 'frelu', 'pwlu', 'npwlu']);
    expect(Object.keys(ACTIVATION_OPTIONS)).toEqual(activationNames()); // one options schema per activation
    const trainable = (n: string) => tinyModel(n).getLayer('act').trainableWeights.length;
    for (const n of ['prelu', 'apl', 'pau', 'frelu', 'pwlu', 'npwlu']) expect(trainable(n), n).toBeGreaterThan(0);
    for (const n of ['relu', 'hardswish', 'swish']) expect(trainable(n), n).toBe(0);
    expect(specOf('swish')?.options.parse({ trainable_beta: true })).toEqual({ beta: 1, trainable_beta: true });
  });

  const variants: [string, Record<string, unknown>][] = [
    ['relu', {}],
    ['swish', { trainable_beta: true }],
    ['hardswish', {}],
    ['prelu', {}],
    ['apl', { s: 3 }],
    ['pau', {}],
    ['frelu', {}],
    ['pwlu', { granularity: 'layer' }],
    ['pwlu', { init_bound: 2, granularity: 'channel', n: 6 }],
    ['npwlu', { granularity: 'channel', n: 4 }],
  ];

  for (const [name, options] of variants) {
    it(`${name} ${JSON.stringify(options)}: save/load round trip keeps config and learned weights`, async () => {
      const model = tinyModel(name, options);
      const layer = model.getLayer('act');
      expect(isActivationLayer(layer)).toBe(true);
      // Perturb every weight (trainable and state) so that a lost weight would show.
      const rng = new Rng(5);
      for (const w of layer.weights) {
        const size = (w.shape as number[]).reduce((a, b) => a * b, 1);
        const noise = sample(rng, size, -0.2, 0.2);
        const old = w.read().dataSync();
        const isVar = /variance|std/.test(w.originalName);
        w.write(
          tf.tensor(
            noise.map((v, i) => (isVar ? Math.abs(old[i]! + v) + 0.1 : old[i]! + v)),
            w.shape as number[],
          ),
        );
      }
      const topology = model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'];
      const loaded = await tfl.models.modelFromJSON({ modelTopology: topology });
      const l2 = loaded.getLayer('act');
      expect(l2.getClassName()).toBe(layer.getClassName());
      expect(l2.getConfig()).toEqual(layer.getConfig());
      loaded.setWeights(model.getWeights());
      const x = tf.tensor4d(sample(rng, 2 * 4 * 4 * 3, -3, 3), [2, 4, 4, 3]);
      const a = (model.predict(x) as tf.Tensor).dataSync();
      const b = (loaded.predict(x) as tf.Tensor).dataSync();
      expect(Array.from(b)).toEqual(Array.from(a));
      expect(l2.weights.map((w) => w.originalName.replace(/^act\//, ''))).toEqual(layer.weights.map((w) => w.originalName.replace(/^act\//, '')));
      model.dispose();
      loaded.dispose();
    });
  }

  it('pwlu layers carry their configuration (n, granularity, phase settings)', () => {
    const model = tinyModel('pwlu', { init_bound: 2.5, n: 8, granularity: 'channel', phase1_epochs: 3, realign: false, alpha: 2, momentum: 0.8 });
    const cfg = model.getLayer('act').getConfig();
    expect(cfg).toMatchObject({ n: 8, granularity: 'channel', init_bound: 2.5, phase1_epochs: 3, realign: false, alpha: 2, momentum: 0.8 });
    // Channel-wise: N+5 trainable parameters per channel (the running statistics are state).
    expect(activationParamCount(model)).toBe(3 * (8 + 5));
    expect(activationParamCount(tinyModel('pwlu'))).toBe(16 + 5);
    model.dispose();
  });

  describe('config errors list the valid choices', () => {
    /** The loader's message for one `--set`, as a user sees it. */
    const setError = (set: string) => userErrorOf(() => loadConfig(null, [set]));
    /** Paths of the schema's issues for an activation section. */
    const issuePaths = (activation: Record<string, unknown>) => ConfigSchema.safeParse({ activation }).error?.issues.map((i) => i.path) ?? [];

    it('unknown activation name', () => {
      const issues = checkActivationName(section({ name: 'pwlu2' }));
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toEqual(['activation', 'name']);
      expect(issues[0]!.message).toContain('relu, swish, hardswish, prelu, apl, pau, frelu, pwlu');
    });

    it('unknown option of an activation', () => {
      expect(setError('activation.apl.hinges=3')).toBe('--set activation.apl.hinges: unknown key; valid keys in activation.apl: s, l2');
      expect(setError('activation.relu.colour=3')).toBe('--set activation.relu.colour: unknown key; activation.relu takes no keys');
    });

    it('option out of range', () => {
      expect(issuePaths({ name: 'apl', apl: { s: 7 } })).toEqual([['activation', 'apl', 's']]);
      expect(issuePaths({ name: 'apl', apl: { s: 1 } })).toHaveLength(1);
      expect(issuePaths({ name: 'pau', pau: { grad_clip: -1 } })).toEqual([['activation', 'pau', 'grad_clip']]);
      expect(issuePaths({ name: 'pwlu', pwlu: { init_bound: 0 } })).toEqual([['activation', 'pwlu', 'init_bound']]);
      expect(issuePaths({ name: 'apl', apl: { s: 5 } })).toEqual([]);
    });

    it('pwlu options: odd or too small N, momentum outside (0, 1), negative alpha', () => {
      const err = (pwlu: Record<string, unknown>) => {
        const r = ConfigSchema.safeParse({ activation: { name: 'pwlu', pwlu } });
        expect(r.success, JSON.stringify(pwlu)).toBe(false);
        return r.error!.issues[0]!;
      };
      expect(err({ n: 7 }).message).toMatch(/even/);
      expect(err({ n: 0 }).path).toEqual(['activation', 'pwlu', 'n']);
      expect(err({ momentum: 1 }).path).toEqual(['activation', 'pwlu', 'momentum']);
      expect(err({ momentum: 0 }).path).toEqual(['activation', 'pwlu', 'momentum']);
      expect(err({ alpha: -1 }).path).toEqual(['activation', 'pwlu', 'alpha']);
      expect(err({ granularity: 'element' }).path).toEqual(['activation', 'pwlu', 'granularity']);
      expect(ConfigSchema.safeParse({ activation: { pwlu: { n: 2, granularity: 'channel', momentum: 0.5 } } }).success).toBe(true);
    });
  });
});
