/**
 * The torch backend's kernel tables against the shared kernel names, without loading the addon (so
 * this runs where libtorch is not installed): every pwlu kernel name has a torch kernel registered
 * under exactly that constant (a misspelt name would silently send the op down its composite
 * path), no kernel name is claimed by two families, and the table-driven elementwise and
 * reduction families list exactly the ops of native/src/ops_elementwise.cc (and refuse to bind to
 * an addon whose op list differs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import type { TorchAddon } from '../../src/backends/torch/addon.js';
import { binaryKernels, unaryKernels } from '../../src/backends/torch/kernels/elementwise.js';
import { torchKernelNames } from '../../src/backends/torch/kernels/index.js';
import { reduceKernels } from '../../src/backends/torch/kernels/reductions.js';
import * as kernelNames from '../../src/ops/kernel-names.js';
import { PROJECT_ROOT } from '../../src/util/paths.js';

/** The names of a `const char* <table>[] = {...}` op table of the native source. */
function nativeTable(source: string, table: string): string[] {
  const body = new RegExp(`const char\\* ${table}\\[\\] = \\{([^}]*)\\}`).exec(source)?.[1];
  if (body === undefined) throw new Error(`no ${table} table in native/src/ops_elementwise.cc`);
  return [...body.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

describe('torch kernel tables (no addon needed)', () => {
  it('register a native kernel under every pwlu kernel-name constant', () => {
    const names = new Set(torchKernelNames());
    const shared = Object.entries(kernelNames);
    expect(shared).not.toHaveLength(0);
    for (const [constant, name] of shared) expect(names.has(name), `${constant} = '${name}'`).toBe(true);
  });

  it('give every kernel name to one family only', () => {
    const names = torchKernelNames();
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('list exactly the unary, binary and reduction ops the addon exports', () => {
    const source = fs.readFileSync(path.join(PROJECT_ROOT, 'native', 'src', 'ops_elementwise.cc'), 'utf8');
    expect(Object.keys(unaryKernels).sort()).toEqual(nativeTable(source, 'kUnary').sort());
    expect(Object.keys(binaryKernels).sort()).toEqual(nativeTable(source, 'kBinary').sort());
    expect(Object.keys(reduceKernels).sort()).toEqual(nativeTable(source, 'kReduce').sort());
  });

  it('refuse to bind to an addon whose op list differs from the table', () => {
    const ops = Object.keys(unaryKernels);
    const addon = (unaryOps: string[]) => ({ unaryOps }) as unknown as TorchAddon;
    expect(() => unaryKernels['Neg']!(addon(ops.filter((n) => n !== 'Abs')))).toThrow(/disagree on Abs$/);
    expect(() => unaryKernels['Neg']!(addon([...ops, 'Frobnicate']))).toThrow(/disagree on Frobnicate$/);
    expect(() => unaryKernels['Neg']!(addon(ops))).not.toThrow();
  });
});
