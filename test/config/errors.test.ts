import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigIssue } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { tempConfigs, userErrorOf } from '../helpers/config-files.js';

const tmp = tempConfigs();

/** Writes `text` to a temp file and returns the load error's message, with the temp path replaced by `x.yaml`. */
function errorFor(text: string, sets: string[] = [], extraChecks?: (cfg: Config) => ConfigIssue[]): string {
  const file = tmp.write('x.yaml', text);
  return userErrorOf(() => loadConfig(file, sets, { extraChecks }))
    .split(file)
    .join('x.yaml');
}

/** A stand-in for the model/activation registries the CLI passes in. */
function registryChecks(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!['resnet20', 'resnet32'].includes(cfg.model.arch)) {
    issues.push({ path: ['model', 'arch'], message: `unknown architecture '${cfg.model.arch}'; known: resnet20, resnet32` });
  }
  if (cfg.activation.name === 'pwlu' && !Object.hasOwn(cfg.activation.pwlu ?? {}, 'init')) {
    issues.push({ path: ['activation', 'pwlu', 'init'], message: 'pwlu needs an init' });
  }
  return issues;
}

describe('validation errors name the file, line and key path', () => {
  it('unknown top-level key, with a suggestion', () => {
    expect(errorFor('seed: 1\nsed: 2\n')).toBe("x.yaml:2: sed: unknown key; did you mean 'seed'?");
  });

  it('unknown nested key, with a suggestion', () => {
    expect(errorFor('# c\ntrain:\n  lr: 0.1\n  epoch: 3\n')).toBe("x.yaml:4: train.epoch: unknown key; did you mean 'epochs'?");
  });

  it('catches transpositions and case/underscore variants', () => {
    expect(errorFor('train:\n  optimizer:\n    mometnum: 0.5\n')).toContain("x.yaml:3: train.optimizer.mometnum: unknown key; did you mean 'momentum'?");
    expect(errorFor('train:\n  schedule:\n    warmupEpochs: 1\n')).toContain("did you mean 'warmup_epochs'?");
  });

  it('a misplaced key points at where it belongs', () => {
    expect(errorFor('lr: 0.1\n')).toBe("x.yaml:1: lr: unknown key; did you mean 'train.lr'?");
  });

  it('an unknown key with nothing close lists the valid keys', () => {
    expect(errorFor('model:\n  colour: blue\n')).toBe('x.yaml:2: model.colour: unknown key; valid keys in model: arch, width, stem, init, init_exclude');
  });

  it('wrong type', () => {
    expect(errorFor('train:\n  epochs: ten\n')).toBe('x.yaml:2: train.epochs: expected an integer (got "ten")');
    expect(errorFor('train:\n  lr: [1]\n')).toBe('x.yaml:2: train.lr: expected a number (got a list [1])');
    expect(errorFor('model: 5\n')).toBe('x.yaml:1: model: expected a mapping (got 5)');
    expect(errorFor('seed: 1.5\n')).toBe('x.yaml:1: seed: expected an integer (got 1.5)');
    expect(errorFor('train:\n  lr: .inf\n')).toBe('x.yaml:2: train.lr: expected a finite number (got .inf)');
  });

  it('out of range', () => {
    const text = ['train:', '  optimizer:', '    name: sgd', '', '    momentum: 1.5', ''].join('\n');
    expect(errorFor(text)).toBe('x.yaml:5: train.optimizer.momentum: must be <= 0.999 (got 1.5)');
    expect(errorFor('train:\n  lr: 0\n')).toBe('x.yaml:2: train.lr: must be > 0 (got 0)');
    expect(errorFor('activation:\n  pwlu:\n    momentum: 1\n')).toBe('x.yaml:3: activation.pwlu.momentum: must be < 1 (got 1)');
  });

  it('odd activation.pwlu.n', () => {
    expect(errorFor('activation:\n  pwlu:\n    alpha: 3\n    n: 15\n')).toBe(
      'x.yaml:4: activation.pwlu.n: must be even, so that 0 can be a breakpoint (got 15)',
    );
  });

  it('bad enum value lists the choices', () => {
    expect(errorFor('data:\n  name: cifar\n')).toBe(
      'x.yaml:2: data.name: must be one of: fashion-mnist, mnist, cifar10, cifar100, imagefolder, shards, synthetic, coco, fashion-mnist-detection (got "cifar")',
    );
  });

  it('union (flip: true/false/auto) lists every alternative', () => {
    expect(errorFor('data:\n  augment:\n    flip: yes\n')).toBe('x.yaml:3: data.augment.flip: must be true, false or auto (got "yes")');
  });

  it('bad list element points at its own line', () => {
    expect(errorFor('train:\n  schedule:\n    milestones:\n      - 3\n      - 0\n')).toBe('x.yaml:5: train.schedule.milestones[1]: must be > 0 (got 0)');
  });

  it('regex-checked name', () => {
    expect(errorFor('name: my run\n')).toBe('x.yaml:1: name: letters, digits, ".", "_" and "-" only (got "my run")');
  });

  it('reports ALL issues in one error, one per line, in file order', () => {
    const text = ['seed: -1', 'train:', '  epoch: 3', '  lr: 20', 'activation:', '  pwlu:', '    n: 3', ''].join('\n');
    const lines = errorFor(text).split('\n');
    expect(lines[0]).toBe('4 problems in config:');
    expect(lines.slice(1).map((l) => l.trim())).toEqual([
      'x.yaml:1: seed: must be >= 0 (got -1)',
      "x.yaml:3: train.epoch: unknown key; did you mean 'epochs'?",
      'x.yaml:4: train.lr: must be <= 10 (got 20)',
      'x.yaml:7: activation.pwlu.n: must be even, so that 0 can be a breakpoint (got 3)',
    ]);
  });

  it('points at the anchor for values that come through an alias', () => {
    const text = ['x_: &lr 20', 'train:', '  lr: *lr', ''].join('\n');
    expect(errorFor(text)).toContain('x.yaml:3: train.lr: must be <= 10 (got 20)');
  });
});

describe('extraChecks issues are located and merged with schema issues', () => {
  it('locates an extraChecks issue at its key line', () => {
    expect(errorFor('seed: 1\nmodel:\n  arch: resnet99\n', [], registryChecks)).toBe(
      "x.yaml:3: model.arch: unknown architecture 'resnet99'; known: resnet20, resnet32",
    );
  });

  it('a missing-but-required option points at its parent line', () => {
    expect(errorFor('seed: 1\nactivation:\n  name: pwlu\n', [], registryChecks)).toBe('x.yaml:2: activation.pwlu.init: pwlu needs an init');
  });

  it('an issue on a value the file does not set names the file without a line', () => {
    const msg = errorFor('seed: 1\n', [], () => [{ path: ['backend'], message: 'not available here' }]);
    expect(msg).toBe('x.yaml: backend: not available here');
    expect(userErrorOf(() => loadConfig(null, [], { extraChecks: () => [{ path: ['backend'], message: 'nope' }] }))).toBe('backend: nope');
  });

  it('are reported alongside schema errors in other sections', () => {
    const msg = errorFor('train:\n  lr: 20\nmodel:\n  widht: 2\n  arch: foo\n', [], registryChecks);
    expect(msg).toContain('x.yaml:2: train.lr: must be <= 10 (got 20)');
    expect(msg).toContain("x.yaml:4: model.widht: unknown key; did you mean 'width'?");
    expect(msg).toContain("x.yaml:5: model.arch: unknown architecture 'foo'");
  });

  it('skips extra issues that could be caused by a value replaced with its default', () => {
    // activation.name is invalid, so the check would see the default 'relu'; do not report guesses about it.
    const msg = errorFor('activation:\n  name: ""\n', [], () => [{ path: ['activation', 'init'], message: 'relu has no init' }]);
    expect(msg).toBe('x.yaml:2: activation.name: must not be empty (got "")');
  });

  it('from --set values are attributed to the --set', () => {
    expect(userErrorOf(() => loadConfig(null, ['model.arch=foo'], { extraChecks: registryChecks }))).toBe(
      "--set model.arch: unknown architecture 'foo'; known: resnet20, resnet32",
    );
  });
});

describe('YAML-level errors name file, line and column', () => {
  it('syntax error', () => {
    const msg = errorFor('train:\n  lr: [0.1, 0.2\n  epochs: 3\n');
    expect(msg).toMatch(/^x\.yaml:\d+:\d+: invalid YAML: /);
    const bad = errorFor('seed: 1\ntrain: lr: 0.1\n');
    expect(bad).toMatch(/^x\.yaml:2:\d+: invalid YAML: /);
  });

  it('bad indentation', () => {
    // The parser notices at the end of line 2 (it reads `0.1 epochs: 3` as one scalar); one message per spot.
    expect(errorFor('train:\n  lr: 0.1\n   epochs: 3\n')).toMatch(/^x\.yaml:2:7: invalid YAML: [^\n]+$/);
    expect(errorFor('train:\n  lr: 0.1\n epochs: 3\n')).toMatch(/^x\.yaml:3:\d+: invalid YAML: /);
  });

  it('duplicate key', () => {
    expect(errorFor('seed: 1\ntrain:\n  lr: 0.1\n  lr: 0.2\n')).toBe(
      'x.yaml:4:3: train.lr: duplicate key (first on line 3); each key may appear once per mapping',
    );
  });

  it('duplicate top-level key', () => {
    expect(errorFor('seed: 1\n\nseed: 2\n')).toBe('x.yaml:3:1: seed: duplicate key (first on line 1); each key may appear once per mapping');
  });

  it('non-mapping top level', () => {
    expect(errorFor('- a\n- b\n')).toBe('x.yaml:1: the top level must be a mapping of config keys (got a list)');
    expect(errorFor('# hi\njust text\n')).toBe('x.yaml:2: the top level must be a mapping of config keys (got "just text")');
  });

  it('more than one document', () => {
    expect(errorFor('seed: 1\n---\nseed: 2\n')).toMatch(/^x\.yaml:2:1: invalid YAML: /);
  });

  it('missing file', () => {
    const file = `${tmp.dir}/does-not-exist.yaml`;
    expect(userErrorOf(() => loadConfig(file, []))).toBe(`${file}: cannot read config file: no such file`);
  });

  it('a directory instead of a file', () => {
    expect(userErrorOf(() => loadConfig(tmp.dir, []))).toBe(`${tmp.dir}: cannot read config file: it is a directory`);
  });
});

describe('--set errors', () => {
  it('rejects an entry without "="', () => {
    expect(userErrorOf(() => loadConfig(null, ['train.lr']))).toBe('--set train.lr: expected key.path=value (e.g. --set train.lr=0.05)');
  });

  it('rejects an empty key or an empty segment, all at once', () => {
    const msg = userErrorOf(() => loadConfig(null, ['=3', 'train..lr=1', 'train.lr=0.1']));
    expect(msg.split('\n')).toEqual([
      '2 problems in config:',
      "  --set =3: empty key before '=' (expected key.path=value)",
      "  --set train..lr=1: empty or padded segment in key 'train..lr' (expected e.g. train.optimizer.momentum)",
    ]);
  });

  it('rejects an unparseable value', () => {
    expect(userErrorOf(() => loadConfig(null, ['train.schedule.milestones=[3,']))).toMatch(
      /^--set train\.schedule\.milestones=\[3,: cannot parse the value as YAML: /,
    );
  });

  it('unknown key, with a suggestion', () => {
    expect(userErrorOf(() => loadConfig(null, ['train.epoch=3']))).toBe("--set train.epoch: unknown key; did you mean 'epochs'?");
    expect(userErrorOf(() => loadConfig(null, ['trian.lr=3']))).toBe("--set trian.lr: trian: unknown key; did you mean 'train'?");
  });

  it('invalid values are attributed to the --set, not the file line', () => {
    const msg = errorFor('train:\n  lr: 0.1\n  epochs: 0\n', ['train.lr=20']);
    expect(msg.split('\n').map((l) => l.trim())).toEqual([
      '2 problems in config:',
      'x.yaml:3: train.epochs: must be > 0 (got 0)',
      '--set train.lr: must be <= 10 (got 20)',
    ]);
  });

  it('a value inside a --set mapping names both the entry and the key path', () => {
    expect(userErrorOf(() => loadConfig(null, ['train.optimizer={name: adamw}']))).toBe(
      '--set train.optimizer: train.optimizer.name: must be one of: sgd, adam (got "adamw")',
    );
  });

  it('cannot set a key inside a scalar', () => {
    expect(errorFor('seed: 1\n', ['seed.x=1'])).toBe("--set seed.x: cannot set a key inside 'seed', which is 1 rather than a mapping");
  });

  it('refuses __proto__', () => {
    expect(userErrorOf(() => loadConfig(null, ['__proto__.polluted=1']))).toContain("'__proto__' is not a config key");
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('errors carry no stack noise', () => {
  it('every message is plain lines without "at " frames or "Error:" prefixes', () => {
    const msg = errorFor('train: [1\n');
    expect(msg).not.toMatch(/\n\s+at /);
    expect(msg).not.toMatch(/^Error/);
  });
});
