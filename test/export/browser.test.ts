/**
 * A tfjs export in a real browser: headless Chromium loads a page served on 127.0.0.1 that imports tfjs and
 * `pwlu/layers` (bundled by esbuild, as a web app would bundle them), loads model.json over HTTP and prints the
 * logits of a fixed batch, which must equal pwlu's own (1e-4 relative, same top-1). Needs the `chromium` package (.ci/run installs it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareLogits, ownLogits } from '../../src/export/compare.js';
import { exportTfjs, TFJS_WEIGHTS_FILE } from '../../src/export/tfjs/model.js';
import { perturb } from '../helpers/export-models.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { buildArch, factory, MICRO_OPTIONS } from '../helpers/zoo.js';
import { optionalPart } from '../helpers/optional-parts.js';

const ROOT = resolve(__dirname, '..', '..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p)) ?? null;
optionalPart('chromium', CHROMIUM !== null, 'no chromium installed (apt-get install chromium)');
const tmp = makeTmpDir('pwlu-browser-');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.bin': 'application/octet-stream' };

const PAGE = `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import 'pwlu/layers';
const out = document.getElementById('result');
try {
  await tf.setBackend('cpu');
  const model = await tfl.loadLayersModel('/model/model.json');
  const input = await (await fetch('/input.json')).json();
  const y = model.predict(tf.tensor(input.data, input.shape));
  out.textContent = 'logits=' + JSON.stringify(Array.from(y.dataSync()));
} catch (e) {
  out.textContent = 'error=' + e.message;
}
`;

describe.skipIf(!CHROMIUM)(`pwlu/layers in headless Chromium${CHROMIUM ? '' : ' (skipped: no chromium installed)'}`, () => {
  let server: Server;
  let expected: Float32Array;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const m = buildArch('mobilenet_v3_small', {
      inputShape: [16, 16, 3],
      numClasses: 5,
      ...MICRO_OPTIONS.mobilenet_v3_small,
      sites: 'all',
      activation: factory('pwlu', { granularity: 'channel' }),
    });
    perturb(m, 3);
    const x = tf.randomNormal([4, 16, 16, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    expected = ownLogits(m, x).values;
    const { modelJson, weights } = await exportTfjs(m);
    mkdirSync(join(tmp, 'model'));
    writeFileSync(join(tmp, 'model', 'model.json'), JSON.stringify(modelJson));
    writeFileSync(join(tmp, 'model', TFJS_WEIGHTS_FILE), weights);
    writeFileSync(join(tmp, 'input.json'), JSON.stringify({ data: Array.from(x.dataSync()), shape: x.shape }));
    x.dispose();
    m.dispose();
    writeFileSync(join(tmp, 'entry.js'), PAGE);
    await build({
      entryPoints: [join(tmp, 'entry.js')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      outfile: join(tmp, 'page.js'),
      nodePaths: [join(ROOT, 'node_modules')],
      alias: { 'pwlu/layers': join(ROOT, 'dist', 'layers', 'index.js') },
      logLevel: 'silent',
    });
    writeFileSync(
      join(tmp, 'index.html'),
      '<!doctype html><html><body><pre id="result">pending</pre><script type="module" src="/page.js"></script></body></html>',
    );
    server = createServer((req, res) => {
      const path = join(tmp, (req.url ?? '/').split('?')[0] === '/' ? 'index.html' : (req.url ?? '').split('?')[0]!);
      if (!path.startsWith(tmp) || !existsSync(path)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  }, 120_000);
  afterAll(() => {
    server?.close();
    removeDir(tmp);
  });

  it('loads the export through pwlu/layers: the same logits (1e-4 relative) and top-1 classes as pwlu', async () => {
    const port = (server.address() as AddressInfo).port;
    // Asynchronous: this process serves the page while Chromium loads it.
    const child = spawn(
      CHROMIUM!,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        `--user-data-dir=${join(tmp, 'profile')}`,
        '--virtual-time-budget=60000',
        '--dump-dom',
        `http://127.0.0.1:${port}/`,
      ],
      { timeout: 120_000 },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    const result = /<pre id="result">([^<]*)<\/pre>/.exec(stdout)?.[1] ?? `(no result; exit ${code}: ${stderr.slice(-500)})`;
    expect(result.startsWith('logits='), result).toBe(true);
    const check = compareLogits(expected, JSON.parse(result.slice('logits='.length)) as number[], 5);
    expect(check.max_rel_diff, JSON.stringify(check)).toBeLessThan(1e-4);
    expect(check.same_top1).toBe(true);
  }, 150_000);
});
