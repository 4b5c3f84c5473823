/**
 * What the webgl kernels of `pwlu/layers` share: the slice of tfjs-backend-webgl they call, typed here structurally
 * (pwlu/layers does not import the webgl package: a page that never loads it pays nothing), and one builder for the
 * elementwise, per-channel programs every activation kernel is.
 *
 * The programs are packed, as tfjs's own unary ops are under `WEBGL_PACK`: each output texel holds a 2x2 block of
 * the last two axes, so that an activation between two packed convolutions costs one pass, as ReLU does, with no
 * unpack before it and no repack after it. In a texel of x [..., R, C] the components are the elements
 * (r, c), (r, c+1), (r+1, c), (r+1, c+1): channels c, c+1, c, c+1 (rank 1: c, c+1, and two unused). Parameters
 * come packed as well: a [K] vector's texel holds elements i, i+1 in .x, .y (i even), a [K, L] matrix's texel a
 * 2x2 block; `pwPick` selects one element from its texel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';

/** The fields of tfjs-backend-webgl's `GPGPUProgram` these kernels set. */
export interface PackedProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  packedInputs: true;
  packedOutput: true;
  customUniforms?: { name: string; type: 'float' }[];
}

/** The method of tfjs-backend-webgl's `MathBackendWebGL` the kernels call. */
interface WebglBackend {
  runWebGLProgram(program: PackedProgram, inputs: TensorInfo[], outputDtype: 'float32', customUniformValues?: number[][]): TensorInfo;
}

/** The backend name tfjs-backend-webgl registers. */
const WEBGL = 'webgl';

/** The coordinate type and last-axis expression of getOutputCoords() per rank of a packed output. */
const COORDS: Record<number, { type: string; channel: string }> = {
  1: { type: 'int', channel: 'coords' },
  2: { type: 'ivec2', channel: 'coords.y' },
  3: { type: 'ivec3', channel: 'coords.z' },
  4: { type: 'ivec4', channel: 'coords.w' },
};

/** GLSL: one element from the packed texel that holds it (vector: index i; matrix: row r, column c). */
const PICK = `
  float pwPick(vec4 t, int i) { return i - 2 * (i / 2) == 0 ? t.x : t.y; }
  float pwPick(vec4 t, int r, int c) {
    bool oddC = c - 2 * (c / 2) == 1;
    return r - 2 * (r / 2) == 0 ? (oddC ? t.y : t.x) : (oddC ? t.w : t.z);
  }
`;

/**
 * A packed program over x (variableNames[0]): `helpers` (GLSL functions) then, in main(), `body`, statements that
 * read `vec4 v` (the texel of x), `int c0` and `int c1` (the channels of v.x/v.z and of v.y/v.w) and call
 * setOutput. Since c0 is even, a per-channel parameter's texel (vector or matrix row) holds both c0 and c1, so
 * a kernel fetches it once per texel, not once per element.
 */
export function channelProgram(
  name: string,
  x: TensorInfo,
  variableNames: string[],
  helpers: string,
  body: string,
  customUniforms?: PackedProgram['customUniforms'],
): PackedProgram {
  const coords = COORDS[x.shape.length];
  if (!coords) throw new Error(`${name} on webgl: x must have rank 1 to 4, got [${x.shape.join(',')}]`);
  const c = x.shape[x.shape.length - 1]!;
  return {
    variableNames,
    outputShape: [...x.shape],
    packedInputs: true,
    packedOutput: true,
    ...(customUniforms ? { customUniforms } : {}),
    userCode: `${PICK}
      ${helpers}
      void main() {
        ${coords.type} coords = getOutputCoords();
        int c0 = ${coords.channel};
        int c1 = min(c0 + 1, ${c - 1});
        vec4 v = get${cap(variableNames[0]!)}AtOutCoords();
        ${body}
      }
    `,
  };
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Registers a kernel for tfjs's webgl backend (once: importing pwlu/layers twice registers nothing twice). */
export function registerWebglKernel<I>(
  kernelName: string,
  run: (inputs: I, attrs: Record<string, unknown>) => { program: PackedProgram; inputs: TensorInfo[]; uniforms?: number[][] },
): void {
  if (tf.getKernel(kernelName, WEBGL) !== undefined) return;
  tf.registerKernel({
    kernelName,
    backendName: WEBGL,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { program, inputs: ins, uniforms } = run(inputs as I, attrs as Record<string, unknown>);
      return (backend as unknown as WebglBackend).runWebGLProgram(program, ins, 'float32', uniforms);
    },
  });
}
