/**
 * A schema change must not change what a committed run is: every committed run's config.yaml still hashes to the
 * config_hash its summary.json recorded (new keys are left out of the hash at their neutral values).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';

const summaries = execFileSync('git', ['ls-files', 'results'], { cwd: PROJECT_ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f.endsWith('/summary.json') && existsSync(join(PROJECT_ROOT, dirname(f), 'config.yaml')));

describe('committed runs', () => {
  it('exist (the check below is not vacuous)', () => {
    expect(summaries.length).toBeGreaterThan(40);
  });

  it.each(summaries)('%s: config.yaml hashes to the recorded config_hash', (file) => {
    const recorded = (JSON.parse(readFileSync(join(PROJECT_ROOT, file), 'utf8')) as { config_hash: string }).config_hash;
    expect(loadConfig(join(PROJECT_ROOT, dirname(file), 'config.yaml'), []).hash).toBe(recorded);
  });
});
