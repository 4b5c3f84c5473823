/**
 * A schema change must not change what a committed run is: every committed run's config.yaml still hashes to the
 * config_hash its summary.json recorded (new keys are left out of the hash at their neutral values).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';

// Every run under results/ (a walk, not `git ls-files`: CI's Debian roots have no git); a run the tree holds but git
// does not was written by this code, so it must hash the same too.
const summaries = readdirSync(join(PROJECT_ROOT, 'results'), { recursive: true, encoding: 'utf8' })
  .map((f) => join('results', f))
  .filter((f) => f.endsWith(`${sep}summary.json`) && existsSync(join(PROJECT_ROOT, dirname(f), 'config.yaml')))
  .sort();

describe('committed runs', () => {
  it('exist (the check below is not vacuous)', () => {
    expect(summaries.length).toBeGreaterThan(40);
  });

  it.each(summaries)('%s: config.yaml hashes to the recorded config_hash', (file) => {
    const recorded = (JSON.parse(readFileSync(join(PROJECT_ROOT, file), 'utf8')) as { config_hash: string }).config_hash;
    expect(loadConfig(join(PROJECT_ROOT, dirname(file), 'config.yaml'), []).hash).toBe(recorded);
  });
});
