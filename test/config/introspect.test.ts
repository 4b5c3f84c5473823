import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeSchema, isIntegerAt, keysAt } from '../../src/config/introspect.js';
import { ACTIVATION_OPTIONS } from '../../src/activations/options.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { closeKeys, closestKey, editDistance } from '../../src/config/suggest.js';

/** Flattens the defaults into `[dotted path, value]` leaves (lists count as leaves). */
function leaves(value: unknown, prefix = ''): [string, unknown][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

describe('describeSchema', () => {
  const text = describeSchema();
  const rows = text.trimEnd().split('\n');

  it('lists every key of the schema with its default, derived from the schema', () => {
    const all = leaves(ConfigSchema.parse({}));
    expect(all.length).toBeGreaterThan(40);
    for (const [path, value] of all) {
      const row = rows.find((r) => r.split(/\s+/)[0] === path);
      expect(row, path).toBeDefined();
      const shown = stringify(value, { collectionStyle: 'flow' }).trim();
      expect(
        row!
          .slice(row!.indexOf(path) + path.length)
          .trim()
          .startsWith(shown),
        `${path}: ${row}`,
      ).toBe(true);
    }
    // Header, the defaults, and the options of the activations not chosen by default (absent from the defaults).
    const unchosen = Object.entries(ACTIVATION_OPTIONS).filter(([name]) => name !== ConfigSchema.parse({}).activation.name);
    const optionRows = unchosen.reduce((n, [, schema]) => n + leaves(schema.parse({})).length, 0);
    expect(rows.length).toBe(1 + all.length + optionRows);
  });

  it('shows allowed values and ranges', () => {
    expect(text).toMatch(/^train\.optimizer\.name\s+sgd\s+sgd \| adam$/m);
    expect(text).toMatch(/^train\.lr\s+0\.1\s+number, > 0, <= 10$/m);
    expect(text).toMatch(/^data\.augment\.flip\s+false\s+true \| false \| auto$/m);
    expect(text).toMatch(/^data\.dir\s+null\s+string \| null$/m);
    expect(text).toMatch(/^activation\.pwlu\.n\s+16\s+int, >= 2, <= 512, custom check$/m);
  });
});

describe('schema walking', () => {
  it('gives sibling keys at a path, unwrapping defaults', () => {
    expect(keysAt(['train', 'optimizer'])).toEqual(['name', 'momentum', 'nesterov', 'beta1', 'beta2', 'eps']);
    expect(keysAt(['activation'])).toEqual(['name', 'sites', 'relu', 'swish', 'hardswish', 'prelu', 'apl', 'pau', 'frelu', 'pwlu', 'npwlu']);
    expect(keysAt(['activation', 'apl'])).toEqual(['s', 'l2']);
    expect(keysAt(['train', 'lr'])).toEqual([]);
    expect(keysAt(['nope'])).toEqual([]);
  });

  it('knows which leaves are integers', () => {
    expect(isIntegerAt(['train', 'epochs'])).toBe(true);
    expect(isIntegerAt(['train', 'schedule', 'milestones', 0])).toBe(true);
    expect(isIntegerAt(['train', 'lr'])).toBe(false);
    expect(isIntegerAt(['nope'])).toBe(false);
  });
});

describe('suggestions', () => {
  it('edit distance counts a transposition as one edit', () => {
    expect(editDistance('epochs', 'epochs')).toBe(0);
    expect(editDistance('epoch', 'epochs')).toBe(1);
    expect(editDistance('mometnum', 'momentum')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests only close keys', () => {
    expect(closestKey('epoch', ['epochs', 'batch'])).toBe('epochs');
    expect(closestKey('Warmup-Epochs', ['warmup_epochs', 'warmup_factor'])).toBe('warmup_epochs');
    expect(closestKey('colour', ['arch', 'width', 'stem'])).toBeNull();
    expect(closestKey('x', ['n'])).toBeNull();
    expect(closeKeys('lr', ['train.lr', 'model.arch'], (p) => p.split('.').pop()!)).toEqual(['train.lr']);
  });
});
