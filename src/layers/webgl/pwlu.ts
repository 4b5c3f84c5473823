/**
 * `PwluInfer` for tfjs's webgl backend: PWLU in one packed pass, reading the raw parameters (no per-call table), in
 * the table form of the kernel contract (src/ops/pwlu.ts): region by x < BL and x >= BR, interval by floor(u), then
 * S x + O with S and O computed per element. Equal to `PwluForward` up to float rounding (GLSL's division), as the
 * contract allows for `PwluInfer`; PWLU is continuous, so an element at an interval's edge that rounds into the
 * neighbouring interval gets the same value. Per texel: one fetch of each bound and outer slope (shared by its two
 * channels), then one or two fetches of Y per element.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { PWLU_INFER_KERNEL, type PwluInferInputs } from '../../ops/kernel-names.js';
import { channelProgram, registerWebglKernel } from './program.js';

/** Registers PWLU's inference kernel for webgl. */
export function registerPwluWebgl(): void {
  registerWebglKernel<PwluInferInputs>(PWLU_INFER_KERNEL, ({ x, y, kl, kr, bl, br }) => {
    const n = y.shape[1]! - 1;
    const helpers = `
      float pwlu(float v, int p, float bl, float br, float kl, float kr) {
        if (v < bl) return kl * v + (pwPick(getY(p, 0), p, 0) - kl * bl);
        if (v >= br) return kr * v + (pwPick(getY(p, ${n}), p, ${n}) - kr * br);
        float d = (br - bl) / ${n}.0;
        int i = int(clamp(floor((v - bl) / d), 0.0, ${n - 1}.0));
        vec4 t = getY(p, i);
        float yi = pwPick(t, p, i);
        float yj = i - 2 * (i / 2) == 0 ? pwPick(t, p, i + 1) : pwPick(getY(p, i + 1), p, i + 1);
        float k = (yj - yi) / d;
        return k * v + (yi - k * (bl + float(i) * d));
      }`;
    // One instance for every element (layer-wise) or one per channel.
    const [p0, p1] = y.shape[0] === 1 ? ['0', '0'] : ['c0', 'c1'];
    const body = `
      int p0 = ${p0}, p1 = ${p1};
      vec4 bl = getBl(p0), br = getBr(p0), kl = getKl(p0), kr = getKr(p0);
      float bl0 = pwPick(bl, p0), br0 = pwPick(br, p0), kl0 = pwPick(kl, p0), kr0 = pwPick(kr, p0);
      float bl1 = pwPick(bl, p1), br1 = pwPick(br, p1), kl1 = pwPick(kl, p1), kr1 = pwPick(kr, p1);
      setOutput(vec4(
        pwlu(v.x, p0, bl0, br0, kl0, kr0), pwlu(v.y, p1, bl1, br1, kl1, kr1),
        pwlu(v.z, p0, bl0, br0, kl0, kr0), pwlu(v.w, p1, bl1, br1, kl1, kr1)));`;
    const inputs: TensorInfo[] = [x, y, kl, kr, bl, br];
    return { program: channelProgram('PWLU', x, ['x', 'y', 'kl', 'kr', 'bl', 'br'], helpers, body), inputs };
  });
}
