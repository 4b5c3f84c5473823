// Fused Swish, PReLU and hard-swish kernels, one pass each way (the contracts are at the top of
// src/ops/swish.ts, src/ops/prelu.ts and src/ops/hardswish.ts).
//
//  Swish  y = x*s, s = sigmoid(b*x).  Backward from x alone (s is recomputed, nothing else is
//         saved): dx = dy*(s + b*x*s*(1-s)), and, when beta is trainable, db = sum dy*x^2*s*(1-s).
//  PReLU  y = x > 0 ? x : a_c*x, one a per channel (last axis).  Backward: dx = x > 0 ? dy : a_c*dy
//         and da_c = sum over the elements of channel c with x <= 0 of dy*x.
//  Hard-swish  y = (x*r)/6, r = min(max(x+3, 0), 6), float32 steps in PyTorch's order (bitwise equal
//         to the composite and to torch).  Backward from x alone: dx = x < -3 ? 0 : x > 3 ? dy :
//         dy*(x/3 + 0.5) (torch's hardswish_backward arithmetic; the kinks take the middle branch).
//
// The loops are plain float code that gcc vectorises (exp is a Cephes-style polynomial; y and dx
// are within ~2e-7 relative of float64), compiled for AVX-512 / AVX2 / baseline and picked at load
// time. Single-threaded on 1M floats they beat ATen's silu / silu_backward (0.60 / 0.69 ms against
// 0.82 / 0.81 ms here). Work is split into fixed
// chunks of the element range, run on ATen's intra-op threads; sums go into per-chunk double lanes
// reduced in chunk order, so results do not depend on the thread count (no atomics).
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"

#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
#define PWLU_ACT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PWLU_ACT_CLONES
#endif

namespace pwlu {

namespace {


constexpr int64_t kChunk = int64_t{1} << 15;  // elements per chunk (a multiple of every lane count)
constexpr int64_t kBlock = 1024;              // elements per inner block (scratch on the stack)
constexpr int64_t kLanes = 16;                // double accumulator lanes of the Swish beta sum

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#endif

/**
 * e = exp(-|z|) in [0, 1] (Cephes expf, round-to-nearest by the 1.5*2^23 trick): -|z| is clamped
 * at -88, where the exponent field becomes 0 and e = 0 exactly; NaN z also gives e = 0 (x*s still
 * propagates the NaN of x). The symmetric form never overflows, and the clamped lanes compute with
 * e = 0, which matters: gcc evaluates the clamped branch for every lane, and a constant there that
 * makes denormals (e.g. s = 1/(1+e^88)) costs a microcode assist per vector (6x slower).
 * From e: s+ = 1/(1+e) = sigmoid(|z|); s = z >= 0 ? s+ : e*s+; s*(1-s) = e*s+^2 (no cancellation).
 */
#define PWLU_EXP_NEG_ABS(z, e)                                                    \
  float t_ = -__builtin_fabsf(z);                                                 \
  t_ = t_ > -88.f ? t_ : -88.f;                                                   \
  const float n_ = (t_ * 1.44269504088896341f + 12582912.f) - 12582912.f;         \
  const float r_ = (t_ - n_ * 0.693359375f) - n_ * -2.12194440e-4f;               \
  float p_ = 1.9875691500e-4f;                                                    \
  p_ = p_ * r_ + 1.3981999507e-3f;                                                \
  p_ = p_ * r_ + 8.3334519073e-3f;                                                \
  p_ = p_ * r_ + 4.1665795894e-2f;                                                \
  p_ = p_ * r_ + 1.6666665459e-1f;                                                \
  p_ = p_ * r_ + 5.0000001201e-1f;                                                \
  p_ = p_ * (r_ * r_) + r_ + 1.f;                                                 \
  const int32_t b_ = (static_cast<int32_t>(n_) + 127) << 23;                      \
  float m_;                                                                       \
  std::memcpy(&m_, &b_, sizeof m_);                                               \
  const float e = p_ * m_

/** s = sigmoid(z) and q = s*(1-s), from z. */
#define PWLU_SIGMOID(z, s, q)                         \
  PWLU_EXP_NEG_ABS(z, e);                             \
  const float sp_ = 1.f / (1.f + e);                  \
  const float s = (z) >= 0.f ? sp_ : e * sp_;         \
  const float q = e * (sp_ * sp_)

/** y = x*sigmoid(b*x) over n elements; b == 1 (SiLU) skips the multiply. */
PWLU_ACT_CLONES void swish_fwd(const float* __restrict x, float* __restrict y, int64_t n, float b) {
  if (b == 1.f) {
    for (int64_t k = 0; k < n; ++k) {
      const float v = x[k];
      PWLU_SIGMOID(v, s, q);
      (void)q;
      y[k] = v * s;
    }
  } else {
    for (int64_t k = 0; k < n; ++k) {
      const float v = x[k], z = b * v;
      PWLU_SIGMOID(z, s, q);
      (void)q;
      y[k] = v * s;
    }
  }
}

/** dx = dy*(s + b*x*s*(1-s)) over n elements; b == 1 (SiLU) skips the multiply. */
PWLU_ACT_CLONES void swish_bwd(const float* __restrict x, const float* __restrict g, float* __restrict dx, int64_t n,
                               float b) {
  if (b == 1.f) {
    for (int64_t k = 0; k < n; ++k) {
      const float v = x[k];
      PWLU_SIGMOID(v, s, q);
      dx[k] = g[k] * (s + v * q);
    }
  } else {
    for (int64_t k = 0; k < n; ++k) {
      const float v = x[k], z = b * v;
      PWLU_SIGMOID(z, s, q);
      dx[k] = g[k] * (s + z * q);
    }
  }
}

/** swish_bwd, plus w[k] = dy*x^2*s*(1-s), the terms of the beta gradient. */
PWLU_ACT_CLONES void swish_bwd_beta(const float* __restrict x, const float* __restrict g, float* __restrict dx,
                                    float* __restrict w, int64_t n, float b) {
  for (int64_t k = 0; k < n; ++k) {
    const float v = x[k], z = b * v, gk = g[k];
    PWLU_SIGMOID(z, s, q);
    dx[k] = gk * (s + z * q);
    w[k] = gk * ((v * v) * q);
  }
}

/** acc[j] += w[i*L + j] for the whole groups of L = kLanes (n a multiple of kLanes), in double. */
PWLU_ACT_CLONES void lane_sum(const float* __restrict w, double* __restrict acc, int64_t n) {
  for (int64_t i = 0; i < n; i += kLanes)
    for (int64_t j = 0; j < kLanes; ++j) acc[j] += static_cast<double>(w[i + j]);
}

/** PReLU forward over n elements; ar[k] is the slope of position k (block positions, period C). */
PWLU_ACT_CLONES void prelu_fwd(const float* __restrict x, const float* __restrict ar, float* __restrict y, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float v = x[k], neg = ar[k] * v;
    y[k] = v > 0.f ? v : neg;
  }
}

/** PReLU backward over n elements: dx, and acc[k] += dy*x where x <= 0 (double, per block position). */
PWLU_ACT_CLONES void prelu_bwd(const float* __restrict x, const float* __restrict g, const float* __restrict ar,
                               float* __restrict dx, double* __restrict acc, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float v = x[k], gk = g[k], neg = ar[k] * gk;
    const bool pos = v > 0.f;
    dx[k] = pos ? gk : neg;
    const double t = static_cast<double>(v) * static_cast<double>(gk);
    acc[k] += pos ? 0.0 : t;
  }
}

/** Hard-swish forward over n elements: y = (x*r)/6, r = min(max(x+3, 0), 6); a NaN x gives NaN. */
PWLU_ACT_CLONES void hardswish_fwd(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float v = x[k], t = v + 3.f;
    float r = t < 0.f ? 0.f : t;
    r = r > 6.f ? 6.f : r;
    y[k] = (v * r) / 6.f;
  }
}

/** Hard-swish backward over n elements: dx = x < -3 ? 0 : x > 3 ? dy : dy*(x/3 + 0.5). */
PWLU_ACT_CLONES void hardswish_bwd(const float* __restrict x, const float* __restrict g, float* __restrict dx, int64_t n) {
  for (int64_t k = 0; k < n; ++k) {
    const float v = x[k], gk = g[k];
    const float mid = gk * (v / 3.f + 0.5f);
    const float up = v > 3.f ? gk : mid;
    dx[k] = v < -3.f ? 0.f : up;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

at::TensorOptions cpu_opts() { return at::TensorOptions().dtype(at::kFloat); }

/** t on device d. Take d before the first emit: emit may grow the tensor table, so references into it dangle. */
at::Tensor back_to(const at::Tensor& t, at::Device d) { return d.is_cpu() ? t : t.to(d); }

int64_t chunks_of(int64_t numel, int64_t chunk) { return (numel + chunk - 1) / chunk; }

/** y = f(x) element by element: f(x, y, n) on kChunk-long pieces of contiguous float32 x, on ATen's threads. */
template <typename F>
at::Tensor map_chunks(const at::Tensor& x, const F& f) {
  at::Tensor y = at::empty(x.sizes(), cpu_opts());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const int64_t numel = x.numel();
  parallel_chunks(chunks_of(numel, kChunk), [&](int64_t c) {
    const int64_t e0 = c * kChunk;
    f(xp + e0, yp + e0, std::min(kChunk, numel - e0));
  });
  return y;
}

/** dx = f(x, dy) element by element: f(x, dy, dx, n) on kChunk-long pieces, as map_chunks. */
template <typename F>
at::Tensor map2_chunks(const at::Tensor& x, const at::Tensor& dy, const char* what, const F& f) {
  TORCH_CHECK(dy.numel() == x.numel(), what, ": dy and x differ in size");
  at::Tensor dx = at::empty(x.sizes(), cpu_opts());
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  float* dxp = dx.data_ptr<float>();
  const int64_t numel = x.numel();
  parallel_chunks(chunks_of(numel, kChunk), [&](int64_t c) {
    const int64_t e0 = c * kChunk;
    f(xp + e0, gp + e0, dxp + e0, std::min(kChunk, numel - e0));
  });
  return dx;
}

/** beta from the optional tensor argument i (a one-element float32 tensor), else the number argument j. */
float beta_arg(const Napi::CallbackInfo& info, size_t i, size_t j, c10::optional<at::Tensor>* tensor) {
  c10::optional<at::Tensor> t = opt_t(info, i);
  if (tensor) *tensor = t;
  if (!t) return static_cast<float>(ad(info, j));
  TORCH_CHECK(t->numel() == 1, "swish: beta must have one element");
  return cpu_f32(*t, "swish/prelu").data_ptr<float>()[0];
}

/** swishForward(x, betaId, beta) -> y; betaId < 0: beta is the number. */
Napi::Value swish_forward(const Napi::CallbackInfo& info) {
  const at::Tensor x0 = at_(info, 0);  // a handle, not a reference into the table
  const float b = beta_arg(info, 1, 2, nullptr);
  at::Tensor y = map_chunks(cpu_f32(x0, "swish/prelu"), [b](const float* x, float* out, int64_t n) { swish_fwd(x, out, n, b); });
  emit(back_to(y, x0.device()));
  return info.Env().Undefined();
}

/** swishBackward(dy, x, betaId, beta) -> [dx] for a fixed beta (betaId < 0), [dx, dbeta] for a tensor beta. */
Napi::Value swish_backward(const Napi::CallbackInfo& info) {
  const at::Tensor x0 = at_(info, 1);  // a handle, not a reference into the table
  c10::optional<at::Tensor> bt;
  const float b = beta_arg(info, 2, 3, &bt);
  at::Tensor x = cpu_f32(x0, "swish/prelu"), dy = cpu_f32(at_(info, 0), "swish/prelu");
  if (!bt) {
    at::Tensor dx = map2_chunks(x, dy, "swish", [b](const float* xs, const float* g, float* out, int64_t n) { swish_bwd(xs, g, out, n, b); });
    emit(back_to(dx, x0.device()));
    return info.Env().Undefined();
  }
  const int64_t numel = x.numel();
  TORCH_CHECK(dy.numel() == numel, "swish: dy and x differ in size");
  at::Tensor dx = at::empty(x.sizes(), cpu_opts());
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  float* dxp = dx.data_ptr<float>();
  const int64_t nc = chunks_of(numel, kChunk);
  std::vector<double> part(static_cast<size_t>(nc * kLanes), 0.0);
  parallel_chunks(nc, [&](int64_t c) {
    alignas(64) float w[kBlock];
    double* acc = part.data() + c * kLanes;
    const int64_t end = std::min(numel, (c + 1) * kChunk);
    for (int64_t e0 = c * kChunk; e0 < end; e0 += kBlock) {
      const int64_t len = std::min(kBlock, end - e0);
      swish_bwd_beta(xp + e0, gp + e0, dxp + e0, w, len, b);
      const int64_t whole = len - len % kLanes;
      lane_sum(w, acc, whole);
      for (int64_t k = whole; k < len; ++k) acc[k - whole] += static_cast<double>(w[k]);
    }
  });
  double sum = 0.0;
  for (double v : part) sum += v;  // chunk by chunk, lane by lane: a fixed order
  at::Tensor db = at::full(bt->sizes(), static_cast<float>(sum), cpu_opts());
  emit(back_to(dx, x0.device()));
  emit(back_to(db, x0.device()));
  return info.Env().Undefined();
}

/** PReLU geometry: C channels, block positions R (a multiple of C, >= 64) with their slopes, chunk length. */
struct PreluPlan {
  int64_t numel = 0, c = 1, r = 1, chunk = 1;
  std::vector<float> ar;  // slope of block position k: a[k % C]

  PreluPlan(const at::Tensor& x, const at::Tensor& alpha0) {
    TORCH_CHECK(x.dim() >= 1, "prelu: x must have rank >= 1");
    c = x.size(-1);
    numel = x.numel();
    TORCH_CHECK(alpha0.numel() == c, "prelu: alpha must have one slope per channel (the last axis)");
    at::Tensor alpha = cpu_f32(alpha0, "swish/prelu");
    const float* ap = alpha.data_ptr<float>();
    r = c * std::max<int64_t>(1, (64 + c - 1) / std::max<int64_t>(c, 1));
    if (r == 0) r = 64;  // C = 0: no elements
    chunk = r * std::max<int64_t>(1, kChunk / r);
    ar.resize(r);
    for (int64_t k = 0; k < r; ++k) ar[k] = c > 0 ? ap[k % c] : 0.f;
  }
};

/** preluForward(x, alpha) -> y */
Napi::Value prelu_forward(const Napi::CallbackInfo& info) {
  const at::Tensor x0 = at_(info, 0);  // a handle, not a reference into the table
  PreluPlan P(x0, at_(info, 1));
  at::Tensor x = cpu_f32(x0, "swish/prelu");
  at::Tensor y = at::empty(x.sizes(), cpu_opts());
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  parallel_chunks(chunks_of(P.numel, P.chunk), [&](int64_t c) {
    const int64_t end = std::min(P.numel, (c + 1) * P.chunk);
    for (int64_t e0 = c * P.chunk; e0 < end; e0 += P.r) prelu_fwd(xp + e0, P.ar.data(), yp + e0, std::min(P.r, end - e0));
  });
  emit(back_to(y, x0.device()));
  return info.Env().Undefined();
}

/** preluBackward(dy, x, alpha) -> [dx, dalpha] */
Napi::Value prelu_backward(const Napi::CallbackInfo& info) {
  const at::Tensor x0 = at_(info, 1);  // a handle, not a reference into the table
  const at::Tensor alpha0 = at_(info, 2);
  PreluPlan P(x0, alpha0);
  at::Tensor x = cpu_f32(x0, "swish/prelu"), dy = cpu_f32(at_(info, 0), "swish/prelu");
  TORCH_CHECK(dy.numel() == P.numel, "prelu: dy and x differ in size");
  at::Tensor dx = at::empty(x.sizes(), cpu_opts());
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  float* dxp = dx.data_ptr<float>();
  const int64_t nc = chunks_of(P.numel, P.chunk);
  std::vector<double> part(static_cast<size_t>(nc * P.r), 0.0);
  parallel_chunks(nc, [&](int64_t c) {
    double* acc = part.data() + c * P.r;
    const int64_t end = std::min(P.numel, (c + 1) * P.chunk);
    for (int64_t e0 = c * P.chunk; e0 < end; e0 += P.r)
      prelu_bwd(xp + e0, gp + e0, P.ar.data(), dxp + e0, acc, std::min(P.r, end - e0));
  });
  std::vector<double> da(static_cast<size_t>(P.c), 0.0);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t k = 0; k < P.r; ++k) da[k % P.c] += part[c * P.r + k];  // a fixed order
  at::Tensor dalpha = at::empty(alpha0.sizes(), cpu_opts());
  float* dap = dalpha.data_ptr<float>();
  for (int64_t k = 0; k < P.c; ++k) dap[k] = static_cast<float>(da[k]);
  emit(back_to(dx, x0.device()));
  emit(back_to(dalpha, x0.device()));
  return info.Env().Undefined();
}

/** hardswishForward(x) -> y */
Napi::Value hardswish_forward(const Napi::CallbackInfo& info) {
  const at::Tensor x0 = at_(info, 0);  // a handle, not a reference into the table
  emit(back_to(map_chunks(cpu_f32(x0, "hardswish"), hardswish_fwd), x0.device()));
  return info.Env().Undefined();
}

/** hardswishBackward(dy, x) -> dx */
Napi::Value hardswish_backward(const Napi::CallbackInfo& info) {
  const at::Tensor x0 = at_(info, 1);  // a handle, not a reference into the table
  at::Tensor x = cpu_f32(x0, "hardswish"), dy = cpu_f32(at_(info, 0), "hardswish");
  emit(back_to(map2_chunks(x, dy, "hardswish", hardswish_bwd), x0.device()));
  return info.Env().Undefined();
}

}  // namespace

void init_swish_prelu(Napi::Env env, Napi::Object exports) {
  def(env, exports, "swishForward", swish_forward);
  def(env, exports, "swishBackward", swish_backward);
  def(env, exports, "preluForward", prelu_forward);
  def(env, exports, "preluBackward", prelu_backward);
  def(env, exports, "hardswishForward", hardswish_forward);
  def(env, exports, "hardswishBackward", hardswish_backward);
}

}  // namespace pwlu
