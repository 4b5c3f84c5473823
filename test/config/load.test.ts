import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canonicalJson, configHash, stringifyConfig, withoutNeutralKeys } from '../../src/config/format.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { fixture, tempConfigs } from '../helpers/config-files.js';

const tmp = tempConfigs();
const defaults = ConfigSchema.parse({});

describe('loadConfig: good files', () => {
  it('loads a full file with every key set', () => {
    const { config, hash, file } = loadConfig(fixture('full.yaml'), []);
    expect(file).toBe(fixture('full.yaml'));
    expect(config.name).toBe('full-example_1.0');
    expect(config.backend).toBe('cpu');
    expect(config.model).toEqual({ arch: 'resnet32', width: 0.5, stem: 'small', init: null, init_exclude: [] });
    expect(config.activation).toEqual({
      name: 'pwlu',
      sites: 'default',
      pwlu: { n: 8, granularity: 'channel', phase1_epochs: 2, momentum: 0.95, alpha: 2.5, realign: false, init_bound: 2, min_width: 0.01 },
      swish: { beta: 2, trainable_beta: true },
    });
    expect(config.data.augment).toEqual({ crop_padding: 4, flip: 'auto', scale: [0.08, 1], ratio: [3 / 4, 4 / 3], crop_pct: 0.875 });
    expect(config.train.lr).toBe(1e-3);
    expect(config.train.optimizer.eps).toBe(1e-7);
    expect(config.train.schedule.milestones).toEqual([1, 2]);
    expect(hash).toMatch(/^[0-9a-f]{12}$/);
  });

  it('fills every default around a minimal file', () => {
    const { config } = loadConfig(fixture('minimal.yaml'), []);
    expect(config).toEqual({
      ...defaults,
      data: { ...defaults.data, name: 'synthetic' },
      train: { ...defaults.train, epochs: 2 },
    });
  });

  it('treats an empty (comment-only) file as all defaults', () => {
    expect(loadConfig(fixture('empty.yaml'), []).config).toEqual(defaults);
  });

  it('works without a file (defaults only), with file reported as null', () => {
    const loaded = loadConfig(null, []);
    expect(loaded.config).toEqual(defaults);
    expect(loaded.file).toBeNull();
    expect(loaded.hash).toBe(configHash(defaults));
  });

  it('runs extraChecks on the resolved config and accepts it when they return nothing', () => {
    const seen: string[] = [];
    loadConfig(fixture('minimal.yaml'), ['model.arch=vgg'], {
      extraChecks: (cfg) => {
        seen.push(cfg.model.arch);
        return [];
      },
    });
    expect(seen).toEqual(['vgg']);
  });
});

describe('loadConfig: precedence defaults < yaml < --set', () => {
  const file = tmp.write('prec.yaml', 'train:\n  lr: 0.2\n  epochs: 4\nseed: 7\n');

  it('yaml overrides defaults, --set overrides yaml', () => {
    const { config } = loadConfig(file, ['train.lr=0.05']);
    expect(config.train.lr).toBe(0.05); // --set
    expect(config.train.epochs).toBe(4); // yaml
    expect(config.seed).toBe(7); // yaml
    expect(config.train.batch).toBe(defaults.train.batch); // default
  });

  it('later --set wins over earlier --set', () => {
    const { config } = loadConfig(file, ['train.lr=0.05', 'train.lr=0.01']);
    expect(config.train.lr).toBe(0.01);
  });

  it('parses --set values as YAML scalars and flow collections', () => {
    const { config } = loadConfig(null, [
      'train.lr=1e-3',
      'train.epochs=3',
      'train.optimizer.nesterov=true',
      'train.eval_batch=null',
      'train.schedule.name=step',
      'train.schedule.milestones=[3,6]',
      'data.augment={crop_padding: 2, flip: auto}',
      'name=run-1',
      'activation.name=apl',
      'activation.apl.s=3',
    ]);
    expect(config.train.lr).toBe(0.001);
    expect(config.train.epochs).toBe(3);
    expect(config.train.optimizer.nesterov).toBe(true);
    expect(config.train.eval_batch).toBeNull();
    expect(config.train.schedule).toMatchObject({ name: 'step', milestones: [3, 6] });
    expect(config.data.augment).toEqual({ crop_padding: 2, flip: 'auto', scale: [0.08, 1], ratio: [3 / 4, 4 / 3], crop_pct: 0.875 });
    expect(config.name).toBe('run-1');
    expect(config.activation).toEqual({ name: 'apl', sites: 'all', apl: { s: 3, l2: 1e-3 } });
  });

  it('a --set of a whole mapping replaces it; a deeper --set then edits it', () => {
    const { config } = loadConfig(file, ['train={epochs: 9}', 'train.batch=16']);
    expect(config.train.epochs).toBe(9);
    expect(config.train.batch).toBe(16);
    expect(config.train.lr).toBe(defaults.train.lr); // the yaml's 0.2 went with the replaced mapping
  });

  it('--set may index into a list', () => {
    const { config } = loadConfig(null, ['train.schedule.milestones=[3,6]', 'train.schedule.milestones.1=8']);
    expect(config.train.schedule.milestones).toEqual([3, 8]);
  });

  it('--set fills a section left empty (null) in the file', () => {
    const f = tmp.write('empty-section.yaml', 'train:\n');
    expect(loadConfig(f, ['train.lr=0.3']).config.train.lr).toBe(0.3);
  });

  it('an "=" inside the value is kept', () => {
    expect(loadConfig(null, ['data.dir=/tmp/a=b']).config.data.dir).toBe('/tmp/a=b');
  });
});

describe('hash and stringifyConfig', () => {
  it('hash is sha256 of sorted-key JSON, independent of key order', () => {
    const a = tmp.write('order-a.yaml', 'seed: 3\ntrain:\n  lr: 0.2\n  epochs: 4\n');
    const b = tmp.write('order-b.yaml', 'train:\n  epochs: 4\n  lr: 0.2\nseed: 3\n');
    expect(loadConfig(a, []).hash).toBe(loadConfig(b, []).hash);
    expect(loadConfig(a, []).hash).not.toBe(loadConfig(a, ['seed=4']).hash);
    expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it('hash is the first 12 hex chars of sha256(canonical JSON)', () => {
    // Keys added since configs were first hashed are left out at their neutral values (task, model.init, ...).
    const expected = createHash('sha256')
      .update(canonicalJson(withoutNeutralKeys(defaults)))
      .digest('hex')
      .slice(0, 12);
    expect(configHash(defaults)).toBe(expected);
    expect(loadConfig(null, []).hash).toBe(expected);
  });

  it.each([
    ['defaults', null, []],
    ['full file', fixture('full.yaml'), []],
    ['awkward values', fixture('minimal.yaml'), ['name=null', 'data.dir="true"', 'train.optimizer.eps=1e-12', 'activation={name: x, swish: {beta: 1e-3}}']],
  ] as const)('round trip: stringifyConfig -> load gives the same config and hash (%s)', (label, file, sets) => {
    const first = loadConfig(file, [...sets]);
    const saved = tmp.write(`saved-${label.replace(/\W/g, '_')}.yaml`, stringifyConfig(first.config));
    const again = loadConfig(saved, []);
    expect(again.config).toEqual(first.config);
    expect(again.hash).toBe(first.hash);
    expect(readFileSync(saved, 'utf8')).toContain(`hash ${first.hash}`);
  });

  it('the returned config is not shared with schema defaults', () => {
    const a = loadConfig(null, []);
    a.config.train.schedule.milestones.push(99);
    expect(loadConfig(null, []).config.train.schedule.milestones).toEqual([]);
  });
});

describe('shipped configs', () => {
  const dir = fileURLToPath(new URL('../../configs/', import.meta.url));
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
  it.skipIf(files.length === 0).each(files)('configs/%s passes the schema', (f) => {
    expect(loadConfig(`${dir}${f}`, []).hash).toMatch(/^[0-9a-f]{12}$/);
  });
});
