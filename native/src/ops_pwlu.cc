// PWLU forward and backward in one pass each (the kernel contract is at the top of
// src/ops/pwlu.ts): per instance a slope/intercept table S, O of N+2 segments (left,
// intervals 0..N-1, right), y = S[seg]*x + O[seg]; the backward sums, per instance and segment,
// G = sum(dy) and H = sum(dy*w) (w = x-BL left, t inner, x-BR right), from which the N+1 height
// gradients and dKL, dKR, dBL, dBR follow exactly. Tables, products and sums in double, as the JS
// kernels. Work is split into fixed chunks of the element range (independent of the thread count);
// each chunk sums into its own slots, and the slots are reduced in chunk order: deterministic.
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>

#include <algorithm>

#include "common.h"

// x86-64 with ifunc support (glibc): AVX-512/AVX2 clones picked at load time, AVX-512 intrinsics.
#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
#define PWLU_X86 1
#include <immintrin.h>
#else
#define PWLU_X86 0
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF  // (GCC: see the optimize pragma below)
#endif

namespace pwlu {

namespace {


/** Per block position k (a block starts at a multiple of P): BL, BR, d, table offset of instance k % P; tables. */
struct Lut {
  const float *lo, *hi, *d;
  const int32_t *tb, *ab;  // table offset (k % P)*(N+2), accumulator offset (k % A)*(N+2)
  const double *s, *o;
  int32_t n;
  const double *s32, *o32;  // the tables zero-padded to 32 entries when P*(N+2) <= 32, else null
};

// The block loops vectorise (gathers from the tables); compiled for AVX-512/AVX2 too where the
// toolchain can dispatch at load time. fp-contract is off, so every clone rounds alike (no FMA);
// no-trapping-math lets selects of computed values vectorise (it changes no value).
#if PWLU_X86
#define PWLU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define PWLU_CLONES
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-trapping-math")
#endif

/**
 * Segment of x[k]: 0 left (x < BL), N+1 right (x >= BR), else i+1 for the interval
 * i = clamp(floor(u), 0, N-1), u = fl32(fl32(x-BL)/d) (NaN u -> 0); t = u - i.
 */
#define PWLU_SEGMENT(v, k, sg, t)                                            \
  const float lo_ = lo[k], hi_ = hi[k];                                      \
  const float u_ = ((v)-lo_) / d[k];                                         \
  const float m_ = nm1 < u_ ? nm1 : u_;                                      \
  const int32_t i_ = static_cast<int32_t>(0.0f < m_ ? m_ : 0.0f); /* NaN: 0 */ \
  const int32_t r_ = (v) >= hi_ ? right : i_ + 1;                            \
  const int32_t sg = (v) < lo_ ? 0 : r_;                                     \
  const float t = u_ - static_cast<float>(i_)

#define PWLU_LUT(L)                                                                              \
  const float *__restrict lo = (L).lo, *__restrict hi = (L).hi, *__restrict d = (L).d;          \
  const int32_t *__restrict tb = (L).tb, *__restrict ab = (L).ab;                                \
  const double *__restrict S = (L).s, *__restrict O = (L).o;                                     \
  const float nm1 = static_cast<float>((L).n - 1);                                               \
  const int32_t right = (L).n + 1

/** out = S[seg]*x + O[seg] over a block of len elements. */
PWLU_CLONES void forward_block(const Lut& L, const float* __restrict x, float* __restrict out, int64_t k0, int64_t len) {
  PWLU_LUT(L);
  for (int64_t k = k0; k < len; ++k) {
    const float v = x[k];
    PWLU_SEGMENT(v, k, sg, t);
    (void)t;
    const int32_t j = tb[k] + sg;
    out[k] = static_cast<float>(S[j] * static_cast<double>(v) + O[j]);
  }
}

/**
 * dx = S[seg]*dy; per element its accumulator index jj = (k % A)*(N+2) + seg and the pair
 * (dy, dy*w), w = x-BL left, t inner, x-BR right, in double.
 */
PWLU_CLONES void backward_block(const Lut& L, const float* __restrict x, const float* __restrict g, float* __restrict dx,
                                int32_t* __restrict jj, float* __restrict tt, double* __restrict pr, int64_t k0, int64_t len) {
  PWLU_LUT(L);
  (void)O;
  for (int64_t k = k0; k < len; ++k) {
    const float v = x[k];
    PWLU_SEGMENT(v, k, sg, t);
    dx[k] = static_cast<float>(S[tb[k] + sg] * static_cast<double>(g[k]));
    jj[k] = sg;
    tt[k] = t;
  }
  // a second loop: selects on the segment do not vectorise in the first one
  for (int64_t k = k0; k < len; ++k) {
    const double v = x[k], wl = v - static_cast<double>(lo[k]), wr = v - static_cast<double>(hi[k]), wi = tt[k];
    const int32_t sg = jj[k];
    const double wo = sg == right ? wr : wi, gd = g[k];
    pr[2 * k] = gd;
    pr[2 * k + 1] = gd * (sg == 0 ? wl : wo);
    jj[k] = ab[k] + sg;
  }
}

/** Adds the pairs pr[k] of backward_block into their accumulators acc[jj[k]], in element order. */
inline void sum_pairs(double* __restrict acc, const int32_t* __restrict jj, const double* __restrict pr, int64_t k0, int64_t len) {
  for (int64_t k = k0; k < len; ++k) {
    double* a = acc + 2 * jj[k];
    a[0] += pr[2 * k];
    a[1] += pr[2 * k + 1];
  }
}

#if PWLU_X86
// The *_avx512 blocks serve tables of at most 32 entries (layer-wise up to N = 30): the lookups are
// register permutes instead of gathers, which on current Xeons cost ~3x the rest of the loop and
// starve the memory stream (prefetched explicitly here). Same operations and rounding as above.

/** Segments of x[k..k+8) as in PWLU_SEGMENT: sg, u, i, and the left (lt) and right (ge) masks. */
#define PWLU_SEGMENT8(L, k)                                                                            \
  const __m256 v = _mm256_loadu_ps(x + k), lo = _mm256_loadu_ps(L.lo + k), hi = _mm256_loadu_ps(L.hi + k); \
  const __m256 u = _mm256_div_ps(_mm256_sub_ps(v, lo), _mm256_loadu_ps(L.d + k));                     \
  const __m256i i = _mm256_cvttps_epi32(_mm256_max_ps(_mm256_min_ps(nm1, u), zero)); /* NaN: 0 */     \
  const __m256 ge = _mm256_cmp_ps(v, hi, _CMP_GE_OQ), lt = _mm256_cmp_ps(v, lo, _CMP_LT_OQ);           \
  __m256i sg = _mm256_blendv_epi8(_mm256_add_epi32(i, one), right, _mm256_castps_si256(ge));          \
  sg = _mm256_andnot_si256(_mm256_castps_si256(lt), sg);                                               \
  const __m512i j64 = _mm512_cvtepi32_epi64(_mm256_add_epi32(sg, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L.tb + k)))); \
  const __mmask8 up = _mm512_test_epi64_mask(j64, high)

#define PWLU_CONSTS8(L)                                                                              \
  const __m256 nm1 = _mm256_set1_ps(static_cast<float>(L.n - 1)), zero = _mm256_setzero_ps();      \
  const __m256i one = _mm256_set1_epi32(1), right = _mm256_set1_epi32(L.n + 1);                     \
  const __m512i high = _mm512_set1_epi64(16);                                                        \
  const __m512d s0 = _mm512_loadu_pd(L.s32), s1 = _mm512_loadu_pd(L.s32 + 8), s2 = _mm512_loadu_pd(L.s32 + 16), \
                s3 = _mm512_loadu_pd(L.s32 + 24)

/** A 32-entry table lookup: entries 0-15 from s0:s1, 16-31 from s2:s3. */
#define PWLU_LOOKUP8(t0, t1, t2, t3) \
  _mm512_mask_blend_pd(up, _mm512_permutex2var_pd(t0, j64, t1), _mm512_permutex2var_pd(t2, j64, t3))

constexpr int64_t kPrefetch = 1024;  // elements ahead

/** acc[0..1] += the two doubles in p (a pair's bits, as float lanes). */
__attribute__((target("avx512f"))) inline void add_pair(double* acc, __m128 p) {
  _mm_storeu_pd(acc, _mm_add_pd(_mm_loadu_pd(acc), _mm_castps_pd(p)));
}

__attribute__((target("avx512f"))) void forward_block_avx512(const Lut& L, const float* __restrict x, float* __restrict out,
                                                          int64_t len) {
  PWLU_CONSTS8(L);
  const __m512d o0 = _mm512_loadu_pd(L.o32), o1 = _mm512_loadu_pd(L.o32 + 8), o2 = _mm512_loadu_pd(L.o32 + 16),
                o3 = _mm512_loadu_pd(L.o32 + 24);
  int64_t k = 0;
  for (; k + 8 <= len; k += 8) {
    if ((k & 15) == 0) _mm_prefetch(reinterpret_cast<const char*>(x + k + kPrefetch), _MM_HINT_T0);
    PWLU_SEGMENT8(L, k);
    const __m512d sv = PWLU_LOOKUP8(s0, s1, s2, s3), ov = PWLU_LOOKUP8(o0, o1, o2, o3);
    _mm256_storeu_ps(out + k, _mm512_cvtpd_ps(_mm512_add_pd(_mm512_mul_pd(sv, _mm512_cvtps_pd(v)), ov)));
  }
  if (k < len) forward_block(L, x, out, k, len);
}

/**
 * backward_block with permutes, summing each element's pair into acc straight from the registers (one 16-byte
 * add per element) instead of through jj and pr; jj, tt, pr: scratch for the tail.
 */
__attribute__((target("avx512f"))) void backward_block_avx512(const Lut& L, const float* __restrict x, const float* __restrict g,
                                                           float* __restrict dx, int32_t* __restrict jj, float* __restrict tt,
                                                           double* __restrict pr, double* __restrict acc, int64_t len) {
  PWLU_CONSTS8(L);
  const __m512i even = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0), odd = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
  int64_t k = 0;
  for (; k + 8 <= len; k += 8) {
    if ((k & 15) == 0) {
      _mm_prefetch(reinterpret_cast<const char*>(x + k + kPrefetch), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(g + k + kPrefetch), _MM_HINT_T0);
    }
    PWLU_SEGMENT8(L, k);
    alignas(32) int32_t j[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(j), _mm256_add_epi32(sg, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(L.ab + k))));
    const __m512d gd = _mm512_cvtps_pd(_mm256_loadu_ps(g + k));
    _mm256_storeu_ps(dx + k, _mm512_cvtpd_ps(_mm512_mul_pd(PWLU_LOOKUP8(s0, s1, s2, s3), gd)));
    const __m512d xd = _mm512_cvtps_pd(v), t = _mm512_cvtps_pd(_mm256_sub_ps(u, _mm256_cvtepi32_ps(i)));
    const __mmask8 ml = static_cast<__mmask8>(_mm256_movemask_ps(lt));
    const __mmask8 mr = static_cast<__mmask8>(_mm256_movemask_ps(ge) & ~ml);
    __m512d w = _mm512_mask_blend_pd(mr, t, _mm512_sub_pd(xd, _mm512_cvtps_pd(hi)));
    w = _mm512_mask_blend_pd(ml, w, _mm512_sub_pd(xd, _mm512_cvtps_pd(lo)));
    const __m512d gw = _mm512_mul_pd(gd, w);
    const __m512 p0 = _mm512_castpd_ps(_mm512_permutex2var_pd(gd, even, gw)), p1 = _mm512_castpd_ps(_mm512_permutex2var_pd(gd, odd, gw));
    add_pair(acc + 2 * j[0], _mm512_castps512_ps128(p0));
    add_pair(acc + 2 * j[1], _mm512_extractf32x4_ps(p0, 1));
    add_pair(acc + 2 * j[2], _mm512_extractf32x4_ps(p0, 2));
    add_pair(acc + 2 * j[3], _mm512_extractf32x4_ps(p0, 3));
    add_pair(acc + 2 * j[4], _mm512_castps512_ps128(p1));
    add_pair(acc + 2 * j[5], _mm512_extractf32x4_ps(p1, 1));
    add_pair(acc + 2 * j[6], _mm512_extractf32x4_ps(p1, 2));
    add_pair(acc + 2 * j[7], _mm512_extractf32x4_ps(p1, 3));
  }
  if (k < len) {
    backward_block(L, x, g, dx, jj, tt, pr, k, len);
    sum_pairs(acc, jj, pr, k, len);
  }
}
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

bool use_avx512(const Lut& L) {
#if PWLU_X86
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return L.s32 != nullptr && avx512;
#else
  return false;
#endif
}

struct Pwlu {
  int64_t p = 1, n = 1, numel = 0;
  int64_t a = 1;      // accumulator slots (instances x lanes: at least 4, to break add chains)
  int64_t r = 1;      // block length, a multiple of a (and so of p)
  int64_t chunk = 1;  // chunk length, a multiple of r
  std::vector<double> s, o, kl, kr;      // [P][N+2] tables, [P] outer slopes
  std::vector<float> lo, hi, d;          // per block position k: BL, BR, d of instance k % P
  std::vector<int32_t> tb, ab;           // per block position: (k % P) * (N+2), (k % A) * (N+2)

  Pwlu(const at::Tensor& x, const at::Tensor& y_, const at::Tensor& kl_, const at::Tensor& kr_, const at::Tensor& bl_,
       const at::Tensor& br_) {
    TORCH_CHECK(x.dim() >= 1 && y_.dim() == 2, "pwlu: x must have rank >= 1 and y be [P, N+1]");
    p = y_.size(0);
    n = y_.size(1) - 1;
    numel = x.numel();
    TORCH_CHECK(n >= 1, "pwlu: need at least one interval");
    TORCH_CHECK(p == 1 || p == x.size(-1), "pwlu: P must be 1 or the channel count");
    for (const at::Tensor* t : {&kl_, &kr_, &bl_, &br_}) TORCH_CHECK(t->numel() == p, "pwlu: kl/kr/bl/br must be [P]");
    at::Tensor y = cpu_f32(y_, "pwlu"), tkl = cpu_f32(kl_, "pwlu"), tkr = cpu_f32(kr_, "pwlu"), tbl = cpu_f32(bl_, "pwlu"), tbr = cpu_f32(br_, "pwlu");
    const float *yp = y.data_ptr<float>(), *klp = tkl.data_ptr<float>(), *krp = tkr.data_ptr<float>();
    const float *blp = tbl.data_ptr<float>(), *brp = tbr.data_ptr<float>();
    const int64_t w = n + 2;
    s.resize(p * w);
    o.resize(p * w);
    kl.assign(klp, klp + p);
    kr.assign(krp, krp + p);
    std::vector<float> dq(p);
    for (int64_t q = 0; q < p; ++q) {
      const float dd = (brp[q] - blp[q]) / static_cast<float>(n);
      dq[q] = dd;
      const float* yq = yp + q * (n + 1);
      double* sq = s.data() + q * w;
      double* oq = o.data() + q * w;
      sq[0] = klp[q];
      oq[0] = static_cast<double>(yq[0]) - static_cast<double>(klp[q]) * blp[q];
      for (int64_t i = 0; i < n; ++i) {
        const double k = (static_cast<double>(yq[i + 1]) - yq[i]) / dd;
        sq[i + 1] = k;
        oq[i + 1] = yq[i] - k * (blp[q] + static_cast<double>(i) * dd);
      }
      sq[n + 1] = krp[q];
      oq[n + 1] = static_cast<double>(yq[n]) - static_cast<double>(krp[q]) * brp[q];
    }
    if (p * w <= 32) {
      s32.assign(32, 0.0), o32.assign(32, 0.0);
      std::copy(s.begin(), s.end(), s32.begin());
      std::copy(o.begin(), o.end(), o32.begin());
    }
    a = p * ((4 + p - 1) / p);
    r = a * ((256 + a - 1) / a);
    chunk = r * std::max<int64_t>(1, (int64_t{1} << 16) / r);
    lo.resize(r), hi.resize(r), d.resize(r), tb.resize(r), ab.resize(r);
    for (int64_t k = 0; k < r; ++k) {
      const int64_t q = k % p;
      lo[k] = blp[q], hi[k] = brp[q], d[k] = dq[q], tb[k] = static_cast<int32_t>(q * w);
      ab[k] = static_cast<int32_t>((k % a) * w);
    }
  }

  int64_t chunks() const { return (numel + chunk - 1) / chunk; }

  std::vector<double> s32, o32;          // s, o zero-padded to 32 entries when they fit

  Lut lut() const {
    return {lo.data(), hi.data(), d.data(), tb.data(), ab.data(), s.data(), o.data(), static_cast<int32_t>(n),
            s32.empty() ? nullptr : s32.data(), o32.empty() ? nullptr : o32.data()};
  }
};

/** pwluForward(x, y, kl, kr, bl, br) -> out */
Napi::Value pwlu_forward(const Napi::CallbackInfo& info) {
  const at::Tensor& x0 = at_(info, 0);
  Pwlu P(x0, at_(info, 1), at_(info, 2), at_(info, 3), at_(info, 4), at_(info, 5));
  at::Tensor x = cpu_f32(x0, "pwlu");
  at::Tensor out = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  const float* xp = x.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const Lut L = P.lut();
  const bool permute = use_avx512(L);
  parallel_chunks(P.chunks(), [&](int64_t c) {
    const int64_t end = std::min(P.numel, (c + 1) * P.chunk);
    for (int64_t e0 = c * P.chunk; e0 < end; e0 += P.r) {
      const int64_t len = std::min(P.r, end - e0);
#if PWLU_X86
      if (permute) {
        forward_block_avx512(L, xp + e0, op + e0, len);
        continue;
      }
#endif
      forward_block(L, xp + e0, op + e0, 0, len);
    }
  });
  emit(x0.device().is_cpu() ? out : out.to(x0.device()));
  return info.Env().Undefined();
}

#if PWLU_X86
/**
 * Inference form for tables of at most 32 entries: y = S[seg]*x + O[seg] in float32, 16 lanes, both tables in two
 * registers each. The segment in one clamp, seg = clamp(trunc((x - BL) * (1/d) + 1), 0, N+1): below BL it is 0
 * (left), from BR on N+1 (right), the clamp also sends NaN to 0 (its value stays NaN). Against the training forward
 * (float64 table arithmetic, a division, explicit region tests) it differs by float rounding only: PWLU is
 * continuous, so an element that the reciprocal puts in the neighbouring segment at a breakpoint gets the same value
 * up to rounding.
 */
__attribute__((target("avx512f"))) void infer_block_avx512(const Lut& L, const float* __restrict rd, const float* __restrict sf,
                                                        const float* __restrict of, const float* __restrict x, float* __restrict out,
                                                        int64_t len) {
  const __m512 s0 = _mm512_loadu_ps(sf), s1 = _mm512_loadu_ps(sf + 16), o0 = _mm512_loadu_ps(of), o1 = _mm512_loadu_ps(of + 16);
  const __m512 top = _mm512_set1_ps(static_cast<float>(L.n + 1)), zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
  int64_t k = 0;
  for (; k + 16 <= len; k += 16) {
    const __m512 v = _mm512_loadu_ps(x + k);
    const __m512 u = _mm512_fmadd_ps(_mm512_sub_ps(v, _mm512_loadu_ps(L.lo + k)), _mm512_loadu_ps(rd + k), one);
    const __m512i sg = _mm512_cvttps_epi32(_mm512_max_ps(_mm512_min_ps(top, u), zero));  // NaN: 0
    const __m512i j = _mm512_add_epi32(sg, _mm512_loadu_si512(L.tb + k));
    _mm512_storeu_ps(out + k, _mm512_fmadd_ps(_mm512_permutex2var_ps(s0, j, s1), v, _mm512_permutex2var_ps(o0, j, o1)));
  }
  for (; k < len; ++k) {  // the tail, the same arithmetic one element at a time
    const float v = x[k], u = std::fma(v - L.lo[k], rd[k], 1.0f), top1 = static_cast<float>(L.n + 1);
    const float m = top1 < u ? top1 : u;
    const int32_t j = L.tb[k] + static_cast<int32_t>(0.0f < m ? m : 0.0f);
    out[k] = std::fma(sf[j], v, of[j]);
  }
}
#endif

/** pwluInfer(x, y, kl, kr, bl, br) -> out: the float32 inference form where it applies, else pwluForward's loops. */
Napi::Value pwlu_infer(const Napi::CallbackInfo& info) {
#if PWLU_X86
  const at::Tensor& x0 = at_(info, 0);
  Pwlu P(x0, at_(info, 1), at_(info, 2), at_(info, 3), at_(info, 4), at_(info, 5));
  const Lut L = P.lut();
  if (use_avx512(L)) {
    at::Tensor x = cpu_f32(x0, "pwlu");
    at::Tensor out = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
    std::vector<float> rd(P.r), sf(32, 0.0f), of(32, 0.0f);
    for (int64_t k = 0; k < P.r; ++k) rd[k] = 1.0f / P.d[k];
    for (size_t e = 0; e < P.s.size(); ++e) sf[e] = static_cast<float>(P.s[e]), of[e] = static_cast<float>(P.o[e]);
    const float* xp = x.data_ptr<float>();
    float* op = out.data_ptr<float>();
    parallel_chunks(P.chunks(), [&](int64_t c) {
      const int64_t end = std::min(P.numel, (c + 1) * P.chunk);
      for (int64_t e0 = c * P.chunk; e0 < end; e0 += P.r) {
        infer_block_avx512(L, rd.data(), sf.data(), of.data(), xp + e0, op + e0, std::min(P.r, end - e0));
      }
    });
    emit(x0.device().is_cpu() ? out : out.to(x0.device()));
    return info.Env().Undefined();
  }
#endif
  return pwlu_forward(info);
}

/** pwluBackward(dy, x, y, kl, kr, bl, br) -> [dx, dY, dKL, dKR, dBL, dBR] */
Napi::Value pwlu_backward(const Napi::CallbackInfo& info) {
  const at::Tensor& x0 = at_(info, 1);
  Pwlu P(x0, at_(info, 2), at_(info, 3), at_(info, 4), at_(info, 5), at_(info, 6));
  at::Tensor x = cpu_f32(x0, "pwlu"), dy = cpu_f32(at_(info, 0), "pwlu");
  TORCH_CHECK(dy.numel() == P.numel, "pwlu: dy and x differ in size");
  const int64_t p = P.p, n = P.n, w = n + 2, slots = P.a * w;
  at::Tensor dx = at::empty(x.sizes(), at::TensorOptions().dtype(at::kFloat));
  const float *xp = x.data_ptr<float>(), *gp = dy.data_ptr<float>();
  float* dxp = dx.data_ptr<float>();
  // Per chunk: a slots of N+2 segments of (sum dy, sum dy*w), interleaved.
  const int64_t nc = P.chunks();
  std::vector<double> part(static_cast<size_t>(nc * 2 * slots), 0.0);
  const Lut L = P.lut();
  const bool permute = use_avx512(L);
  parallel_chunks(nc, [&](int64_t c) {
    std::vector<int32_t> jj(P.r);
    std::vector<float> tt(P.r);
    std::vector<double> pr(2 * P.r);
    double* acc = part.data() + c * 2 * slots;
    const int64_t end = std::min(P.numel, (c + 1) * P.chunk);
    for (int64_t e0 = c * P.chunk; e0 < end; e0 += P.r) {
      const int64_t len = std::min(P.r, end - e0);
#if PWLU_X86
      if (permute) {
        backward_block_avx512(L, xp + e0, gp + e0, dxp + e0, jj.data(), tt.data(), pr.data(), acc, len);
        continue;
      }
#endif
      backward_block(L, xp + e0, gp + e0, dxp + e0, jj.data(), tt.data(), pr.data(), 0, len);
      sum_pairs(acc, jj.data(), pr.data(), 0, len);
    }
  });
  // Reduce the chunks' slots into instances, in a fixed order.
  std::vector<double> G(p * w, 0.0), H(p * w, 0.0);
  for (int64_t c = 0; c < nc; ++c) {
    const double* pc = part.data() + c * 2 * slots;
    for (int64_t sl = 0; sl < P.a; ++sl) {
      const int64_t q = sl % p;
      for (int64_t j = 0; j < w; ++j) {
        G[q * w + j] += pc[2 * (sl * w + j)];
        H[q * w + j] += pc[2 * (sl * w + j) + 1];
      }
    }
  }
  auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor dY = at::empty({p, n + 1}, f32), dKL = at::empty({p}, f32), dKR = at::empty({p}, f32);
  at::Tensor dBL = at::empty({p}, f32), dBR = at::empty({p}, f32);
  std::vector<double> bins(n + 1);
  for (int64_t q = 0; q < p; ++q) {
    const double *g = G.data() + q * w, *h = H.data() + q * w, *sq = P.s.data() + q * w;
    std::fill(bins.begin(), bins.end(), 0.0);
    bins[0] = g[0];
    bins[n] = g[n + 1];
    double bl = -P.kl[q] * g[0], br = -P.kr[q] * g[n + 1];
    for (int64_t i = 0; i < n; ++i) {
      // interval i: bin i gets sum (1-t) dy, bin i+1 sum t dy; u = i + t
      const double gi = g[i + 1], ti = h[i + 1], k = sq[i + 1], fi = static_cast<double>(i) / n;
      if (gi == 0.0 && ti == 0.0) continue;  // no elements there (K_i is infinite when BL = BR)
      bins[i] += gi - ti;
      bins[i + 1] += ti;
      bl -= k * (gi * (1.0 - fi) - ti / n);
      br -= k * (gi * fi + ti / n);
    }
    float* yq = dY.data_ptr<float>() + q * (n + 1);
    for (int64_t j = 0; j <= n; ++j) yq[j] = static_cast<float>(bins[j]);
    dKL.data_ptr<float>()[q] = static_cast<float>(h[0]);
    dKR.data_ptr<float>()[q] = static_cast<float>(h[n + 1]);
    dBL.data_ptr<float>()[q] = static_cast<float>(bl);
    dBR.data_ptr<float>()[q] = static_cast<float>(br);
  }
  const bool cpu = x0.device().is_cpu();
  for (const at::Tensor* o : {&dx, &dY, &dKL, &dKR, &dBL, &dBR}) emit(cpu ? *o : o->to(x0.device()));
  return info.Env().Undefined();
}

/**
 * pwluWidenBounds(bl, br, minWidth) -> [bl', br']: the guard after each update, h = max(minWidth - (br - bl), 0) / 2,
 * bl' = bl - h, br' = br + h, in float32 as the composite in src/ops/pwlu.ts (one call per layer instead of six).
 */
Napi::Value pwlu_widen_bounds(const Napi::CallbackInfo& info) {
  const at::Tensor& bl = at_(info, 0);
  const at::Tensor& br = at_(info, 1);
  at::Tensor h = at::clamp_min(at::rsub(br - bl, ad(info, 2)), 0) * 0.5;
  emit(bl - h);
  emit(br + h);
  return info.Env().Undefined();
}

}  // namespace

void init_pwlu(Napi::Env env, Napi::Object exports) {
  def(env, exports, "pwluWidenBounds", pwlu_widen_bounds);
  def(env, exports, "pwluForward", pwlu_forward);
  def(env, exports, "pwluInfer", pwlu_infer);
  def(env, exports, "pwluBackward", pwlu_backward);
}

}  // namespace pwlu
