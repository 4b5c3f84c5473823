import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveStoredPath, storedCommand, storedPath } from '../../src/run/bench-manifest.js';
import { classifyRun, errorLine, STACK_TRACE_HINT } from '../../src/run/status.js';
import { ExitCode } from '../../src/util/errors.js';
import { parseOverride, splitOverride } from '../../src/util/overrides.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';
import { formatTable } from '../../src/util/table.js';

describe('one run-outcome classifier', () => {
  it('decides from the exit code when the process is known, from the files otherwise', () => {
    expect(classifyRun({ summary: 'finished', exit: { code: 0 } })).toBe('finished');
    expect(classifyRun({ summary: 'finished', exit: { code: 1 } })).toBe('failed');
    expect(classifyRun({ summary: null, exit: { code: ExitCode.diverged } })).toBe('diverged');
    expect(classifyRun({ summary: null, exit: { code: ExitCode.interrupted } })).toBe('interrupted');
    expect(classifyRun({ summary: 'interrupted', exit: { code: 0 } })).toBe('interrupted');
    expect(classifyRun({ summary: null, exit: { code: 0 } })).toBe('failed');
    expect(classifyRun({ summary: 'finished' })).toBe('finished');
    expect(classifyRun({ summary: 'interrupted', benchError: true })).toBe('failed');
    expect(classifyRun({ summary: null })).toBe('incomplete');
    expect(classifyRun({ summary: null, summaryCorrupt: true })).toBe('failed');
    expect(classifyRun({ summary: 'bogus', benchError: true })).toBe('failed');
  });

  it('takes the last error line of a stderr tail, never the stack-trace hint', () => {
    expect(errorLine(`pwlu: error: no data\n${STACK_TRACE_HINT}\n`)).toBe('pwlu: error: no data');
    expect(errorLine('one\ntwo\n')).toBe('two');
  });
});

describe('KEY=VALUE overrides', () => {
  it('parses strictly for --set and leniently for stored entries', () => {
    expect(parseOverride('train.lr=0.05')).toEqual({ ok: true, override: { key: 'train.lr', path: ['train', 'lr'], value: '0.05' } });
    expect(parseOverride('a=b=c')).toMatchObject({ ok: true, override: { key: 'a', value: 'b=c' } });
    expect(parseOverride('nokey')).toMatchObject({ ok: false });
    expect(parseOverride('=1')).toMatchObject({ ok: false });
    expect(parseOverride('a..b=1')).toMatchObject({ ok: false });
    expect(splitOverride(' pwlu.n = 16 ')).toEqual({ key: 'pwlu.n', value: '16' });
    expect(splitOverride('swish')).toBeNull();
    expect(splitOverride(3)).toBeNull();
  });
});

describe('bench.json paths', () => {
  it('are stored relative to the project root when inside it, and read back absolute', () => {
    expect(storedPath(join(PROJECT_ROOT, 'configs', 'x.yaml'))).toBe('configs/x.yaml');
    expect(storedPath('/elsewhere/x.yaml')).toBe('/elsewhere/x.yaml');
    expect(resolveStoredPath('configs/x.yaml')).toBe(join(PROJECT_ROOT, 'configs', 'x.yaml'));
    expect(resolveStoredPath('/old/abs/base.yaml')).toBe('/old/abs/base.yaml');
    const cwd = join(PROJECT_ROOT, 'results');
    expect(storedCommand(['bench', '--config', '../configs/a.yaml', '-o', 'b', '--out=c', '--seeds', '3'], cwd)).toEqual([
      'bench',
      '--config',
      'configs/a.yaml',
      '-o',
      'results/b',
      '--out=results/c',
      '--seeds',
      '3',
    ]);
  });
});

describe('text tables', () => {
  it('pads columns by alignment and trims line ends', () => {
    expect(
      formatTable(
        [
          ['a', 'bb', 'c'],
          ['ccc', 'd', ''],
        ],
        (i) => (i === 1 ? 'right' : 'left'),
      ),
    ).toEqual(['a    bb  c', 'ccc   d']);
  });
});
