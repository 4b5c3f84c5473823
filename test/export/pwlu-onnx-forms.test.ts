/**
 * PWLU's alternative ONNX forms (src/activations/specs/pwlu.ts): the hinge decomposition equals the segment table,
 * every form run in onnxruntime equals `spec.infer` within 1e-5 relative on inputs left of BL, inside and right of BR
 * (layer- and channel-wise, both ranks, function-wrapped and inline), and an export carries the `pwlu.Pwlu` function.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { PWLU_ONNX_DOMAIN, PWLU_ONNX_FORMS, PWLU_ONNX_OP, pwluHingeTerms, pwluSpec, reluHeights } from '../../src/activations/specs/pwlu.js';
import { FUNCTION_DOMAIN_VERSION, OPSET } from '../../src/export/onnx/builder.js';
import { checkOnnx } from '../../src/export/onnx/check.js';
import { exportOnnx } from '../../src/export/onnx/model.js';
import { pwluTableArrays } from '../../src/ops/pwlu-table.js';
import { Rng } from '../../src/util/rng.js';
import { withExportModel } from '../helpers/export-models.js';
import { expectClose } from '../helpers/fd.js';
import { onnx, runOnnxForm } from '../helpers/onnx-form.js';

const C = 4;

/**
 * PWLU weights as training leaves them: ReLU's heights on the uniform grid moved by up to +-0.5 (every slope change
 * nonzero, of both signs), outer slopes and bounds moved too; p instances of N intervals.
 */
function weights(p: number, n: number, rng: Rng): Record<'heights' | 'kl' | 'kr' | 'bl' | 'br', Float32Array> {
  const bl = Float32Array.from({ length: p }, () => -3 + 0.6 * (rng.uniform() - 0.5));
  const br = Float32Array.from({ length: p }, () => 3 + 0.6 * (rng.uniform() - 0.5));
  const heights = new Float32Array(p * (n + 1));
  for (let q = 0; q < p; q++)
    heights.set(
      reluHeights(bl[q]!, br[q]!, n).map((y) => y + (rng.uniform() - 0.5)),
      q * (n + 1),
    );
  const kl = Float32Array.from({ length: p }, () => 0.5 * (rng.uniform() - 0.5));
  const kr = Float32Array.from({ length: p }, () => 1 + 0.5 * (rng.uniform() - 0.5));
  return { heights, kl, kr, bl, br };
}

/** Inputs from 3 left of the smallest BL to 3 right of the largest BR: every segment, both outer sides. */
function inputs(rng: Rng, count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, i) => (i % 7 === 0 ? -9 + (18 * i) / count : -6.5 + 13 * rng.uniform()));
}

describe("PWLU's ONNX forms", () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('the hinge terms are the segment table: Y_0 + sum c relu(a x + b) = S x + O on every segment (to float32 rounding)', () => {
    const rng = new Rng(5);
    for (const [p, n] of [
      [1, 16],
      [3, 6],
    ] as const) {
      const w = weights(p, n, rng);
      const arrays = { y: w.heights, kl: w.kl, kr: w.kr, bl: w.bl, br: w.br };
      const { slopes, intercepts, d } = pwluTableArrays(p, n, arrays);
      const { y0, a, b, c } = pwluHingeTerms(p, n, arrays);
      const seen = new Set<number>();
      for (const x of inputs(rng, 2000)) {
        for (let q = 0; q < p; q++) {
          const seg = Math.min(n + 1, Math.max(0, Math.floor((x - w.bl[q]!) / d[q]!) + 1));
          seen.add(seg);
          const want = slopes[q * (n + 2) + seg]! * x + intercepts[q * (n + 2) + seg]!;
          let got = y0[q]!;
          for (let t = 0; t < a.length; t++) got += c[t]![q]! * Math.max(0, a[t]! * x + b[t]![q]!);
          // The table's right side starts at BR, the last hinge at BL + N d (d rounded to float32): an ulp of BR apart.
          expect(Math.abs(got - want), `p ${p}, x ${x}, segment ${seg}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(want)));
        }
      }
      expect(seen.size, 'every segment sampled').toBe(n + 2);
    }
  });

  for (const form of PWLU_ONNX_FORMS) {
    for (const granularity of ['layer', 'channel'] as const) {
      it(`${form}, ${granularity}-wise: onnxruntime = spec.infer within 1e-5 relative (ranks 4 and 2, function and inline)`, async () => {
        const o = pwluSpec.options.parse({ granularity, n: granularity === 'layer' ? 16 : 6 });
        const p = granularity === 'layer' ? 1 : C;
        const rng = new Rng(granularity === 'layer' ? 21 : 22);
        const w = weights(p, o.n, rng);
        for (const rank of [4, 2]) {
          const shape = rank === 4 ? [2, 5, 6, C] : [40, C];
          const x = tf.tensor(
            inputs(
              rng,
              shape.reduce((u, v) => u * v, 1),
            ),
            shape,
          );
          const tw = {
            heights: tf.tensor2d(w.heights, [p, o.n + 1]),
            kl: tf.tensor1d(w.kl),
            kr: tf.tensor1d(w.kr),
            bl: tf.tensor1d(w.bl),
            br: tf.tensor1d(w.br),
          };
          const wantT = pwluSpec.infer(x, tw, o);
          const want = wantT.dataSync();
          for (const functions of [true, false]) {
            const { y, bytes } = await runOnnxForm(x, (g, input) => pwluSpec.onnx(g, input, w, o, 'act'), { forms: { pwlu: form }, functions });
            const model = onnx.ModelProto.decode(bytes);
            expect(model.functions.length, `${form} functions ${functions}`).toBe(functions ? 1 : 0);
            expectClose(y, want, `${form} ${granularity} rank ${rank}${functions ? '' : ' inline'}`, 1e-5);
          }
          tf.dispose([x, wantT, ...Object.values(tw)]);
        }
      });
    }
  }

  it('an export calls one shared pwlu.Pwlu function per site, imports the pwlu domain, and its logits match in every form', async () => {
    await withExportModel('resnet20', 'pwlu', {}, async (m, x) => {
      const sites = m.layers.filter((l) => l.getClassName() === pwluSpec.className).length;
      expect(sites).toBeGreaterThan(1);
      for (const form of PWLU_ONNX_FORMS) {
        const bytes = exportOnnx(m, { batch: 'dynamic', forms: { pwlu: form } });
        const model = onnx.ModelProto.decode(bytes);
        expect(Number(model.irVersion)).toBeGreaterThanOrEqual(8);
        expect(model.opsetImport.map((s) => [s.domain, Number(s.version)])).toEqual([
          ['', OPSET],
          [PWLU_ONNX_DOMAIN, FUNCTION_DOMAIN_VERSION],
        ]);
        const calls = (model.graph?.node ?? []).filter((nd) => nd.domain === PWLU_ONNX_DOMAIN);
        expect(calls.length, form).toBe(sites);
        const defined = model.functions.map((f) => `${f.domain}.${f.name}`);
        // Table and chain: one body for every site; hinge: one per size pair of its sign groups.
        if (form !== 'hinge') expect(defined, form).toEqual([`${PWLU_ONNX_DOMAIN}.${PWLU_ONNX_OP}`]);
        expect(new Set(calls.map((nd) => `${nd.domain}.${nd.opType}`)), form).toEqual(new Set(defined));
        for (const f of model.functions) expect((f.node ?? []).every((nd) => !nd.domain)).toBe(true);
        const r = await checkOnnx(m, bytes, x);
        expect(r.max_rel_diff, `${form}: ${JSON.stringify(r)}`).toBeLessThan(1e-4);
        expect(r.same_top1).toBe(true);
      }
      const inline = onnx.ModelProto.decode(exportOnnx(m, { batch: 3, functions: false }));
      expect(inline.functions.length).toBe(0);
      expect(inline.opsetImport.map((s) => s.domain)).toEqual(['']);
    });
  }, 120_000);
});
