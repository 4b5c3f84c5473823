/** `pwlu data shard` on a failing disk: a shard write that fails is an IoError (exit 5) naming the shard, never a raw errno. */
import { existsSync, readdirSync } from 'node:fs';
import type * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeShards } from '../../src/data/stream/shard-writer.js';
import { ExitCode } from '../../src/util/errors.js';
import { IoError } from '../../src/util/io.js';
import { writeImageFolder } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

/** The fault the fs/promises mock injects into shard temp files; each test arms one. */
const fault = vi.hoisted(() => ({
  /** Opening a shard temp file fails with this errno; null: it opens. */
  openCode: null as string | null,
  /** Writes into the n-th shard temp file opened (from 1) fail with ENOSPC after its first write; 0: never. */
  enospcInShard: 0,
  shardOpens: 0,
}));

const SHARD_TMP = /\.tar\.tmp-\d+$/;

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof fsp>();
  const open = (async (path: Parameters<typeof real.open>[0], ...rest: unknown[]) => {
    if (!SHARD_TMP.test(String(path))) return (real.open as (p: unknown, ...r: unknown[]) => Promise<fsp.FileHandle>)(path, ...rest);
    if (fault.openCode !== null) throw Object.assign(new Error(`${fault.openCode}: open '${String(path)}'`), { code: fault.openCode });
    const fh = await (real.open as (p: unknown, ...r: unknown[]) => Promise<fsp.FileHandle>)(path, ...rest);
    const n = ++fault.shardOpens;
    let writes = 0;
    const write = ((...args: unknown[]) => {
      if (fault.enospcInShard === n && writes++ > 0)
        return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      return (fh.write as (...a: unknown[]) => Promise<unknown>).apply(fh, args);
    }) as fsp.FileHandle['write'];
    return new Proxy(fh, {
      get: (t, k): unknown => {
        if (k === 'write') return write;
        const v: unknown = Reflect.get(t, k);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
  }) as typeof real.open;
  return { ...real, default: { ...real, open }, open };
});

const tmp = makeTmpDir('pwlu-shard-faults-');
const folder = join(tmp, 'folder');
const SIZE = 3000; // bytes: a few samples per shard

async function failure(out: string): Promise<unknown> {
  return writeShards({ source: folder, out, shardSize: SIZE, seed: 7, projectRoot: tmp, progress: false }).then(
    () => null,
    (e: unknown) => e,
  );
}

describe('pwlu data shard on a failing disk', () => {
  beforeAll(async () => {
    await writeImageFolder(folder, { perClass: 5, valPerClass: 2 });
  });
  afterAll(() => removeDir(tmp));

  it('a shard that cannot be opened: IoError, exit 5, the shard and the cause named', async () => {
    fault.openCode = 'EACCES';
    const out = join(tmp, 'denied');
    const e = await failure(out);
    fault.openCode = null;
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).exitCode).toBe(ExitCode.io);
    expect((e as IoError).message).toBe(`cannot write ${join(out, 'train-000000.tar')} (0 bytes): permission denied [EACCES]`);
  });

  it('a disk that fills part-way through a shard: IoError naming that shard, no temp file left, earlier shards kept', async () => {
    fault.shardOpens = 0;
    fault.enospcInShard = 2;
    const out = join(tmp, 'full');
    const e = await failure(out);
    fault.enospcInShard = 0;
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).exitCode).toBe(ExitCode.io);
    expect((e as IoError).message).toMatch(
      new RegExp(`^cannot write ${join(out, 'train-000001.tar').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(.+\\): no space left on the device \\[ENOSPC\\]$`),
    );
    expect(existsSync(join(out, 'train-000000.tar'))).toBe(true);
    expect(readdirSync(out).filter((n) => SHARD_TMP.test(n))).toEqual([]);
  });
});
