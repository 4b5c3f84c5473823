import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSchema } from '../../src/config/schema.js';
import { scanImageFolder } from '../../src/data/imagefolder.js';
import { selectIndices } from '../../src/data/load.js';
import type { BadSample, EncodedSample, SampleSource } from '../../src/data/stream/contract.js';
import { readShardIndex, type ShardIndex } from '../../src/data/stream/shard-index.js';
import { parseShardSize, writeShards } from '../../src/data/stream/shard-writer.js';
import { expandBraces, listShards, openShardSources, ShardSource } from '../../src/data/stream/shards.js';
import { UserError } from '../../src/util/errors.js';
import { expectDataError, writeImageFolder } from '../helpers/fixtures.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = makeTmpDir('pwlu-shards-');
const folder = join(tmp, 'folder');
const out = join(tmp, 'shards');
const SIZE = 3000; // bytes: a few samples per shard
let index: ShardIndex;

type Item = EncodedSample | BadSample;
async function collect(src: SampleSource, order: Partial<{ seed: number; epoch: number; shuffle: boolean; start: number }> = {}): Promise<Item[]> {
  const got: Item[] = [];
  for await (const s of src.samples({ seed: 0, epoch: 0, shuffle: false, start: 0, ...order })) got.push(s);
  return got;
}
const cfg = (data: Record<string, unknown>) => DataSchema.parse({ name: 'shards', ...data });
const opts = (extra: Record<string, unknown> = {}) => ({ projectRoot: tmp, seed: 0, progress: false, ...extra });

/** A tar of members (name, bytes) built with tar-stream. */
async function tarOf(members: [string, Uint8Array | string][]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const [name, data] of members)
    await new Promise<void>((res, rej) => p.entry({ name }, typeof data === 'string' ? Buffer.from(data) : data, (e) => (e ? rej(e) : res())));
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  await writeImageFolder(folder, { perClass: 5, valPerClass: 2 });
  index = (await writeShards({ source: folder, out, shardSize: SIZE, seed: 7, projectRoot: tmp, progress: false })).index;
});
afterAll(() => removeDir(tmp));

describe('pwlu data shard (writer)', () => {
  it('writes train/eval shards and a complete index.json', () => {
    expect(index.complete).toBe(true);
    expect(index.classes).toEqual(['cat', 'dog', 'emu']);
    expect(index.train.n).toBe(15);
    expect(index.eval.n).toBe(6);
    expect(index.train.shards.length).toBeGreaterThan(2);
    expect(index.train.shards.map((s) => s.file)[0]).toBe('train-000000.tar');
    for (const s of [...index.train.shards, ...index.eval.shards]) {
      expect(readFileSync(join(out, s.file)).length).toBe(s.bytes);
      expect(s.bytes <= SIZE || s.samples === 1).toBe(true);
    }
    expect(readShardIndex(out)).toEqual(index);
    expect(readdirSync(out).sort()).toEqual(['index.json', ...index.eval.shards.map((s) => s.file), ...index.train.shards.map((s) => s.file)].sort());
  });

  it('parses --shard-size', () => {
    expect(parseShardSize('500MB')).toBe(500e6);
    expect(parseShardSize('1GB')).toBe(1e9);
    expect(parseShardSize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseShardSize('4096')).toBe(4096);
    for (const bad of ['', 'big', '-1GB', '1XB', '10']) expect(() => parseShardSize(bad)).toThrow(UserError);
  });

  it('resumes after a crash (a temp file left, fewer shards listed) with the same result as an uninterrupted run', async () => {
    const crashed = join(tmp, 'crashed');
    cpSync(out, crashed, { recursive: true });
    const partial: ShardIndex = {
      ...index,
      complete: false,
      train: { ...index.train, n: 0, shards: index.train.shards.slice(0, 2) },
      eval: { ...index.eval, n: 0, shards: [] },
    };
    partial.train.n = partial.train.shards.reduce((a, s) => a + s.samples, 0);
    writeFileSync(join(crashed, 'index.json'), JSON.stringify(partial));
    writeFileSync(join(crashed, 'train-000002.tar.tmp-99999'), 'half a shard');
    writeFileSync(join(crashed, 'train-000003.tar'), 'renamed before the index was saved, truncated');
    const r = await writeShards({ source: folder, out: crashed, shardSize: SIZE, seed: 7, projectRoot: tmp, progress: false });
    expect(r.kept).toBe(2);
    expect(r.written).toBe(index.train.shards.length - 2 + index.eval.shards.length);
    expect(r.index).toEqual({ ...index });
    expect(readdirSync(crashed).sort()).toEqual(readdirSync(out).sort());
    for (const f of readdirSync(out)) expect(readFileSync(join(crashed, f)).equals(readFileSync(join(out, f)))).toBe(true);
    // A finished folder is left as it is.
    expect((await writeShards({ source: folder, out: crashed, shardSize: SIZE, seed: 7, projectRoot: tmp, progress: false })).written).toBe(0);
  });

  it('refuses an --out that holds something else, or shards of other settings', async () => {
    const other = join(tmp, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'x');
    await expect(writeShards({ source: folder, out: other, shardSize: SIZE, seed: 7, projectRoot: tmp })).rejects.toThrow(/holds other files \(notes\.txt\)/);
    await expect(writeShards({ source: folder, out, shardSize: SIZE, seed: 8, projectRoot: tmp })).rejects.toThrow(/seed differ/);
  });
});

describe('shard source', () => {
  it('round-trips every sample: bytes and labels, train in the seeded shuffled order, eval in stored order', async () => {
    const s = await openShardSources(cfg({ dir: out }), opts());
    expect(s.train.n).toBe(15);
    expect(s.eval.n).toBe(6);
    expect(s.val).toBeNull();
    expect(s.train.classNames).toEqual(['cat', 'dog', 'emu']);
    const scan = await scanImageFolder(folder);
    const expected = (files: string[], labels: Int32Array) => files.map((f, i) => `${labels[i]}:${readFileSync(f).toString('base64')}`).sort();
    const got = (items: Item[]) => items.map((x) => `${(x as EncodedSample).label}:${Buffer.from((x as EncodedSample).bytes).toString('base64')}`);
    const train = await collect(s.train);
    expect(train.map((x) => x.index)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(got(train).sort()).toEqual(expected(scan.train.files, scan.train.labels));
    expect(got(train)).not.toEqual(expected(scan.train.files, scan.train.labels)); // written shuffled
    const ev = await collect(s.eval);
    expect(got(ev)).toEqual(scan.test.files.map((f, i) => `${scan.test.labels[i]}:${readFileSync(f).toString('base64')}`));
    expect(ev[0]!.key).toBe('eval-000000.tar:000000');
  });

  it('names shards by brace pattern, folder or file', async () => {
    expect(expandBraces('/d/train-{000..003}.tar')).toEqual(['/d/train-000.tar', '/d/train-001.tar', '/d/train-002.tar', '/d/train-003.tar']);
    expect(expandBraces('{a,b}-{8..10}')).toEqual(['a-8', 'a-9', 'a-10', 'b-8', 'b-9', 'b-10']);
    expect(() => expandBraces('x-{3..1}')).toThrow(/counts down/);
    const last = String(index.train.shards.length - 1).padStart(6, '0');
    const byPattern = listShards(`${out}/train-{000000..${last}}.tar`, '/');
    expect(byPattern).toEqual(index.train.shards.map((s) => join(out, s.file)));
    const folderOnly = join(tmp, 'train-only');
    mkdirSync(folderOnly, { recursive: true });
    for (const s of index.train.shards) cpSync(join(out, s.file), join(folderOnly, s.file));
    expect(listShards('train-only', tmp)).toEqual(index.train.shards.map((s) => join(folderOnly, s.file)));
    expect(() => listShards(`${out}/train-{000000..000999}.tar`, '/')).toThrow(/do not exist/);

    // Patterns through the config, with index.json found next to them; a folder without one is scanned.
    const s = await openShardSources(
      cfg({ shards: { train: 'train-only', eval: `${out}/eval-{000000..${String(index.eval.shards.length - 1).padStart(6, '0')}}.tar` } }),
      opts(),
    );
    expect([s.train.n, s.eval.n, s.train.numClasses]).toEqual([15, 6, 3]);
    expect(s.train.classNames).toEqual(['cat', 'dog', 'emu']); // train scanned (no names), eval's index names them
    expect(readdirSync(folderOnly).some((f) => f.startsWith('.pwlu-shard-scan-'))).toBe(true);
    const viaIndex = await openShardSources(cfg({ dir: out }), opts());
    expect((await collect(s.train)).map((x) => (x as EncodedSample).label)).toEqual((await collect(viaIndex.train)).map((x) => (x as EncodedSample).label));
  });

  it('shuffles shards and a buffer, seeded by (seed, epoch): every sample once per epoch; start drops a prefix', async () => {
    const s = await openShardSources(cfg({ dir: out }), opts({ shuffleBuffer: 4 }));
    const order = async (o: Parameters<typeof collect>[1]) => (await collect(s.train, o)).map((x) => x.index);
    const e0 = await order({ seed: 1, epoch: 0, shuffle: true });
    const e1 = await order({ seed: 1, epoch: 1, shuffle: true });
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect([...e1].sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(e0).not.toEqual(e1);
    expect(await order({ seed: 1, epoch: 0, shuffle: true })).toEqual(e0);
    for (const k of [1, 6, 14, 15]) expect(await order({ seed: 1, epoch: 0, shuffle: true, start: k })).toEqual(e0.slice(k));
    // The same item for the same index whichever the order.
    const byIndex = new Map((await collect(s.train)).map((x) => [x.index, x.key]));
    for (const x of await collect(s.train, { seed: 1, epoch: 1, shuffle: true })) expect(x.key).toBe(byIndex.get(x.index));
  });

  it('takes the val_split hold-out and train_subset of selectIndices over the stored order', async () => {
    const s = await openShardSources(cfg({ dir: out, val_split: 0.2, train_subset: 8 }), opts({ seed: 4 }));
    const sel = selectIndices(15, 8, 0.2, 4);
    expect([s.train.n, s.val?.n]).toEqual([8, 3]);
    const all = await collect((await openShardSources(cfg({ dir: out }), opts())).train);
    const keysOf = async (src: SampleSource, o = {}) => (await collect(src, o)).map((x) => x.key);
    expect(await keysOf(s.train)).toEqual(Array.from(sel.train, (i) => all[i]!.key));
    expect(await keysOf(s.val!)).toEqual(Array.from(sel.val, (i) => all[i]!.key));
    const shuffled = await collect(s.train, { seed: 2, epoch: 3, shuffle: true });
    expect(shuffled.map((x) => x.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 8 }, (_, i) => i));
  });

  it('a broken member or a truncated shard gives BadSamples, and the rest still comes', async () => {
    const dir = join(tmp, 'broken');
    mkdirSync(dir);
    const img = readFileSync((await scanImageFolder(folder)).train.files[0]!);
    writeFileSync(
      join(dir, 'a-0.tar'),
      await tarOf([
        ['k0.png', img],
        ['k0.cls', '1'],
        ['k1.png', img],
        ['k2.png', img],
        ['k2.cls', 'cat'],
        ['k3.txt', 'no image'],
        ['k3.cls', '0'],
        ['k4.PNG', img],
        ['k4.cls', '2'],
      ]),
    );
    const second = await tarOf([
      ['m0.png', img],
      ['m0.cls', '0'],
      ['m1.png', img],
      ['m1.cls', '1'],
      ['m2.png', img],
      ['m2.cls', '1'],
    ]);
    writeFileSync(join(dir, 'a-1.tar'), second.subarray(0, second.indexOf('m1.png') + 512 + 10)); // m0 whole, m1.png's data cut
    writeFileSync(
      join(dir, 'a-2.tar'),
      await tarOf([
        ['z0.png', img],
        ['z0.cls', '0'],
      ]),
    );
    const logs: string[] = [];
    const s = await openShardSources(cfg({ shards: { train: 'broken/a-{0..2}.tar', eval: 'broken/a-2.tar' } }), opts({ log: (m: string) => logs.push(m) }));
    expect(s.train.n).toBe(5 + 1 + 1); // a truncated shard counts what could be read
    expect(s.train.numClasses).toBe(3);
    expect(logs.join('\n')).toMatch(/a-1\.tar: only 1 samples readable \(truncated tar archive/);
    const got = await collect(s.train);
    const summary = got.map((x) => ('error' in x ? `${x.key} BAD ${x.error}` : `${x.key} ${x.label}`));
    expect(summary[0]).toBe('a-0.tar:k0 1');
    expect(summary[1]).toMatch(/^a-0\.tar:k1 BAD no \.cls label/);
    expect(summary[2]).toMatch(/^a-0\.tar:k2 BAD \.cls holds "cat"/);
    expect(summary[3]).toMatch(/^a-0\.tar:k3 BAD no image member/);
    expect(summary[4]).toBe('a-0.tar:k4 2');
    expect(summary[5]).toBe('a-1.tar:m0 0');
    expect(summary[6]).toBe('a-2.tar:z0 0');

    // With counts from an index (written before the shard was damaged), the lost samples are BadSamples.
    const src = new ShardSource(
      [
        { path: join(dir, 'a-1.tar'), samples: 3 },
        { path: join(dir, 'a-2.tar'), samples: 1 },
      ],
      ['a', 'b'],
      'test',
    );
    const items = await collect(src);
    expect(items.map((x) => x.index)).toEqual([0, 1, 2, 3]);
    expect('label' in items[0]!).toBe(true);
    expect((items[1] as BadSample).error).toMatch(/truncated or corrupt shard/);
    expect((items[2] as BadSample).key).toBe('a-1.tar:#2');
    expect((items[3] as EncodedSample).label).toBe(0);
  });

  it('refuses a shard set without labels, and missing shards, before training', async () => {
    const dir = join(tmp, 'unlabelled');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'u-0.tar'),
      await tarOf([
        ['a.jpg', 'x'],
        ['b.jpg', 'y'],
      ]),
    );
    await expectDataError(
      openShardSources(cfg({ shards: { train: 'unlabelled', eval: 'unlabelled' } }), opts()),
      'unlabelled',
      /none of the 2 samples .* has a \.cls label/,
    );
    await expectDataError(
      openShardSources(cfg({ shards: { train: 'nowhere/x-{0..3}.tar', eval: 'unlabelled' } }), opts()),
      'nowhere/x-{0..3}.tar',
      /4 of 4 shards do not exist/,
    );
  });
});

describe('pwlu data shard (CLI)', () => {
  const BIN = join(ROOT, 'bin', 'pwlu.js');
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, 'data', 'shard', ...args], { encoding: 'utf8', cwd: tmp, env: { ...process.env, PWLU_DEBUG: '' } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
  });

  it('writes shards from the config’s data.dir, and exits 1/2 with clear errors', () => {
    writeFileSync(join(tmp, 'cfg.yaml'), `seed: 7\ndata:\n  name: imagefolder\n  dir: ${folder}\n`);
    const ok = run('--config', 'cfg.yaml', '--out', 'cli-out', '--shard-size', String(SIZE));
    expect(ok.stderr).not.toContain('error');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('train 15 samples');
    for (const f of readdirSync(out)) expect(readFileSync(join(tmp, 'cli-out', f)).equals(readFileSync(join(out, f)))).toBe(true);

    const badSize = run('--config', 'cfg.yaml', '--out', 'x', '--shard-size', 'lots');
    expect([badSize.code, badSize.stderr]).toEqual([1, expect.stringContaining('--shard-size must be a size like 500MB, 1GB')]);
    writeFileSync(join(tmp, 'missing.yaml'), `data:\n  dir: ${join(tmp, 'no-such-folder')}\n`);
    const missing = run('--config', 'missing.yaml', '--out', 'y');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-folder');
    const other = run('--config', 'cfg.yaml', '--out', 'cfg.yaml');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/--out .*cfg\.yaml is a file/);
    expect(run('--config', 'cfg.yaml').code).toBe(1);
  });
});
