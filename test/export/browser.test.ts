/**
 * `pwlu/layers` in a real browser: headless Chromium (WebGL2 from SwiftShader) loads a page served on 127.0.0.1 that
 * imports tfjs and `pwlu/layers`, bundled by esbuild as a web app would bundle them (scripts/lib/browser.mjs).
 *
 *  - A tfjs export loaded over HTTP gives, on the `cpu` backend, pwlu's own logits (1e-4 relative, same top-1), and on
 *    `webgl` the cpu backend's within WEBGL_TOLERANCE, through pwlu's fused webgl kernel (tf.profile names it).
 *  - Each webgl kernel of pwlu/layers (src/layers/webgl/) equals the composite ops on the cpu backend: PWLU layer-
 *    and channel-wise, PAU, APL, Swish with a fixed and a trainable beta; ranks 1 to 4, odd channel and row counts
 *    (the packed texels' edges), values in every PWLU region. Values only: the webgl kernels are inference kernels.
 * Needs the `chromium` package (.ci/run installs it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareLogits, ownLogits } from '../../src/export/compare.js';
import { exportTfjs, TFJS_WEIGHTS_FILE } from '../../src/export/tfjs/model.js';
import { perturb } from '../helpers/export-models.js';
import { makeTmpDir, removeDir } from '../helpers/tmp-dir.js';
import { buildArch, factory, MICRO_OPTIONS } from '../helpers/zoo.js';
import { optionalPart } from '../helpers/optional-parts.js';

interface BrowserLib {
  CHROMIUM: string | null;
  bundlePage(dir: string, source: string): Promise<void>;
  runPage(dir: string, options?: { timeoutMs?: number }): Promise<unknown>;
}
const browser = (await import(new URL('../../scripts/lib/browser.mjs', import.meta.url).href)) as BrowserLib;
const DIST = resolve(__dirname, '..', '..', 'dist');
optionalPart('chromium', browser.CHROMIUM !== null, 'no chromium installed (apt-get install chromium)');

/**
 * The precision the webgl backend offers here: float32 textures and highp (23-bit) shader floats, but GLSL's division
 * and exp are not correctly rounded, and tfjs's packed convolutions sum in another order. Relative to the largest
 * |value| of a tensor.
 */
const WEBGL_TOLERANCE = 1e-4;

const MODEL_PAGE = `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import * as tfl from '@tensorflow/tfjs-layers';
import 'pwlu/layers';
try {
  const input = await (await fetch('/input.json')).json();
  const out = {};
  for (const backend of ['cpu', 'webgl']) {
    await tf.setBackend(backend);
    const model = await tfl.loadLayersModel('/model/model.json');
    const x = tf.tensor(input.data, input.shape);
    const profile = await tf.profile(() => model.predict(x));
    out[backend] = { logits: Array.from(profile.result.dataSync()), kernels: profile.kernelNames };
  }
  await report(out);
} catch (e) {
  await report({ error: String(e && e.stack || e) });
}
`;

describe.skipIf(!browser.CHROMIUM)(`pwlu/layers in headless Chromium${browser.CHROMIUM ? '' : ' (skipped: no chromium installed)'}`, () => {
  const tmp = makeTmpDir('pwlu-browser-');
  afterAll(() => removeDir(tmp));

  describe('a MobileNet-V3-Small export with channel-wise PWLU', () => {
    let expected: Float32Array;
    let result: { cpu: { logits: number[]; kernels: string[] }; webgl: { logits: number[]; kernels: string[] }; error?: string };
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
      const dir = join(tmp, 'model-page');
      mkdirSync(join(dir, 'model'), { recursive: true });
      writeFileSync(join(dir, 'model', 'model.json'), JSON.stringify(modelJson));
      writeFileSync(join(dir, 'model', TFJS_WEIGHTS_FILE), weights);
      writeFileSync(join(dir, 'input.json'), JSON.stringify({ data: Array.from(x.dataSync()), shape: x.shape }));
      x.dispose();
      m.dispose();
      await browser.bundlePage(dir, MODEL_PAGE);
      result = (await browser.runPage(dir)) as typeof result;
    }, 150_000);

    it('on cpu: the same logits (1e-4 relative) and top-1 classes as pwlu', () => {
      expect(result.error).toBeUndefined();
      const check = compareLogits(expected, result.cpu.logits, 5);
      expect(check.max_rel_diff, JSON.stringify(check)).toBeLessThan(1e-4);
      expect(check.same_top1).toBe(true);
    });

    it(`on webgl: the cpu backend's logits within ${WEBGL_TOLERANCE} relative, through the fused PwluInfer kernel`, () => {
      const check = compareLogits(Float32Array.from(result.cpu.logits), result.webgl.logits, 5);
      expect(check.max_rel_diff, JSON.stringify(check)).toBeLessThan(WEBGL_TOLERANCE);
      expect(check.same_top1).toBe(true);
      expect(result.webgl.kernels).toContain('PwluInfer');
      // The composite's ops are not run: no gather of the segment table.
      expect(result.webgl.kernels).not.toContain('GatherV2');
    });
  });

  describe('the webgl kernels against the composite ops on cpu', () => {
    interface Case {
      name: string;
      kernel: string;
      max_rel_diff: number;
      used: boolean;
      error?: string;
    }
    let cases: Case[];
    beforeAll(async () => {
      const dir = join(tmp, 'kernel-page');
      mkdirSync(dir, { recursive: true });
      await browser.bundlePage(
        dir,
        `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import 'pwlu/layers';
import { pwluInfer } from '${DIST}/ops/pwlu.js';
import { pauForward } from '${DIST}/ops/pau.js';
import { aplForward } from '${DIST}/ops/apl.js';
import { swishForward } from '${DIST}/ops/swish.js';

// Deterministic inputs: x spans [-5, 5] (past PWLU's bounds on both sides), parameters vary per channel.
const wave = (n, scale, phase = 0) => Array.from({ length: n }, (_, i) => scale * Math.sin(1.7 * i + phase + 0.3 * Math.sin(i * i)));
const SHAPES = [[2, 5, 7, 9], [3, 7, 5], [5, 9], [9], [1, 4, 6, 8]];
function pwluParams(p, n) {
  const bl = Array.from({ length: p }, (_, c) => -2.5 + 0.1 * c);
  const br = Array.from({ length: p }, (_, c) => 2 + 0.2 * c);
  return { y: tf.tensor2d(wave(p * (n + 1), 1.5, 1), [p, n + 1]), kl: tf.tensor1d(wave(p, 0.3, 2)), kr: tf.tensor1d(wave(p, 1.2, 3)), bl: tf.tensor1d(bl), br: tf.tensor1d(br) };
}
const CASES = [];
for (const shape of SHAPES) {
  const c = shape[shape.length - 1];
  const tag = '[' + shape.join(',') + ']';
  CASES.push({ name: 'PWLU layer-wise N=16 ' + tag, kernel: 'PwluInfer', shape, run: (x) => pwluInfer(x, pwluParams(1, 16)) });
  CASES.push({ name: 'PWLU channel-wise N=8 ' + tag, kernel: 'PwluInfer', shape, run: (x) => pwluInfer(x, pwluParams(c, 8)) });
  CASES.push({ name: 'PAU ' + tag, kernel: 'PauForward', shape, run: (x) => pauForward(x, tf.tensor1d([0.02, 0.5, 1.2, 0.4, -0.05, 0.01]), tf.tensor1d([-0.3, 1.1, 0.2, -0.4])) });
  CASES.push({ name: 'APL S=3 ' + tag, kernel: 'AplForward', shape, run: (x) => aplForward(x, tf.tensor2d(wave(3 * c, 0.5, 4), [3, c]), tf.tensor2d(wave(3 * c, 2, 5), [3, c])) });
  CASES.push({ name: 'Swish beta=1 ' + tag, kernel: 'PwluSwishForward', shape, run: (x) => swishForward(x, 1) });
  CASES.push({ name: 'Swish beta=1.7 ' + tag, kernel: 'PwluSwishForward', shape, run: (x) => swishForward(x, 1.7) });
  CASES.push({ name: 'Swish trainable beta ' + tag, kernel: 'PwluSwishForward', shape, run: (x) => swishForward(x, tf.scalar(0.6)) });
}
const out = [];
for (const k of CASES) {
  try {
    const size = k.shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from(wave(size, 5));
    const values = {};
    let used = false;
    for (const backend of ['cpu', 'webgl']) {
      await tf.setBackend(backend);
      const profile = await tf.profile(() => tf.tidy(() => k.run(tf.tensor(data, k.shape))));
      values[backend] = profile.result.dataSync();
      profile.result.dispose();
      if (backend === 'webgl') used = profile.kernelNames.includes(k.kernel);
    }
    let maxAbs = 0, scale = 0;
    for (let i = 0; i < values.cpu.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(values.cpu[i] - values.webgl[i]));
      scale = Math.max(scale, Math.abs(values.cpu[i]));
    }
    out.push({ name: k.name, kernel: k.kernel, max_rel_diff: maxAbs / Math.max(scale, 1e-12), used });
  } catch (e) {
    out.push({ name: k.name, kernel: k.kernel, max_rel_diff: Infinity, used: false, error: String(e && e.stack || e) });
  }
}
await report(out);
`,
      );
      cases = (await browser.runPage(dir)) as Case[];
    }, 150_000);

    it('each case runs its fused kernel on webgl and equals the composite on cpu within the tolerance', () => {
      expect(cases.length).toBe(35);
      for (const c of cases) {
        expect(c.error, c.name).toBeUndefined();
        expect(c.used, `${c.name}: ${c.kernel} not run on webgl`).toBe(true);
        expect(c.max_rel_diff, c.name).toBeLessThan(WEBGL_TOLERANCE);
      }
    });
  });
});
