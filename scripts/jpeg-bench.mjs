#!/usr/bin/env node
// Throughput of the native JPEG decoder (native/src/ops_jpeg.cc) on a folder of JPEGs, with RandomResizedCrop
// boxes (training) and Resize + CenterCrop (eval) geometry, per thread count. Needs `npm run build` and the
// native addon built with libjpeg-turbo; `--help` lists the options.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import sharp from 'sharp';

import { parseScriptArgs } from './lib/args.mjs';
import { importDist } from './lib/pwlu.mjs';

const o = parseScriptArgs({
  description: `Decodes every JPEG under --dir (recursively; e.g. the output of ../shared/bench/make_jpeg_folder.py) with the
native libjpeg-turbo decoder, files already in memory, and prints img/s per geometry and thread count: 'rrc' is
RandomResizedCrop(size, scale 0.08-1, ratio 3/4-4/3) boxes + random flips (seeded, torchvision's sampling), 'eval' is
Resize(size / crop-pct) + CenterCrop(size). The machine's load average is printed with the results.`,
  options: {
    dir: { type: 'string', default: '/tmp/jpeg-bench', help: 'folder of JPEGs' },
    size: { type: 'number', default: 224, help: 'output side' },
    threads: { type: 'list', default: ['1', '2'], help: 'decoder thread counts to measure' },
    batch: { type: 'number', default: 64, help: 'jobs per decode call' },
    inflight: { type: 'number', default: 2, help: 'decode calls in flight at once (as the pipeline prefetches)' },
    passes: { type: 'number', default: 3, help: 'timed passes over the folder (the best is reported)' },
    'crop-pct': { type: 'number', default: 0.875, help: 'eval: resize the shorter side to size / crop-pct' },
    seed: { type: 'number', default: 0, help: 'seed of the random boxes' },
  },
});

const { nativeJpegDecoder } = await importDist('data/stream/native-decoder.js');
const { Rng } = await importDist('util/rng.js');

function listJpegs(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.jpe?g$/i.test(e.name))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** torchvision's RandomResizedCrop.get_params: 10 tries at a random area and aspect, else the centre crop. */
function rrcBox(rng, w, h, flip) {
  const area = w * h;
  const [lr0, lr1] = [Math.log(3 / 4), Math.log(4 / 3)];
  for (let t = 0; t < 10; t++) {
    const target = area * (0.08 + rng.uniform() * 0.92);
    const aspect = Math.exp(lr0 + rng.uniform() * (lr1 - lr0));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      return { kind: 'crop-resize', top: rng.int(h - ch + 1), left: rng.int(w - cw + 1), height: ch, width: cw, flip };
    }
  }
  const ratio = w / h;
  const [cw, ch] = ratio < 3 / 4 ? [w, Math.round(w / (3 / 4))] : ratio > 4 / 3 ? [Math.round(h * (4 / 3)), h] : [w, h];
  return { kind: 'crop-resize', top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw, flip };
}

/** torchvision's Resize(shorter side) + CenterCrop(size). */
function evalGeometry(w, h, size, cropPct) {
  const short = Math.floor(size / cropPct);
  const [rw, rh] = w <= h ? [short, Math.floor((short * h) / w)] : [Math.floor((short * w) / h), short];
  return { kind: 'resize-crop', resizeHeight: rh, resizeWidth: rw, top: Math.round((rh - size) / 2), left: Math.round((rw - size) / 2), flip: false };
}

const files = listJpegs(o.dir);
if (files.length === 0) {
  process.stderr.write(`no JPEGs under ${o.dir} (make some with ../shared/bench/make_jpeg_folder.py)\n`);
  process.exit(1);
}
const images = await Promise.all(
  files.map(async (f) => {
    const bytes = new Uint8Array(fs.readFileSync(f));
    const { width, height } = await sharp(bytes).metadata();
    return { bytes, width, height };
  }),
);
const rng = new Rng(o.seed);
const geometries = {
  rrc: images.map((im) => rrcBox(rng, im.width, im.height, rng.uniform() < 0.5)),
  eval: images.map((im) => evalGeometry(im.width, im.height, o.size, o['crop-pct'])),
};
const imageBytes = o.size * o.size * 3;
const megapixels = images.reduce((s, im) => s + im.width * im.height, 0) / images.length / 1e6;
console.log(
  `${images.length} JPEGs from ${o.dir} (mean ${megapixels.toFixed(2)} MP), output ${o.size}x${o.size}, batch ${o.batch}, ${o.inflight} calls in flight`,
);
console.log(
  `load average before: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (${os.availableParallelism()} cores)`,
);

/** One pass over every image: batches of jobs, `inflight` decode calls at a time, each into its own buffer. */
async function pass(decoder, geoms) {
  const outs = Array.from({ length: o.inflight }, () => new Uint8Array(o.batch * imageBytes));
  let next = 0;
  let failed = 0;
  const lane = async (out) => {
    while (next < images.length) {
      const start = next;
      next = Math.min(images.length, next + o.batch);
      const jobs = [];
      for (let i = start; i < next; i++) jobs.push({ bytes: images[i].bytes, geometry: geoms[i], offset: (i - start) * imageBytes });
      failed += (await decoder.decode(jobs, o.size, out)).filter((e) => e !== null).length;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(outs.map(lane));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (failed) throw new Error(`${failed} images failed to decode`);
  return images.length / seconds;
}

const results = [];
// Ascending: the addon's pool keeps as many threads as the largest count asked for so far.
for (const t of o.threads.map(Number).sort((a, b) => a - b)) {
  const native = nativeJpegDecoder({ threads: t });
  if (!native.decoder) {
    process.stderr.write(`native JPEG decoder unavailable: ${native.reason}\n`);
    process.exit(1);
  }
  for (const [mode, geoms] of Object.entries(geometries)) {
    await pass(native.decoder, geoms); // warm-up: threads, buffers, page cache
    let best = 0;
    for (let p = 0; p < o.passes; p++) best = Math.max(best, await pass(native.decoder, geoms));
    results.push({ mode, threads: t, imgPerSec: Math.round(best) });
    console.log(`${mode.padEnd(5)} ${String(t).padStart(2)} thread${t === 1 ? ' ' : 's'}  ${Math.round(best)} img/s`);
  }
}
console.log(
  `load average after: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(JSON.stringify({ dir: o.dir, images: images.length, size: o.size, results, loadavg: os.loadavg() }));
