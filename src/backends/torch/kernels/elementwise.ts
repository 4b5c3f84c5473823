// Elementwise kernels: the addon's table-driven unary and binary ops (numpy broadcasting, as
// tfjs), AddN and Select. The tables below name every op of native/src/ops_elementwise.cc.
import type { TensorInfo } from '@tensorflow/tfjs-core';

import { RELU6_GRAD_KERNEL, RELU_GRAD_KERNEL, SIGMOID_GRAD_KERNEL } from '../../../ops/kernel-names.js';
import { runOnCpu } from '../fallback.js';
import { allNative, nativeDtype, tableKernels, type KernelFamily } from './common.js';

/** A tfjs attr the addon takes as a unary op's scalar parameter, and its value when tfjs leaves it out. */
interface ScalarAttr {
  attr: string;
  absent?: number;
}

/** The scalar parameters (p1, p2) of each unary op; most have none. */
const UNARY_PARAMS: Readonly<Record<string, readonly ScalarAttr[]>> = {
  Abs: [],
  Neg: [],
  Exp: [],
  Log: [],
  Sqrt: [],
  Rsqrt: [],
  Square: [],
  Reciprocal: [],
  Relu: [],
  Relu6: [],
  Sigmoid: [],
  Tanh: [],
  Floor: [],
  Ceil: [],
  Round: [],
  Sign: [],
  Sin: [],
  Cos: [],
  Tan: [],
  Asin: [],
  Acos: [],
  Atan: [],
  Sinh: [],
  Cosh: [],
  Asinh: [],
  Acosh: [],
  Atanh: [],
  Erf: [],
  Expm1: [],
  Log1p: [],
  Softplus: [],
  Selu: [],
  Elu: [],
  LeakyRelu: [{ attr: 'alpha', absent: 0.2 }],
  Step: [{ attr: 'alpha', absent: 0 }],
  ClipByValue: [{ attr: 'clipValueMin', absent: 0 }, { attr: 'clipValueMax' }],
  IsNan: [],
  IsInf: [],
  IsFinite: [],
  LogicalNot: [],
  OnesLike: [],
  ZerosLike: [],
};

const AB = ['a', 'b'] as const;
/** The input names of each binary op, in the addon's operand order. */
const BINARY_INPUTS: Readonly<Record<string, readonly [string, string]>> = {
  Add: AB,
  Sub: AB,
  Multiply: AB,
  RealDiv: AB,
  FloorDiv: AB,
  Mod: AB,
  Maximum: AB,
  Minimum: AB,
  Pow: AB,
  SquaredDifference: AB,
  Atan2: AB,
  Equal: AB,
  NotEqual: AB,
  Less: AB,
  LessEqual: AB,
  Greater: AB,
  GreaterEqual: AB,
  LogicalAnd: AB,
  LogicalOr: AB,
  Prelu: ['x', 'alpha'],
  EluGrad: ['dy', 'y'],
  [RELU_GRAD_KERNEL]: ['dy', 'x'],
  [RELU6_GRAD_KERNEL]: ['dy', 'x'],
  [SIGMOID_GRAD_KERNEL]: ['dy', 'y'],
};

/** The addon's unary ops (op codes from its `unaryOps` list). */
export const unaryKernels = tableKernels(
  UNARY_PARAMS,
  (addon) => addon.unaryOps,
  (addon, op, [p1, p2]) =>
    ({ x }, b, a, args, name) => {
      if (!nativeDtype(x)) return runOnCpu(name, args);
      addon.unary(op, b.h(x), p1 ? Number(a[p1.attr] ?? p1.absent) : 0, p2 ? Number(a[p2.attr] ?? p2.absent) : 0);
      return b.out1();
    },
);

/** The addon's binary ops (op codes from its `binaryOps` list). */
export const binaryKernels = tableKernels(
  BINARY_INPUTS,
  (addon) => addon.binaryOps,
  (addon, op, [ka, kb]) =>
    (inputs, b, _a, args, name) => {
      const x = inputs[ka];
      const y = inputs[kb];
      if (!nativeDtype(x) || !nativeDtype(y)) return runOnCpu(name, args);
      addon.binary(op, b.h(x), b.h(y));
      return b.out1();
    },
);

export const elementwiseKernels: KernelFamily = {
  ...unaryKernels,
  ...binaryKernels,
  AddN: (addon) => (inputs, b, _a, args, name) => {
    const ts: TensorInfo[] = Object.values(inputs);
    if (!allNative(ts)) return runOnCpu(name, args);
    if (ts.length === 1) return b.share(ts[0]);
    addon.addN(ts.map((t) => b.h(t)));
    return b.out1();
  },
  Select:
    (addon) =>
    ({ condition, t, e }, b, _a, args, name) => {
      if (!nativeDtype(t) || !nativeDtype(e)) return runOnCpu(name, args);
      addon.select(b.h(condition), b.h(t), b.h(e));
      return b.out1();
    },
};
