// PAU (safe rational P5(x)/Q4(x), version A, one coefficient set per op) and APL (S hinges per
// channel) forward and backward, one pass each. Kernel contracts: the top of
// src/ops/pau.ts and src/ops/apl.ts.
//
// Per element everything is float32 and written as the composite tfjs ops of those files compute
// it (same operations in the same order, no FMA contraction), so forward and dx equal the composite
// bitwise. Parameter gradients are summed per fixed chunk of the data (independent of the thread
// count) into the chunk's own slots (float over short runs: 256 elements per PAU lane group, 32 rows
// for APL; then double), and the chunks are reduced in chunk order: deterministic, no atomics.
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"

// x86-64 with ifunc support (glibc): AVX-512/AVX2 clones of the loops, picked at load time.
#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
#define ACT2_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ACT2_CLONES
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF  // (GCC: the optimize pragma below)
#endif

namespace pwlu {

namespace {


at::Tensor emit_on(const at::Tensor& t, const at::Tensor& like) { return like.device().is_cpu() ? t : t.to(like.device()); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#endif

// ------------------------------------------------------------------------------------------------
// PAU
// ------------------------------------------------------------------------------------------------

constexpr int64_t kPauChunk = int64_t{1} << 14;  // elements per chunk (a multiple of 8)

/** The coefficients in the forms the per-element math uses (float32, as the composite makes them). */
struct PauCoef {
  float a[6];   // a_0..a_5
  float ab[4];  // |b_1|..|b_4|
  float da[5];  // (j+1) a_{j+1}: the coefficients of P'
  float db[4];  // (k+1) |b_{k+1}|: of sum_k k |b_k| |x|^(k-1)
  float sb[4];  // sign(b_k)
};

PauCoef pau_coef(const at::Tensor& a0, const at::Tensor& b0) {
  TORCH_CHECK(a0.numel() == 6 && b0.numel() == 4, "pau: numerator must have 6 and denominator 4 coefficients");
  at::Tensor a = cpu_f32(a0, "pau"), b = cpu_f32(b0, "pau");
  const float *ap = a.data_ptr<float>(), *bp = b.data_ptr<float>();
  PauCoef c{};
  for (int j = 0; j < 6; ++j) c.a[j] = ap[j];
  for (int j = 0; j < 5; ++j) c.da[j] = ap[j + 1] * static_cast<float>(j + 1);
  for (int k = 0; k < 4; ++k) {
    c.ab[k] = std::fabs(bp[k]);
    c.db[k] = c.ab[k] * static_cast<float>(k + 1);
    c.sb[k] = bp[k] > 0.0f ? 1.0f : bp[k] < 0.0f ? -1.0f : 0.0f;
  }
  return c;
}

/** out = P(x) / Q(x) by Horner's rule, P = sum a_j x^j, Q = 1 + |x| sum |b_k| |x|^(k-1). */
ACT2_CLONES void pau_forward_range(const PauCoef& c, const float* __restrict x, float* __restrict out, int64_t n) {
  const float a0 = c.a[0], a1 = c.a[1], a2 = c.a[2], a3 = c.a[3], a4 = c.a[4], a5 = c.a[5];
  const float b1 = c.ab[0], b2 = c.ab[1], b3 = c.ab[2], b4 = c.ab[3];
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i], ax = __builtin_fabsf(v);
    const float p = ((((a5 * v + a4) * v + a3) * v + a2) * v + a1) * v + a0;
    const float q = (((b4 * ax + b3) * ax + b2) * ax + b1) * ax + 1.0f;
    out[i] = p / q;
  }
}

typedef float f16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));

/**
 * Sixteen elements of the backward: dx = g P' - h sign(x) D with g = dy/Q, h = g P/Q, and the lane
 * sums acc[j] += g x^j (j = 0..5), acc[6 + k-1] += h |x|^k (k = 1..4), in float (flushed to double
 * every kFlush calls by the caller).
 */
__attribute__((always_inline)) inline void pau_backward16(const PauCoef& c, const float* xp, const float* gp, float* dxp, f16* acc) {
  f16 v, dy;
  std::memcpy(&v, xp, sizeof v);
  std::memcpy(&dy, gp, sizeof dy);
  const f16 ax = (f16)((i16)v & 0x7fffffff);
  const f16 sg = __builtin_convertvector((v < 0.0f) - (v > 0.0f), f16);  // masks are -1: this is sign(x)
  f16 p = v * c.a[5] + c.a[4];
  p = p * v + c.a[3];
  p = p * v + c.a[2];
  p = p * v + c.a[1];
  p = p * v + c.a[0];
  f16 q = ax * c.ab[3] + c.ab[2];
  q = q * ax + c.ab[1];
  q = q * ax + c.ab[0];
  q = q * ax + 1.0f;
  const f16 inv = 1.0f / q;
  const f16 g = dy * inv;
  const f16 h = g * (p * inv);
  f16 dp = v * c.da[4] + c.da[3];
  dp = dp * v + c.da[2];
  dp = dp * v + c.da[1];
  dp = dp * v + c.da[0];
  f16 dq = ax * c.db[3] + c.db[2];
  dq = dq * ax + c.db[1];
  dq = dq * ax + c.db[0];
  const f16 dx = g * dp - h * (sg * dq);
  std::memcpy(dxp, &dx, sizeof dx);
  f16 t = g;
  acc[0] += t;
  for (int j = 1; j < 6; ++j) {
    t = t * v;
    acc[j] += t;
  }
  t = h * ax;
  acc[6] += t;
  for (int k = 1; k < 4; ++k) {
    t = t * ax;
    acc[6 + k] += t;
  }
}

constexpr int64_t kPauFlush = 16;  // 16-element groups summed in float before a flush to double

/** dx over n elements; sums[0..10) = the chunk's sums of g x^j and h |x|^k (lanes reduced in order). */
ACT2_CLONES void pau_backward_range(const PauCoef& c, const float* __restrict x, const float* __restrict gy, float* __restrict dx,
                                    double* sums, int64_t n) {
  double lanes[10][16] = {};
  f16 acc[10];
  auto flush = [&]() {
    for (int j = 0; j < 10; ++j) {
      float f[16];
      std::memcpy(f, &acc[j], sizeof f);
      for (int l = 0; l < 16; ++l) lanes[j][l] += static_cast<double>(f[l]);
      acc[j] = f16{};
    }
  };
  for (f16& a : acc) a = f16{};
  int64_t i = 0, groups = 0;
  for (; i + 16 <= n; i += 16) {
    pau_backward16(c, x + i, gy + i, dx + i, acc);
    if (++groups == kPauFlush) flush(), groups = 0;
  }
  if (i < n) {
    // tail padded with x = 0, dy = 0: it adds exact zeros to every sum
    float xt[16] = {}, gt[16] = {}, dt[16];
    std::memcpy(xt, x + i, (n - i) * sizeof(float));
    std::memcpy(gt, gy + i, (n - i) * sizeof(float));
    pau_backward16(c, xt, gt, dt, acc);
    std::memcpy(dx + i, dt, (n - i) * sizeof(float));
  }
  flush();
  for (int j = 0; j < 10; ++j) {
    double s = 0.0;
    for (int l = 0; l < 16; ++l) s += lanes[j][l];
    sums[j] = s;
  }
}

// ------------------------------------------------------------------------------------------------
// APL
// ------------------------------------------------------------------------------------------------

constexpr int64_t kAplChunk = int64_t{1} << 14;  // about this many elements per chunk (whole rows)

/** max(0, t) as tfjs's cpu backend computes it: NaN stays NaN, -0 becomes +0. */
inline float relu0(float t) { return (t < 0.0f ? 0.0f : t) + 0.0f; }

/** Rows [0, rows) of C channels: out = relu(x) + sum_s a_s relu(b_s - x), hinge by hinge. */
ACT2_CLONES void apl_forward_rows(const float* __restrict x, const float* __restrict a, const float* __restrict b, float* __restrict out,
                                  int64_t s_count, int64_t C, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r, x += C, out += C) {
    for (int64_t c = 0; c < C; ++c) out[c] = relu0(x[c]);
    for (int64_t s = 0; s < s_count; ++s) {
      const float *as = a + s * C, *bs = b + s * C;
      for (int64_t c = 0; c < C; ++c) out[c] = out[c] + as[c] * relu0(bs[c] - x[c]);
    }
  }
}

constexpr int64_t kAplFlush = 32;  // rows summed in float before a flush to double

/**
 * Rows [0, rows): dx = dy [x > 0] - sum_s a_s dy [b_s > x]; per hinge and channel sa += dy relu(b_s - x)
 * and sm += dy [b_s > x] (double; in float over kAplFlush rows at a time, in fa, fm: [S*C] scratch).
 */
ACT2_CLONES void apl_backward_rows(const float* __restrict x, const float* __restrict g, const float* __restrict a,
                                   const float* __restrict b, float* __restrict dx, double* __restrict sa, double* __restrict sm,
                                   float* __restrict fa, float* __restrict fm, int64_t s_count, int64_t C, int64_t rows) {
  const int64_t sc = s_count * C;
  for (int64_t r0 = 0; r0 < rows; r0 += kAplFlush) {
    for (int64_t j = 0; j < sc; ++j) fa[j] = 0.0f, fm[j] = 0.0f;
    const int64_t r1 = std::min(rows, r0 + kAplFlush);
    for (int64_t r = r0; r < r1; ++r) {
      const float *xr = x + r * C, *gr = g + r * C;
      float* dr = dx + r * C;
      for (int64_t c = 0; c < C; ++c) {
        const float v = xr[c];
        const float step = v > 0.0f ? 1.0f : (v <= 0.0f ? 0.0f : v);  // tf.step: NaN stays NaN
        dr[c] = gr[c] * step;
      }
      for (int64_t s = 0; s < s_count; ++s) {
        const float *as = a + s * C, *bs = b + s * C;
        float *fas = fa + s * C, *fms = fm + s * C;
        for (int64_t c = 0; c < C; ++c) {
          const float t = bs[c] - xr[c];  // > 0 exactly when b_s > x
          const float gm = gr[c] * (t > 0.0f ? 1.0f : 0.0f);
          fas[c] += gr[c] * relu0(t);
          fms[c] += gm;
          dr[c] = dr[c] - as[c] * gm;
        }
      }
    }
    for (int64_t j = 0; j < sc; ++j) sa[j] += static_cast<double>(fa[j]), sm[j] += static_cast<double>(fm[j]);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

struct Apl {
  int64_t s = 0, C = 1, rows = 0, chunk_rows = 1;
  at::Tensor a, b;

  Apl(const at::Tensor& x, const at::Tensor& a0, const at::Tensor& b0) {
    TORCH_CHECK(x.dim() >= 1, "apl: x must have rank >= 1");
    C = x.size(-1);
    TORCH_CHECK(a0.dim() == 2 && b0.dim() == 2 && a0.sizes() == b0.sizes() && a0.size(1) == C,
                "apl: a and b must be [S, C] with C the channel count of x");
    s = a0.size(0);
    a = cpu_f32(a0, "apl");
    b = cpu_f32(b0, "apl");
    rows = C == 0 ? 0 : x.numel() / C;
    chunk_rows = std::max<int64_t>(1, kAplChunk / std::max<int64_t>(1, C));
  }
  int64_t chunks() const { return (rows + chunk_rows - 1) / chunk_rows; }
};

/** pauForward(x, a, b) -> out */
Napi::Value pau_forward(const Napi::CallbackInfo& info) {
  const at::Tensor& x0 = at_(info, 0);
  const PauCoef c = pau_coef(at_(info, 1), at_(info, 2));
  at::Tensor x = cpu_f32(x0, "pau");
  at::Tensor out = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  const float* xp = x.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const int64_t n = x.numel();
  parallel_chunks((n + kPauChunk - 1) / kPauChunk, [&](int64_t k) {
    const int64_t e0 = k * kPauChunk;
    pau_forward_range(c, xp + e0, op + e0, std::min(kPauChunk, n - e0));
  });
  emit(emit_on(out, x0));
  return info.Env().Undefined();
}

/** pauBackward(dy, x, a, b) -> [dx, da [6], db [4]] */
Napi::Value pau_backward(const Napi::CallbackInfo& info) {
  const at::Tensor& x0 = at_(info, 1);
  const PauCoef c = pau_coef(at_(info, 2), at_(info, 3));
  at::Tensor x = cpu_f32(x0, "pau"), dy = cpu_f32(at_(info, 0), "pau");
  TORCH_CHECK(dy.numel() == x.numel(), "pau: dy and x differ in size");
  const int64_t n = x.numel(), nc = (n + kPauChunk - 1) / kPauChunk;
  at::Tensor dx = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  float* dxp = dx.data_ptr<float>();
  std::vector<double> part(static_cast<size_t>(nc * 10), 0.0);
  parallel_chunks(nc, [&](int64_t k) {
    const int64_t e0 = k * kPauChunk;
    pau_backward_range(c, xp + e0, gp + e0, dxp + e0, part.data() + k * 10, std::min(kPauChunk, n - e0));
  });
  double sums[10] = {};
  for (int64_t k = 0; k < nc; ++k)
    for (int j = 0; j < 10; ++j) sums[j] += part[k * 10 + j];
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor da = at::empty({6}, f32), db = at::empty({4}, f32);
  for (int j = 0; j < 6; ++j) da.data_ptr<float>()[j] = static_cast<float>(sums[j]);
  // dF/db_k = -sign(b_k) |x|^k P / Q^2
  for (int k = 0; k < 4; ++k) db.data_ptr<float>()[k] = static_cast<float>(-static_cast<double>(c.sb[k]) * sums[6 + k]);
  for (const at::Tensor* o : {&dx, &da, &db}) emit(emit_on(*o, x0));
  return info.Env().Undefined();
}

/** aplForward(x, a, b) -> out */
Napi::Value apl_forward(const Napi::CallbackInfo& info) {
  const at::Tensor& x0 = at_(info, 0);
  Apl A(x0, at_(info, 1), at_(info, 2));
  at::Tensor x = cpu_f32(x0, "apl");
  at::Tensor out = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  const float *xp = x.data_ptr<float>(), *ap = A.a.data_ptr<float>(), *bp = A.b.data_ptr<float>();
  float* op = out.data_ptr<float>();
  parallel_chunks(A.chunks(), [&](int64_t k) {
    const int64_t r0 = k * A.chunk_rows, r1 = std::min(A.rows, r0 + A.chunk_rows);
    apl_forward_rows(xp + r0 * A.C, ap, bp, op + r0 * A.C, A.s, A.C, r1 - r0);
  });
  emit(emit_on(out, x0));
  return info.Env().Undefined();
}

/** aplBackward(dy, x, a, b) -> [dx, da [S, C], db [S, C]] */
Napi::Value apl_backward(const Napi::CallbackInfo& info) {
  const at::Tensor& x0 = at_(info, 1);
  Apl A(x0, at_(info, 2), at_(info, 3));
  at::Tensor x = cpu_f32(x0, "apl"), dy = cpu_f32(at_(info, 0), "apl");
  TORCH_CHECK(dy.numel() == x.numel(), "apl: dy and x differ in size");
  const int64_t sc = A.s * A.C, nc = A.chunks();
  at::Tensor dx = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>(), *ap = A.a.data_ptr<float>(), *bp = A.b.data_ptr<float>();
  float* dxp = dx.data_ptr<float>();
  // per chunk: [S*C] sums of dy relu(b_s - x), then [S*C] sums of dy [b_s > x]
  std::vector<double> part(static_cast<size_t>(nc * 2 * sc), 0.0);
  parallel_chunks(nc, [&](int64_t k) {
    double *sa = part.data() + k * 2 * sc, *sm = sa + sc;
    std::vector<float> scratch(static_cast<size_t>(2 * sc));
    const int64_t r0 = k * A.chunk_rows, r1 = std::min(A.rows, r0 + A.chunk_rows);
    apl_backward_rows(xp + r0 * A.C, gp + r0 * A.C, ap, bp, dxp + r0 * A.C, sa, sm, scratch.data(), scratch.data() + sc, A.s, A.C,
                      r1 - r0);
  });
  std::vector<double> sa(sc, 0.0), sm(sc, 0.0);
  for (int64_t k = 0; k < nc; ++k) {
    const double* p = part.data() + k * 2 * sc;
    for (int64_t j = 0; j < sc; ++j) sa[j] += p[j], sm[j] += p[sc + j];
  }
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor da = at::empty({A.s, A.C}, f32), db = at::empty({A.s, A.C}, f32);
  float *dap = da.data_ptr<float>(), *dbp = db.data_ptr<float>();
  for (int64_t j = 0; j < sc; ++j) {
    dap[j] = static_cast<float>(sa[j]);
    dbp[j] = static_cast<float>(static_cast<double>(ap[j]) * sm[j]);  // d/db_s = a_s [b_s > x]
  }
  for (const at::Tensor* o : {&dx, &da, &db}) emit(emit_on(*o, x0));
  return info.Env().Undefined();
}

}  // namespace

void init_pau_apl(Napi::Env env, Napi::Object exports) {
  def(env, exports, "pauForward", pau_forward);
  def(env, exports, "pauBackward", pau_backward);
  def(env, exports, "aplForward", apl_forward);
  def(env, exports, "aplBackward", apl_backward);
}

}  // namespace pwlu
