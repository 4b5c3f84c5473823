/**
 * `AplForward` for tfjs's webgl backend: APL in one packed pass, relu(x) plus the S hinges of the element's channel
 * in the order of the kernel contract (src/ops/apl.ts), on the four elements of a texel at once: hinge s of
 * channels c0 and c1 comes in one fetch of a and one of b.
 */
import { APL_FORWARD_KERNEL, type AplForwardInputs } from '../../ops/kernel-names.js';
import { channelProgram, registerWebglKernel } from './program.js';

/** Registers APL's forward kernel for webgl (inference: pwlu/layers registers no backward). */
export function registerAplWebgl(): void {
  registerWebglKernel<AplForwardInputs>(APL_FORWARD_KERNEL, ({ x, a, b }) => {
    const body = `
      vec4 acc = max(v, 0.0);
      for (int s = 0; s < ${a.shape[0]}; s++) {
        vec4 at = getA(s, c0), bt = getB(s, c0);
        vec4 as = vec4(pwPick(at, s, c0), pwPick(at, s, c1), pwPick(at, s, c0), pwPick(at, s, c1));
        vec4 bs = vec4(pwPick(bt, s, c0), pwPick(bt, s, c1), pwPick(bt, s, c0), pwPick(bt, s, c1));
        acc = acc + as * max(bs - v, 0.0);
      }
      setOutput(acc);`;
    return { program: channelProgram('APL', x, ['x', 'a', 'b'], '', body), inputs: [x, a, b] };
  });
}
