/**
 * Each activation's options live in its own `activation.<name>` section, validated by that activation's schema;
 * the old layout (top-level `pwlu:`, options flat next to `name`) still loads, with a deprecation warning per key.
 */
import { describe, expect, it } from 'vitest';
import { stringifyConfig } from '../../src/config/format.js';
import { loadConfig } from '../../src/config/load.js';
import { tempConfigs, userErrorOf } from '../helpers/config-files.js';

const tmp = tempConfigs();

/** Loads `text` from a temp file; warnings and errors name it `x.yaml`. */
function load(text: string, sets: string[] = []) {
  const file = tmp.write('x.yaml', text);
  const loaded = loadConfig(file, sets);
  return { ...loaded, warnings: loaded.warnings.map((w) => w.split(file).join('x.yaml')) };
}

function errorFor(text: string, sets: string[] = []): string {
  const file = tmp.write('x.yaml', text);
  return userErrorOf(() => loadConfig(file, sets))
    .split(file)
    .join('x.yaml');
}

const NEW_FORM = [
  'activation:',
  '  name: pwlu',
  '  pwlu:',
  '    n: 8',
  '    granularity: channel',
  '    init_bound: 2',
  '  swish:',
  '    trainable_beta: true',
  '',
].join('\n');

describe('activation options sections', () => {
  it('fill the chosen activation from its own defaults and validate every section present', () => {
    const { config, warnings } = load(NEW_FORM);
    expect(warnings).toEqual([]);
    expect(config.activation).toEqual({
      name: 'pwlu',
      sites: 'all',
      pwlu: { n: 8, granularity: 'channel', phase1_epochs: 1, momentum: 0.9, alpha: 3, realign: true, init_bound: 2, min_width: 1e-3 },
      swish: { beta: 1, trainable_beta: true },
    });
    expect(loadConfig(null, []).config.activation).toEqual({ name: 'relu', sites: 'all', relu: {} });
  });

  it("the resolved config shows the chosen activation's full options and reloads to the same hash", () => {
    const first = loadConfig(null, ['activation.name=pwlu']);
    const text = stringifyConfig(first.config);
    for (const key of ['n', 'granularity', 'phase1_epochs', 'momentum', 'alpha', 'realign', 'init_bound', 'min_width'])
      expect(text).toMatch(new RegExp(`^    ${key}: `, 'm'));
    const again = loadConfig(tmp.write('saved.yaml', text), []);
    expect(again.hash).toBe(first.hash);
    expect(again.warnings).toEqual([]);
  });

  it('an unknown key in a section is an error naming the file, line and key, with a suggestion', () => {
    expect(errorFor('activation:\n  name: pwlu\n  pwlu:\n    granularty: layer\n')).toBe(
      "x.yaml:4: activation.pwlu.granularty: unknown key; did you mean 'granularity'?",
    );
    expect(errorFor('activation:\n  apl:\n    hinges: 3\n')).toBe('x.yaml:3: activation.apl.hinges: unknown key; valid keys in activation.apl: s, l2');
    expect(errorFor('activation:\n  pwlu:\n    n: 7\n')).toBe('x.yaml:3: activation.pwlu.n: must be even, so that 0 can be a breakpoint (got 7)');
  });

  it('an unknown section name is an error with a suggestion', () => {
    expect(errorFor('activation:\n  name: pwlu\n  pwl:\n    n: 8\n')).toBe("x.yaml:3: activation.pwl: unknown key; did you mean 'pwlu'?");
    expect(userErrorOf(() => loadConfig(null, ['activation.swihs.beta=2']))).toBe(
      "--set activation.swihs.beta: activation.swihs: unknown key; did you mean 'swish'?",
    );
  });

  it('a misplaced option points at its section', () => {
    expect(errorFor('phase1_epochs: 2\n')).toBe(
      "x.yaml:1: phase1_epochs: unknown key; did you mean 'activation.pwlu.phase1_epochs' or 'activation.npwlu.phase1_epochs'?",
    );
  });
});

describe('the old layout still loads, with a deprecation warning per key', () => {
  const OLD_FORM = ['activation:', '  name: pwlu', '  init_bound: 2', 'pwlu:', '  n: 8', '  granularity: channel', ''].join('\n');

  it('gives the same resolved config and hash as the new form', () => {
    const old = load(OLD_FORM, ['activation.swish.trainable_beta=true']);
    const current = load(NEW_FORM);
    expect(old.config).toEqual(current.config);
    expect(old.hash).toBe(current.hash);
    expect(old.warnings).toEqual([
      "x.yaml:3: 'activation.init_bound' is deprecated; use 'activation.pwlu.init_bound'",
      "x.yaml:5: 'pwlu.n' is deprecated; use 'activation.pwlu.n'",
      "x.yaml:6: 'pwlu.granularity' is deprecated; use 'activation.pwlu.granularity'",
    ]);
  });

  it('flat options of any activation move to its section', () => {
    const { config, warnings } = load('activation: {name: swish, trainable_beta: true}\n');
    expect(config.activation).toEqual({ name: 'swish', sites: 'all', swish: { beta: 1, trainable_beta: true } });
    expect(warnings).toEqual(["x.yaml:1: 'activation.trainable_beta' is deprecated; use 'activation.swish.trainable_beta'"]);
  });

  it('a run config saved in the old layout (every pwlu key, no activation options) loads', () => {
    const saved =
      'activation:\n  name: relu\n  sites: all\npwlu:\n  phase1_epochs: 1\n  momentum: 0.9\n  alpha: 3\n  n: 16\n  granularity: layer\n  realign: true\n';
    const { config, warnings } = load(saved);
    expect(config.activation.pwlu).toEqual({
      n: 16,
      granularity: 'layer',
      phase1_epochs: 1,
      momentum: 0.9,
      alpha: 3,
      realign: true,
      init_bound: 3,
      min_width: 1e-3,
    });
    expect(config.activation.relu).toEqual({});
    expect(warnings).toHaveLength(6);
  });

  it('--set with an old key path works, warns, and keeps the --set precedence', () => {
    const { config, warnings } = load(NEW_FORM, ['pwlu.n=4', 'activation.min_width=0.01']);
    expect(config.activation.pwlu).toMatchObject({ n: 4, granularity: 'channel', min_width: 0.01 });
    expect(warnings).toEqual([
      "--set pwlu.n: 'pwlu.n' is deprecated; use 'activation.pwlu.n'",
      "--set activation.min_width: 'activation.min_width' is deprecated; use 'activation.pwlu.min_width'",
    ]);
    const whole = loadConfig(null, ['activation={name: swish, trainable_beta: true}']);
    expect(whole.config.activation.swish).toEqual({ beta: 1, trainable_beta: true });
    expect(whole.warnings).toEqual(["--set activation: 'activation.trainable_beta' is deprecated; use 'activation.swish.trainable_beta'"]);
  });

  it('errors in old keys point at the old key', () => {
    expect(errorFor('pwlu:\n  momentum: 1\n')).toBe('x.yaml:2: activation.pwlu.momentum: must be < 1 (got 1)');
    expect(errorFor('activation:\n  name: swish\n  trainable_beat: true\n')).toBe(
      "x.yaml:3: activation.swish.trainable_beat: unknown key; did you mean 'trainable_beta'?",
    );
    expect(userErrorOf(() => loadConfig(null, ['pwlu.n=3']))).toBe('--set pwlu.n: must be even, so that 0 can be a breakpoint (got 3)');
  });

  it('an old key whose new place is set too is an error', () => {
    expect(errorFor('activation:\n  pwlu:\n    n: 8\npwlu:\n  n: 4\n')).toBe(
      "x.yaml:5: 'pwlu.n' is deprecated and 'activation.pwlu.n' is set too; keep only 'activation.pwlu.n'",
    );
  });
});
