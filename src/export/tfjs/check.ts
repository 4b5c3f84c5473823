/** Checks a tfjs export in a child process that loads it as a deployment would (./check-child.ts). */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { compareLogits, ownLogits, type LogitCheck } from '../compare.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'check-child.js');

/** Loads the export in `dir` with tfjs-layers + `pwlu/layers` on the cpu backend and compares its logits for x with the model's. */
export function checkTfjs(model: tfl.LayersModel, dir: string, x: tf.Tensor4D): LogitCheck {
  const want = ownLogits(model, x);
  const tmp = mkdtempSync(join(tmpdir(), 'pwlu-tfjs-check-'));
  try {
    const input = join(tmp, 'input.f32');
    const output = join(tmp, 'logits.f32');
    writeFileSync(input, Buffer.from((x.dataSync() as Float32Array).buffer));
    const r = spawnSync(process.execPath, [CHILD, dir, input, x.shape.join(','), output], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0)
      throw new Error(`loading the tfjs export with pwlu/layers failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' ')}`);
    const raw = readFileSync(output);
    return compareLogits(want.values, new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4), want.classes);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
