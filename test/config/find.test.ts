import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIGS_DIR, findConfig } from '../../src/config/find.js';
import { UserError } from '../../src/util/errors.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const tmp = makeTmpDir('pwlu-find-config-');
afterAll(() => removeDir(tmp));

describe('config names as users type them', () => {
  it('uses a path that exists as it is', () => {
    const f = join(tmp, 'mine.yaml');
    writeFileSync(f, 'seed: 1\n');
    expect(findConfig(f)).toBe(f);
  });

  it('finds a bare name, with or without .yaml, or a partial path, under configs/', () => {
    expect(findConfig('resnet18.yaml')).toBe(join(CONFIGS_DIR, 'imagenet', 'resnet18.yaml'));
    expect(findConfig('resnet18')).toBe(join(CONFIGS_DIR, 'imagenet', 'resnet18.yaml'));
    expect(findConfig('imagenet/resnet50.yaml')).toBe(join(CONFIGS_DIR, 'imagenet', 'resnet50.yaml'));
    expect(findConfig('quickstart')).toBe(join(CONFIGS_DIR, 'quickstart.yaml'));
  });

  it('lists the candidates of an ambiguous name, and similar names of a missing one', () => {
    const dir = join(tmp, 'configs');
    mkdirSync(join(dir, 'a'), { recursive: true });
    mkdirSync(join(dir, 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'net.yaml'), '');
    writeFileSync(join(dir, 'b', 'net.yaml'), '');
    expect(() => findConfig('net.yaml', dir)).toThrow(/matches 2 files under configs\/; give one of them:\n.*a\/net\.yaml\n.*b\/net\.yaml/);
    expect(findConfig('b/net', dir)).toBe(join(dir, 'b', 'net.yaml'));
    expect(() => findConfig('netx.yaml', dir)).toThrow(UserError);
    expect(() => findConfig('netx.yaml', dir)).toThrow(/does not exist, here or under configs\/; similar names:\n.*net\.yaml/);
    expect(findConfig(join(tmp, 'nowhere.yaml'))).toBe(join(tmp, 'nowhere.yaml')); // absolute: the reader says it is missing
  });
});
