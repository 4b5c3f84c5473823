// Table-driven elementwise and reduction kernels: one entry point each for unary ops, binary ops
// (numpy broadcasting, as tfjs) and reductions; the JS side maps tfjs kernel names to op codes
// through the name lists exported here, so the two sides cannot drift apart.
#include <ATen/TensorIterator.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace pwlu {

namespace {

// Order defines the op codes. Names are tfjs kernel names.
const char* kUnary[] = {"Abs",   "Neg",       "Exp",        "Log",        "Sqrt",     "Rsqrt",      "Square",
                        "Reciprocal", "Relu", "Relu6",      "Sigmoid",    "Tanh",     "Floor",      "Ceil",
                        "Round", "Sign",      "Sin",        "Cos",        "Tan",      "Asin",       "Acos",
                        "Atan",  "Sinh",      "Cosh",       "Asinh",      "Acosh",    "Atanh",      "Erf",
                        "Expm1", "Log1p",     "Softplus",   "Selu",       "Elu",      "LeakyRelu",  "Step",
                        "ClipByValue", "IsNan", "IsInf",    "IsFinite",   "LogicalNot", "OnesLike", "ZerosLike"};
enum Unary {
  uAbs, uNeg, uExp, uLog, uSqrt, uRsqrt, uSquare, uReciprocal, uRelu, uRelu6, uSigmoid, uTanh, uFloor, uCeil,
  uRound, uSign, uSin, uCos, uTan, uAsin, uAcos, uAtan, uSinh, uCosh, uAsinh, uAcosh, uAtanh, uErf,
  uExpm1, uLog1p, uSoftplus, uSelu, uElu, uLeakyRelu, uStep, uClip, uIsNan, uIsInf, uIsFinite, uLogicalNot,
  uOnesLike, uZerosLike, uCount
};
static_assert(sizeof(kUnary) / sizeof(kUnary[0]) == uCount, "unary table");

const char* kBinary[] = {"Add",     "Sub",          "Multiply",    "RealDiv", "FloorDiv",  "Mod",
                         "Maximum", "Minimum",      "Pow",         "SquaredDifference", "Atan2", "Equal",
                         "NotEqual", "Less",        "LessEqual",   "Greater", "GreaterEqual", "LogicalAnd",
                         "LogicalOr", "Prelu",      "EluGrad",     "PwluReluGrad", "PwluRelu6Grad", "PwluSigmoidGrad"};
enum Binary {
  bAdd, bSub, bMul, bDiv, bFloorDiv, bMod, bMax, bMin, bPow, bSqDiff, bAtan2, bEq, bNe, bLt, bLe, bGt, bGe,
  bAnd, bOr, bPrelu, bEluGrad, bReluGrad, bRelu6Grad, bSigmoidGrad, bCount
};
static_assert(sizeof(kBinary) / sizeof(kBinary[0]) == bCount, "binary table");

const char* kReduce[] = {"Sum", "Mean", "Max", "Min", "Prod", "All", "Any", "ArgMax", "ArgMin"};
enum Reduce { rSum, rMean, rMax, rMin, rProd, rAll, rAny, rArgMax, rArgMin, rCount };
static_assert(sizeof(kReduce) / sizeof(kReduce[0]) == rCount, "reduce table");

Napi::Array names(Napi::Env env, const char* const* list, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) a.Set(uint32_t(i), Napi::String::New(env, list[i]));
  return a;
}

bool fast_f32(const at::Tensor& t) { return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous(); }

// Fused float32 loops. They go through ATen's TensorIterator so they run on ATen's intra-op
// threads (this addon is not built with OpenMP itself) and vectorise on contiguous data.

/** out[i] = f(x[i]) over a contiguous float32 CPU tensor. */
template <typename F>
at::Tensor map1(const at::Tensor& x, F f) {
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  auto iter = at::TensorIteratorConfig().add_output(out).add_input(x).build();
  iter.for_each([&f](char** data, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(float) && s[1] == sizeof(float)) {
      float* o = reinterpret_cast<float*>(data[0]);
      const float* a = reinterpret_cast<const float*>(data[1]);
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<float*>(data[0] + i * s[0]) = f(*reinterpret_cast<const float*>(data[1] + i * s[1]));
    }
  });
  return out;
}

/** out[i] = f(a[i], b[i]) for same-shaped contiguous float32 CPU tensors. */
template <typename F>
at::Tensor map2(const at::Tensor& a, const at::Tensor& b, F f) {
  at::Tensor out = at::empty_like(a, at::MemoryFormat::Contiguous);
  auto iter = at::TensorIteratorConfig().add_output(out).add_input(a).add_input(b).build();
  iter.for_each([&f](char** data, const int64_t* s, int64_t n) {
    if (s[0] == sizeof(float) && s[1] == sizeof(float) && s[2] == sizeof(float)) {
      float* o = reinterpret_cast<float*>(data[0]);
      const float* p = reinterpret_cast<const float*>(data[1]);
      const float* q = reinterpret_cast<const float*>(data[2]);
      for (int64_t i = 0; i < n; ++i) o[i] = f(p[i], q[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<float*>(data[0] + i * s[0]) =
            f(*reinterpret_cast<const float*>(data[1] + i * s[1]), *reinterpret_cast<const float*>(data[2] + i * s[2]));
    }
  });
  return out;
}

at::Tensor unary(int32_t op, const at::Tensor& x, double p1, double p2) {
  switch (op) {
    case uAbs: return at::abs(x);
    case uNeg: return at::neg(x);
    case uExp: return at::exp(x);
    case uLog: return at::log(x);
    case uSqrt: return at::sqrt(x);
    case uRsqrt: return at::rsqrt(x);
    case uSquare: return at::square(x);
    case uReciprocal: return at::reciprocal(x);
    case uRelu: return at::relu(x);
    case uRelu6: return at::clamp(x, 0, 6);
    case uSigmoid: return at::sigmoid(x);
    case uTanh: return at::tanh(x);
    case uFloor: return at::floor(x);
    case uCeil: return at::ceil(x);
    case uRound: return at::round(x);
    case uSign: return at::sign(x);
    case uSin: return at::sin(x);
    case uCos: return at::cos(x);
    case uTan: return at::tan(x);
    case uAsin: return at::asin(x);
    case uAcos: return at::acos(x);
    case uAtan: return at::atan(x);
    case uSinh: return at::sinh(x);
    case uCosh: return at::cosh(x);
    case uAsinh: return at::asinh(x);
    case uAcosh: return at::acosh(x);
    case uAtanh: return at::atanh(x);
    case uErf: return at::erf(x);
    case uExpm1: return at::expm1(x);
    case uLog1p: return at::log1p(x);
    case uSoftplus: return at::softplus(x, 1, 20);
    case uSelu: return at::selu(x);
    case uElu: return at::elu(x);
    case uLeakyRelu: return at::leaky_relu(x, p1);
    case uStep: {
      const float alpha = static_cast<float>(p1);
      if (fast_f32(x)) return map1(x, [alpha](float v) {
        // written as selects on a local so that gcc vectorises it (the nested ?: form branches)
        const float one = 1.f;
        float r = alpha;
        r = v > 0.f ? one : r;
        r = v != v ? v : r;
        return r;
      });
      at::Tensor xf = x.to(at::kFloat);
      at::Tensor r = at::where(xf > 0, at::ones({}, opts()), at::full({}, alpha, opts()));
      return at::where(at::isnan(xf), xf, r);
    }
    case uClip: {  // tfjs keeps int32 for int32 input
      at::Tensor r = at::clamp(x, p1, p2);
      return r.scalar_type() == x.scalar_type() ? r : r.to(x.scalar_type());
    }
    case uIsNan: return at::isnan(x);
    case uIsInf: return at::isinf(x);
    case uIsFinite: return at::isfinite(x);
    case uLogicalNot: return at::logical_not(x);
    case uOnesLike: return at::ones_like(x, at::MemoryFormat::Contiguous);
    case uZerosLike: return at::zeros_like(x, at::MemoryFormat::Contiguous);
  }
  throw std::invalid_argument("unknown unary op " + std::to_string(op));
}

at::Tensor binary(int32_t op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case bAdd: return at::add(a, b);
    case bSub: return at::sub(a, b);
    case bMul: return at::mul(a, b);
    case bDiv: return at::div(a, b);
    case bFloorDiv: return at::div(a, b, "floor").to(at::kInt);  // tfjs: always int32
    case bMod: return at::remainder(a, b);
    case bMax: return at::maximum(a, b);
    case bMin: return at::minimum(a, b);
    case bPow: return at::pow(a, b);
    case bSqDiff: {
      at::Tensor d = at::sub(a, b);
      return d.mul_(d);
    }
    case bAtan2: return at::atan2(a, b);
    case bEq: return at::eq(a, b);
    case bNe: return at::ne(a, b);
    case bLt: return at::lt(a, b);
    case bLe: return at::le(a, b);
    case bGt: return at::gt(a, b);
    case bGe: return at::ge(a, b);
    case bAnd: return at::logical_and(a, b);
    case bOr: return at::logical_or(a, b);
    case bPrelu: return at::where(a > 0, a, a * b);  // x, alpha (broadcast)
    case bEluGrad: return at::where(b < 0, a * (b + 1), a);  // dy, y
    case bReluGrad:  // dy, x: dy * step(x)  (one pass instead of Step + Cast + Multiply)
      if (fast_f32(a) && fast_f32(b) && a.sizes() == b.sizes())
        return map2(a, b, [](float dy, float x) {
          const float r = x > 0.f ? dy : 0.f;
          return x != x ? x : r;
        });
      return at::where(b > 0, a, at::zeros({}, a.options()));
    case bRelu6Grad:  // dy, x: dy * (0 < x <= 6)
      if (fast_f32(a) && fast_f32(b) && a.sizes() == b.sizes())
        return map2(a, b, [](float dy, float x) {
          const float zero = 0.f;
          float r = zero;
          r = (x > 0.f && x <= 6.f) ? dy : r;
          r = x != x ? x : r;  // NaN propagates, as tfjs's dy * step(x)
          return r;
        });
      return at::where(at::logical_and(b > 0, b <= 6), a, at::zeros({}, a.options()));
    case bSigmoidGrad:  // dy, y: dy * y * (1 - y)
      if (fast_f32(a) && fast_f32(b) && a.sizes() == b.sizes())
        return map2(a, b, [](float dy, float y) { return dy * y * (1.f - y); });
      return a * b * (1 - b);
  }
  throw std::invalid_argument("unknown binary op " + std::to_string(op));
}

at::Tensor reduce(int32_t op, const at::Tensor& x, const std::vector<int64_t>& axes, bool keep) {
  if (axes.empty() && op != rArgMax && op != rArgMin) {
    // tfjs: reducing over no axes is the identity (ATen would reduce over everything).
    if (op == rMean && x.scalar_type() != at::kFloat) return x.to(at::kFloat);
    if ((op == rAll || op == rAny) && x.scalar_type() != at::kBool) return x.to(at::kBool);
    return x;
  }
  switch (op) {
    case rSum: return x.scalar_type() == at::kBool ? at::sum(x.to(at::kInt), axes, keep) : at::sum(x, axes, keep);
    case rMean: return at::mean(x.scalar_type() == at::kFloat ? x : x.to(at::kFloat), axes, keep);
    case rMax:
    case rMin: {
      at::Tensor r = x;
      // amax/amin take several dims at once
      r = op == rMax ? at::amax(r, axes, keep) : at::amin(r, axes, keep);
      return r;
    }
    case rProd: {
      at::Tensor r = x.scalar_type() == at::kBool ? x.to(at::kInt) : x;
      std::vector<int64_t> s(axes);
      std::sort(s.rbegin(), s.rend());
      for (int64_t d : s) r = at::prod(r, d, keep);
      return r;
    }
    case rAll:
    case rAny: {
      at::Tensor r = x.scalar_type() == at::kBool ? x : x.ne(0);
      std::vector<int64_t> s(axes);
      std::sort(s.rbegin(), s.rend());
      for (int64_t d : s) r = op == rAll ? at::all(r, d, keep) : at::any(r, d, keep);
      return r;
    }
    case rArgMax: return at::argmax(x, axes.at(0), keep);
    case rArgMin: return at::argmin(x, axes.at(0), keep);
  }
  throw std::invalid_argument("unknown reduce op " + std::to_string(op));
}

/** unary(op, id, p1, p2) */
Napi::Value unary_js(const Napi::CallbackInfo& info) {
  emit(unary(ai(info, 0), at_(info, 1), info.Length() > 2 ? ad(info, 2) : 0.0, info.Length() > 3 ? ad(info, 3) : 0.0));
  return info.Env().Undefined();
}

/** binary(op, a, b) */
Napi::Value binary_js(const Napi::CallbackInfo& info) {
  emit(binary(ai(info, 0), at_(info, 1), at_(info, 2)));
  return info.Env().Undefined();
}

/** reduce(op, id, axes, keepDims) */
Napi::Value reduce_js(const Napi::CallbackInfo& info) {
  emit(reduce(ai(info, 0), at_(info, 1), avec(info, 2), ab(info, 3)));
  return info.Env().Undefined();
}

/** addN(ids) */
Napi::Value add_n(const Napi::CallbackInfo& info) {
  std::vector<at::Tensor> xs = atensors(info, 0);
  at::Tensor r = xs.at(0).clone(at::MemoryFormat::Contiguous);
  for (size_t i = 1; i < xs.size(); ++i) r.add_(xs[i]);
  emit(r);
  return info.Env().Undefined();
}

/** meanGrad(dy, xShape, axes): dy broadcast back over the reduced axes, divided by their size. */
Napi::Value mean_grad(const Napi::CallbackInfo& info) {
  const at::Tensor& dy = at_(info, 0);
  std::vector<int64_t> shape = avec(info, 1), axes = avec(info, 2);
  std::vector<int64_t> kept(shape);
  int64_t n = 1;
  for (int64_t a : axes) {
    n *= shape[a];
    kept[a] = 1;
  }
  // divide the small tensor, then one broadcasting copy over the large one
  emit(dy.reshape(kept).div(static_cast<double>(n)).expand(shape).contiguous());
  return info.Env().Undefined();
}

/**
 * axpby(a, x, b, y): a*x + b*y in one pass, the optimizer's `add(mul(m, acc), g)` pattern;
 * a and b are scalars given as numbers.
 */
Napi::Value axpby(const Napi::CallbackInfo& info) {
  const float a = static_cast<float>(ad(info, 0));
  const at::Tensor& x = at_(info, 1);
  const float b = static_cast<float>(ad(info, 2));
  const at::Tensor& y = at_(info, 3);
  if (fast_f32(x) && fast_f32(y) && x.sizes() == y.sizes()) {
    emit(map2(x, y, [a, b](float u, float v) { return a * u + b * v; }));
  } else {
    emit(at::add(at::mul(x, a), y, b));
  }
  return info.Env().Undefined();
}

}  // namespace

void init_elementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("unaryOps", names(env, kUnary, uCount));
  exports.Set("binaryOps", names(env, kBinary, bCount));
  exports.Set("reduceOps", names(env, kReduce, rCount));
  def(env, exports, "unary", unary_js);
  def(env, exports, "binary", binary_js);
  def(env, exports, "reduce", reduce_js);
  def(env, exports, "addN", add_n);
  def(env, exports, "axpby", axpby);
  def(env, exports, "meanGrad", mean_grad);
}

}  // namespace pwlu
