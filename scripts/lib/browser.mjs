// A page in headless Chromium, for the tests and benchmarks of `pwlu/layers` in a real browser: bundles an entry
// module with esbuild (as a web app would bundle tfjs and pwlu/layers; pwlu/layers is this checkout's dist), serves a
// folder on 127.0.0.1 and runs Chromium on it until the page POSTs its result to /result. WebGL2 comes from
// SwiftShader (Chromium's software GPU), with float32 render targets.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json', '.bin': 'application/octet-stream' };

/** The Chromium binary, or null: tests skip and scripts stop without it. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => existsSync(p)) ?? null;

/**
 * Writes `source` (an ES module; it ends by calling `report(value)`, which this prepends) as the page of `dir`,
 * bundled with its imports, and an index.html that runs it.
 * @param {string} dir
 * @param {string} source
 */
export async function bundlePage(dir, source) {
  const report = `async function report(value) {
  await fetch('/result', { method: 'POST', body: JSON.stringify(value) });
}
`;
  writeFileSync(join(dir, 'entry.js'), report + source);
  await build({
    entryPoints: [join(dir, 'entry.js')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: join(dir, 'page.js'),
    nodePaths: [join(ROOT, 'node_modules')],
    alias: { 'pwlu/layers': join(ROOT, 'dist', 'layers', 'index.js') },
    logLevel: 'silent',
  });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><html><body><script type="module" src="/page.js"></script></body></html>');
}

/**
 * Serves `dir` and opens it in headless Chromium; resolves with the value the page reported, rejects on a timeout
 * or when Chromium exits first (with the tail of its stderr).
 * @param {string} dir
 * @param {{ timeoutMs?: number }} [options]
 * @returns {Promise<unknown>}
 */
export async function runPage(dir, { timeoutMs = 120_000 } = {}) {
  if (!CHROMIUM) throw new Error('no chromium installed (apt-get install chromium)');
  let resolveResult;
  const result = new Promise((r) => (resolveResult = r));
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && url === '/result') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.writeHead(204).end();
        resolveResult(JSON.parse(body));
      });
      return;
    }
    const path = join(dir, url === '/' ? 'index.html' : url);
    if (!path.startsWith(dir) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const child = spawn(CHROMIUM, [
    '--headless=new',
    '--no-sandbox',
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
    '--disable-dev-shm-usage',
    `--user-data-dir=${join(dir, 'profile')}`,
    `http://127.0.0.1:${port}/`,
  ]);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-2000)));
  const closed = new Promise((r) => child.on('close', r));
  const exited = closed.then((code) => {
    throw new Error(`chromium exited (${code}) before the page reported: ${stderr.slice(-500)}`);
  });
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the page did not report within ${timeoutMs} ms`)), timeoutMs)));
  try {
    return await Promise.race([result, exited, timeout]);
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
    // Chromium's processes write to the profile until they are gone: wait, so the caller can remove the folder.
    await closed;
    server.close();
  }
}
