/**
 * `PauForward` for tfjs's webgl backend: PAU in one packed pass, P(x) / Q(x) by Horner's rule in the order of the
 * kernel contract (src/ops/pau.ts), on the four elements of a texel at once, the ten coefficients fetched once per
 * texel.
 */
import { PAU_FORWARD_KERNEL, type PauForwardInputs } from '../../ops/kernel-names.js';
import { channelProgram, registerWebglKernel } from './program.js';

/** Registers PAU's forward kernel for webgl (inference: pwlu/layers registers no backward). */
export function registerPauWebgl(): void {
  registerWebglKernel<PauForwardInputs>(PAU_FORWARD_KERNEL, ({ x, a, b }) => {
    const body = `
      vec4 a01 = getA(0), a23 = getA(2), a45 = getA(4);
      vec4 b12 = abs(getB(0)), b34 = abs(getB(2));
      vec4 p = ((((a45.y * v + a45.x) * v + a23.y) * v + a23.x) * v + a01.y) * v + a01.x;
      vec4 ax = abs(v);
      vec4 q = ((((b34.y * ax + b34.x) * ax + b12.y) * ax + b12.x) * ax) + 1.0;
      setOutput(p / q);`;
    return { program: channelProgram('PAU', x, ['x', 'a', 'b'], '', body), inputs: [x, a, b] };
  });
}
