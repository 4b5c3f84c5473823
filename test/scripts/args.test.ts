/** scripts/lib/args.mjs, the scripts' one argument parser: typed defaults, --help, and exit 1 on a bad option. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const ARGS_MODULE = new URL('../../scripts/lib/args.mjs', import.meta.url).href;

/** Runs parseScriptArgs on `argv` in a fresh node (it exits the process on --help and on errors). */
function parse(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const code = `
    import { parseScriptArgs } from '${ARGS_MODULE}';
    const values = parseScriptArgs({
      description: 'Times things.',
      options: {
        batch: { type: 'number', default: 64, help: 'images per step' },
        threads: { type: 'number', help: 'intra-op threads' },
        backend: { type: 'string', default: 'torch', choices: ['cpu', 'torch'], help: 'tfjs backend' },
        arch: { type: 'list', default: ['resnet20'], help: 'architectures' },
        json: { type: 'boolean', help: 'print JSON' },
      },
      argv: JSON.parse(process.env.ARGV),
    });
    console.log(JSON.stringify(values));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, ARGV: JSON.stringify(argv) } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/lib/args.mjs', () => {
  it('gives typed values, and the defaults for absent options', () => {
    expect(JSON.parse(parse([]).stdout)).toEqual({ batch: 64, backend: 'torch', arch: ['resnet20'], json: false });
    const r = parse(['--batch', '8', '--threads=2', '--backend', 'cpu', '--arch', 'resnet20, mobilenet_v2', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ batch: 8, threads: 2, backend: 'cpu', arch: ['resnet20', 'mobilenet_v2'], json: true });
  });

  it('--help lists every option with its default and choices, and exits 0', () => {
    const r = parse(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Times things.');
    expect(r.stdout).toMatch(/--batch N\s+images per step \(default 64\)/);
    expect(r.stdout).toMatch(/--backend VALUE\s+tfjs backend \(one of cpu, torch; default torch\)/);
    expect(r.stdout).toMatch(/--json\s+print JSON\n/);
    expect(r.stdout).toContain('-h, --help');
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--batch', 'many'], /--batch: expected a number, got 'many'/],
    [['--batch'], /'--batch <value>' argument missing/],
    [['--backend', 'gpu'], /--backend: 'gpu' is not one of cpu, torch/],
    [['stray'], /Unexpected argument 'stray'/],
  ])('%j: says what is wrong on stderr and exits 1', (argv, message) => {
    const r = parse(argv);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('--help');
  });
});
