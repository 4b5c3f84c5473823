import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/io.js';

const MAGIC = 'PWLUCKP1';

/** One stored tensor: a name that is stable across processes, its shape and float32 values. */
export interface StoredTensor {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** A checkpoint: training position and metadata plus named float32 tensors. */
export interface Checkpoint<M> {
  meta: M;
  tensors: StoredTensor[];
}

interface Header<M> {
  format: 1;
  meta: M;
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

/**
 * Writes a checkpoint atomically (src/util/io.ts), so a crash never leaves a half-written
 * checkpoint under the real name and a full disk leaves the previous one intact.
 */
export function writeCheckpoint<M>(path: string, ckpt: Checkpoint<M>): void {
  let offset = 0;
  const header: Header<M> = {
    format: 1,
    meta: ckpt.meta,
    tensors: ckpt.tensors.map((t) => {
      const e = { name: t.name, shape: t.shape, offset, length: t.values.length };
      offset += t.values.length;
      return e;
    }),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  const pre = Buffer.alloc(MAGIC.length + 4);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(json.length + pad, MAGIC.length);
  const tensors = ckpt.tensors.map((t) => new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength));
  writeFileAtomic(path, [pre, json, Buffer.alloc(pad, 0x20), ...tensors]);
}

/** Reads a checkpoint written by writeCheckpoint; corrupt or foreign files are a UserError. */
export function readCheckpoint<M>(path: string): Checkpoint<M> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new UserError(`${path} is not a pwlu checkpoint (bad magic)`);
  }
  const hlen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + hlen > buf.length) throw new UserError(`${path}: checkpoint is truncated (header)`);
  let header: Header<M>;
  try {
    header = JSON.parse(buf.toString('utf8', start, start + hlen)) as Header<M>;
  } catch {
    throw new UserError(`${path}: checkpoint header is corrupt`);
  }
  const dataStart = start + hlen;
  const total = header.tensors.reduce((s, t) => s + t.length, 0);
  if (dataStart + total * 4 !== buf.length) throw new UserError(`${path}: checkpoint is truncated or has trailing bytes`);
  // Copy into an aligned buffer once; tensors are views into it.
  const data = new Float32Array(total);
  new Uint8Array(data.buffer).set(buf.subarray(dataStart));
  return {
    meta: header.meta,
    tensors: header.tensors.map((t) => ({ name: t.name, shape: t.shape, values: data.subarray(t.offset, t.offset + t.length) })),
  };
}
