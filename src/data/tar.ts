import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { DataError } from '../util/errors.js';

/**
 * A minimal streaming reader for (gzip-compressed) ustar / GNU / pax tar archives, enough to unpack
 * the official CIFAR tarballs without a dependency. Only regular files and directories are
 * extracted; links, devices and other entry types are skipped. Paths that are absolute or contain
 * `..` are rejected. Each file is written to a temporary name and renamed into place when complete.
 */

const BLOCK = 512;

/** Pull-based byte reader over an async iterable of chunks. */
class ChunkReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  /** Exactly n bytes, or null at a clean end of stream; a partial read throws. */
  async readExact(n: number, what: string): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.more())) {
        if (this.buf.length === 0) return null;
        throw new Error(`truncated ${what}: needed ${n} bytes, got ${this.buf.length}`);
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Streams the next n bytes in pieces. */
  async *take(n: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.more())) {
        throw new Error(`truncated ${what}: ${left} of ${n} bytes missing`);
      }
      const k = Math.min(left, this.buf.length);
      yield this.buf.subarray(0, k);
      this.buf = this.buf.subarray(k);
      left -= k;
    }
  }
}

function cString(b: Buffer, start: number, len: number): string {
  const slice = b.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function parseNumber(b: Buffer, start: number, len: number, field: string): number {
  const f = b.subarray(start, start + len);
  if ((f[0]! & 0x80) !== 0) {
    // GNU base-256 for large values.
    let v = f[0]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + f[i]!;
    return v;
  }
  const s = cString(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`bad octal ${field} field "${s}"`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = parseNumber(h, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return stored === unsigned || stored === signed;
}

/** Validates a member path and returns it normalised (POSIX, no leading ./); throws if unsafe. */
export function safeMemberPath(name: string): string {
  const n = posix.normalize(name.replace(/\\/g, '/')).replace(/^(\.\/)+/, '');
  if (n.startsWith('/') || n === '..' || n.startsWith('../') || n.split('/').includes('..') || /^[A-Za-z]:/.test(n)) {
    throw new Error(`unsafe path "${name}"`);
  }
  return n.replace(/\/+$/, '');
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp === -1) break;
    const len = parseInt(body.subarray(i, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = body.subarray(sp + 1, i + len - 1).toString('utf8'); // drop trailing \n
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of gen) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

/** Extracts a .tar.gz into `destDir`; returns the member paths written (relative, POSIX). Errors are DataErrors naming the archive. */
export async function extractTarGz(archive: string, destDir: string): Promise<string[]> {
  const file = createReadStream(archive);
  const source = createGunzip();
  file.on('error', (e) => source.destroy(e));
  file.pipe(source);
  const written: string[] = [];
  const reader = new ChunkReader(source[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  let pendingTmp: string | null = null;
  try {
    let longName: string | null = null;
    let paxPath: string | null = null;
    let paxSize: number | null = null;
    for (;;) {
      const h = await reader.readExact(BLOCK, 'tar header');
      if (h === null) break; // no end-of-archive marker: tolerated
      if (h.every((b) => b === 0)) break;
      if (!checksumOk(h)) throw new Error('corrupt tar header (checksum mismatch)');
      const type = String.fromCharCode(h[156]!);
      const size = paxSize ?? parseNumber(h, 124, 12, 'size');
      const magic = cString(h, 257, 6);
      const prefix = magic.startsWith('ustar') ? cString(h, 345, 155) : '';
      let name = longName ?? paxPath ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;

      if (type === 'L' || type === 'x' || type === 'g') {
        const body = await collect(reader.take(size, `tar entry ${name}`));
        if (pad) await reader.readExact(pad, 'tar padding');
        if (type === 'L') longName = cString(body, 0, body.length);
        else if (type === 'x') {
          const pax = parsePax(body);
          if (pax.path !== undefined) paxPath = pax.path;
          if (pax.size !== undefined) paxSize = Number(pax.size);
        }
        continue;
      }
      longName = null;
      paxPath = null;
      paxSize = null;

      if (type === '0' || type === '\0' || type === '7') {
        name = safeMemberPath(name);
        const out = join(destDir, ...name.split('/'));
        await mkdir(dirname(out), { recursive: true });
        pendingTmp = join(dirname(out), `.${posix.basename(name)}.part-${randomBytes(4).toString('hex')}`);
        const fh = await open(pendingTmp, 'w');
        try {
          for await (const piece of reader.take(size, `tar entry ${name}`)) await fh.write(piece);
        } finally {
          await fh.close();
        }
        await rename(pendingTmp, out);
        pendingTmp = null;
        written.push(name);
      } else {
        if (type === '5') await mkdir(join(destDir, ...safeMemberPath(name).split('/')), { recursive: true });
        for await (const _ of reader.take(size, `tar entry ${name}`)) void _; // skip body
      }
      if (pad) await reader.readExact(pad, 'tar padding');
    }
  } catch (e) {
    if (pendingTmp !== null) await rm(pendingTmp, { force: true });
    source.destroy();
    file.destroy();
    const msg = (e as Error).message;
    const gz = (e as NodeJS.ErrnoException).code?.startsWith('Z_') ?? false;
    throw new DataError(`${archive}: ${gz ? 'corrupt or truncated gzip data' : 'cannot extract'} (${msg})`);
  }
  return written;
}
