// Network kernels: convolutions (regular, depthwise, fused bias+activation) and their gradients,
// pooling, batch norm (training statistics + backward, inference), matmul, softmax, top-k.
// Activations stay NHWC-contiguous; ATen sees them as channels-last NCHW views, so no transposes.
#include <limits>

#include "common.h"

namespace pwlu {

namespace {

struct Pads {
  int64_t t, b, l, r;
  bool symmetric() const { return t == b && l == r; }
};

Pads pads_at(const Napi::CallbackInfo& info, size_t i) { return {al(info, i), al(info, i + 1), al(info, i + 2), al(info, i + 3)}; }

/** Pads an NHWC tensor spatially (ATen pads from the last dim backwards). */
at::Tensor pad_hw(const at::Tensor& x, const Pads& p, double value = 0.0) {
  return at::constant_pad_nd(x, {0, 0, p.l, p.r, p.t, p.b}, value);
}

/** tfjs filter [kh,kw,ci,co] (or depthwise [kh,kw,c,m]) as an ATen weight {co, ci/groups, kh, kw} view. */
at::Tensor weight_view(const at::Tensor& w, bool depthwise) {
  if (depthwise) return w.reshape({w.size(0), w.size(1), w.size(2) * w.size(3), 1}).permute({2, 3, 0, 1});
  return w.permute({3, 2, 0, 1});
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/** The 8x8 block at in[r, c] (row stride ci) written transposed at out[c, r] (row stride co), in AVX registers. */
__attribute__((target("avx2"))) void transpose8x8_avx2(const float* in, int64_t ci, float* out, int64_t co) {
  __m256 a[8], t[8];
  for (int i = 0; i < 8; ++i) a[i] = _mm256_loadu_ps(in + i * ci);
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(a[2 * i], a[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(a[2 * i], a[2 * i + 1]);
  }
  const __m256 s0 = _mm256_shuffle_ps(t[0], t[2], 0x44), s1 = _mm256_shuffle_ps(t[0], t[2], 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t[1], t[3], 0x44), s3 = _mm256_shuffle_ps(t[1], t[3], 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t[4], t[6], 0x44), s5 = _mm256_shuffle_ps(t[4], t[6], 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t[5], t[7], 0x44), s7 = _mm256_shuffle_ps(t[5], t[7], 0xEE);
  _mm256_storeu_ps(out + 0 * co, _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(out + 1 * co, _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(out + 2 * co, _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(out + 3 * co, _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(out + 4 * co, _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(out + 5 * co, _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(out + 6 * co, _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(out + 7 * co, _mm256_permute2f128_ps(s3, s7, 0x31));
}
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#else
const bool kHaveAvx2 = false;
void transpose8x8_avx2(const float*, int64_t, float*, int64_t) {}
#endif

/**
 * out (C x R) = in (R x C) transposed, row-major float32: 64x64 tiles on ATen's threads, 8x8 AVX2 blocks
 * inside (a plain tiled loop is 10x slower on the power-of-two strides of conv filters).
 */
void transpose_f32(const float* in, float* out, int64_t R, int64_t C) {
  constexpr int64_t T = 64;
  parallel_chunks((R + T - 1) / T, [&](int64_t b) {
    const int64_t r0 = b * T, r1 = std::min(R, r0 + T);
    for (int64_t c0 = 0; c0 < C; c0 += T) {
      const int64_t c1 = std::min(C, c0 + T);
      for (int64_t r = r0; r < r1; r += 8) {
        for (int64_t c = c0; c < c1; c += 8) {
          if (kHaveAvx2 && r + 8 <= r1 && c + 8 <= c1) {
            transpose8x8_avx2(in + r * C + c, C, out + c * R + r, R);
            continue;
          }
          for (int64_t i = r; i < std::min(r1, r + 8); ++i)
            for (int64_t j = c; j < std::min(c1, c + 8); ++j) out[j * R + i] = in[i * C + j];
        }
      }
    }
  });
}

/**
 * The ATen weight {co, ci/groups, kh, kw} of the tfjs filter with table id `id`, channels-last contiguous:
 * the layout oneDNN takes as it is. Handing it the permuted view instead makes ATen do a strided copy on
 * every call (8 ms for a 512x512x3x3 filter, 8x the convolution). The tfjs filter [kh,kw,ci,co] (depthwise
 * [kh,kw,c,m]) is a K x O matrix whose transpose is exactly that layout; it is cached per id, so the
 * backward pass and repeated inference reuse it.
 */
at::Tensor conv_weight(int32_t id, bool depthwise) {
  const at::Tensor& w = get(id);
  if (w.scalar_type() != at::kFloat || !w.is_cpu()) return weight_view(w, depthwise);
  const int64_t kh = w.size(0), kw = w.size(1), ci = w.size(2), co = w.size(3);
  const int64_t o = depthwise ? ci * co : co, k = depthwise ? kh * kw : kh * kw * ci;
  const std::vector<int64_t> sizes = depthwise ? std::vector<int64_t>{o, 1, kh, kw} : std::vector<int64_t>{co, ci, kh, kw};
  if (const at::Tensor* d = derived(id); d && d->sizes() == c10::IntArrayRef(sizes)) return *d;
  at::Tensor t = at::empty({o, k}, w.options());
  transpose_f32(w.data_ptr<float>(), t.data_ptr<float>(), k, o);
  at::Tensor v = t.view({o, kh, kw, depthwise ? 1 : ci}).permute({0, 3, 1, 2});
  set_derived(id, v);
  return v;
}

/**
 * Whether this depthwise convolution (weight wt, `channels` groups, input or output gradient t) must run on NCHW copies:
 * libtorch 2.6 (Debian's 2.6.0+dfsg; found by the kernel tests) computes depthwise convolutions with a channel
 * multiplier above 1 wrongly on the CPU when the input is channels-last (or the weight's unit dimension has a
 * non-standard stride); 1.13 and 2.14 do not. A behaviour, not an API, so it is checked once per process on a tiny case
 * rather than by version. Only multipliers above 1 pay the two copies, and none of pwlu's models uses one.
 */
bool depthwise_needs_nchw(bool depthwise, const at::Tensor& wt, int64_t channels, const at::Tensor& t) {
  if (!depthwise || wt.size(0) == channels || !t.is_cpu()) return false;
  static const bool broken = [] {
    at::Tensor x = at::arange(2 * 5 * 5, at::kFloat).reshape({1, 2, 5, 5}).div(7).sin();
    at::Tensor w = at::arange(4 * 9, at::kFloat).reshape({4, 1, 3, 3}).div(5).cos();
    at::Tensor plain = at::convolution(x, w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 2);
    at::Tensor cl = at::convolution(x.contiguous(at::MemoryFormat::ChannelsLast), w, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 2);
    return !at::allclose(plain, cl, 1e-4, 1e-5);
  }();
  return broken;
}

/**
 * 1x1 convolutions kept off oneDNN's 1x1 kernels where those crash. Debian 13's oneDNN (libdnnl3.6 3.7.2, under its
 * libtorch 2.6) does on some CPUs: on an AMD EPYC with AVX-512 it raises SIGFPE creating 1x1 primitives with 1024 or
 * more channels (ResNet-50's, in Debian's own python3-torch too) and corrupts the heap in the stride-2 1x1 weight
 * gradient with fewer than 16 input channels; libtorch 1.13 and 2.14 do not. A crash cannot be checked in-process,
 * so scripts/build-native.mjs runs probeConv1x1 in a child process once and the JS side turns the routing on when
 * that child died. The routed form is exact: subsample for the stride, then a stride-1 convolution padded by one
 * pixel (oneDNN hands it to its general kernels), cropped back; 0.83-1.31x the direct time where the direct one runs
 * (scripts/compat/onednn-1x1.py measures both, and lists the crashing shapes).
 */
bool g_route_1x1 = false;

bool routed_1x1(bool depthwise, int64_t kh, int64_t kw, const Pads& p) {
  return g_route_1x1 && !depthwise && kh == 1 && kw == 1 && p.t == 0 && p.b == 0 && p.l == 0 && p.r == 0;
}

/** Every sh-th row and sw-th column of an NHWC tensor, from the first: what a 1x1 convolution of that stride reads. */
at::Tensor subsample_hw(const at::Tensor& x, int64_t sh, int64_t sw) {
  if (sh == 1 && sw == 1) return x;
  return x.slice(1, 0, x.size(1), sh).slice(2, 0, x.size(2), sw);
}

const Pads kOnePixel{1, 1, 1, 1};

/**
 * conv2d(x, filter, sh, sw, pt, pb, pl, pr, dh, dw, depthwise, bias, activation, alpha, prelu)
 * Conv2D, DepthwiseConv2dNative, FusedConv2D and FusedDepthwiseConv2D.
 */
Napi::Value conv2d(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  int64_t sh = al(info, 2), sw = al(info, 3);
  Pads p = pads_at(info, 4);
  int64_t dh = al(info, 8), dw = al(info, 9);
  bool depthwise = ab(info, 10);
  c10::optional<at::Tensor> bias = opt_t(info, 11);
  int32_t act = ai(info, 12);
  double alpha = ad(info, 13);
  c10::optional<at::Tensor> prelu = opt_t(info, 14);

  at::Tensor xin = x;
  int64_t ph = p.t, pw = p.l;
  if (!p.symmetric()) {
    xin = pad_hw(x, p);
    ph = pw = 0;
  }
  at::Tensor wt = conv_weight(ai(info, 1), depthwise);
  int64_t groups = depthwise ? x.size(3) : 1;
  c10::optional<at::Tensor> b;
  bool bias_late = false;
  if (bias) {
    if (bias->dim() == 1 && bias->size(0) == wt.size(0)) b = bias;
    else bias_late = true;
  }
  at::Tensor y;
  if (routed_1x1(depthwise, wt.size(2), wt.size(3), p)) {
    at::Tensor xs = subsample_hw(x, sh, sw).contiguous();
    y = nhwc(at::convolution(nchw(xs), wt, b, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1)).slice(1, 1, 1 + xs.size(1)).slice(2, 1, 1 + xs.size(2));
  } else {
    at::Tensor xa = nchw(xin);
    if (depthwise_needs_nchw(depthwise, wt, groups, xin)) {
      xa = xa.contiguous();
      wt = wt.clone(at::MemoryFormat::Contiguous);
    }
    y = nhwc(at::convolution(xa, wt, b, {sh, sw}, {ph, pw}, {dh, dw}, false, {0, 0}, groups));
  }
  if (!y.is_contiguous()) y = y.contiguous();
  if (bias_late) y = y.add(*bias);
  emit(apply_act(y, act, alpha, prelu));
  return info.Env().Undefined();
}

/** conv2dBackpropInput(dy, filter, n, h, w, c, sh, sw, pt, pb, pl, pr, dh, dw, depthwise) */
Napi::Value conv2d_backprop_input(const Napi::CallbackInfo& info) {
  const at::Tensor& dy = at_(info, 0);
  int64_t n = al(info, 2), h = al(info, 3), wd = al(info, 4), c = al(info, 5);
  int64_t sh = al(info, 6), sw = al(info, 7);
  Pads p = pads_at(info, 8);
  int64_t dh = al(info, 12), dw = al(info, 13);
  bool depthwise = ab(info, 14);
  bool sym = p.symmetric();
  int64_t hp = sym ? h : h + p.t + p.b, wp = sym ? wd : wd + p.l + p.r;
  // Only the sizes (and memory format) of the input are used for the input gradient.
  at::Tensor wt = conv_weight(ai(info, 1), depthwise);
  if (routed_1x1(depthwise, wt.size(2), wt.size(3), p)) {
    at::Tensor shape_only = at::empty({n, c, dy.size(1), dy.size(2)}, opts(dy.scalar_type()).memory_format(at::MemoryFormat::ChannelsLast));
    auto r = at::convolution_backward(nchw(pad_hw(dy, kOnePixel)), shape_only, wt, c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false,
                                      {0, 0}, 1, {true, false, false});
    at::Tensor dxs = nhwc(std::get<0>(r));
    if (sh == 1 && sw == 1) {
      emit(dxs);
    } else {
      at::Tensor dx = at::zeros({n, h, wd, c}, dy.options());
      subsample_hw(dx, sh, sw).copy_(dxs);
      emit(dx);
    }
    return info.Env().Undefined();
  }
  at::Tensor dya = nchw(dy);
  auto format = at::MemoryFormat::ChannelsLast;
  if (depthwise_needs_nchw(depthwise, wt, c, dy)) {
    dya = dya.contiguous();
    wt = wt.clone(at::MemoryFormat::Contiguous);
    format = at::MemoryFormat::Contiguous;
  }
  at::Tensor shape_only = at::empty({n, c, hp, wp}, opts(dy.scalar_type()).memory_format(format));
  auto r = at::convolution_backward(dya, shape_only, wt, c10::nullopt, {sh, sw}, {sym ? p.t : 0, sym ? p.l : 0},
                                    {dh, dw}, false, {0, 0}, depthwise ? c : 1, {true, false, false});
  at::Tensor dx = nhwc(std::get<0>(r));
  if (!sym) dx = dx.slice(1, p.t, p.t + h).slice(2, p.l, p.l + wd);
  emit(dx);
  return info.Env().Undefined();
}

/**
 * The depthwise filter gradient [kh,kw,c,m] computed directly on NHWC data:
 *   gw[i,j,c,m] = sum over n, oh, ow of x[n, oh*sh - pt + i*dh, ow*sw - pl + j*dw, c] * dy[n, oh, ow, c*M + m].
 * A vector multiply-add over channels per output position and tap, with one partial sum per image reduced
 * in image order (deterministic, no atomics). For outputs of 2x2 and smaller only: there oneDNN's kernel
 * spends ~1 ms on a 64x2x2x576 batch, which is 1.3 M multiply-adds (the late MobileNet blocks at 32x32).
 */
struct DwGeom {
  int64_t h, w, c, mult, oh, ow, kh, kw, sh, sw, pt, pl, dh, dw;
};

#if defined(__x86_64__) && defined(__GLIBC__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
/** One image's share of the depthwise filter gradient, added into acc [kh*kw*c*mult]. */
void dw_filter_grad_image(const DwGeom& q, const float* __restrict px, const float* __restrict pg, float* __restrict acc) {
  const int64_t cm = q.c * q.mult;
  for (int64_t y = 0; y < q.oh; ++y) {
    for (int64_t z = 0; z < q.ow; ++z) {
      const float* __restrict g = pg + (y * q.ow + z) * cm;
      for (int64_t i = 0; i < q.kh; ++i) {
        const int64_t iy = y * q.sh - q.pt + i * q.dh;
        if (iy < 0 || iy >= q.h) continue;
        for (int64_t j = 0; j < q.kw; ++j) {
          const int64_t ix = z * q.sw - q.pl + j * q.dw;
          if (ix < 0 || ix >= q.w) continue;
          const float* __restrict xv = px + (iy * q.w + ix) * q.c;
          float* __restrict a = acc + (i * q.kw + j) * cm;
          if (q.mult == 1) {
            for (int64_t k = 0; k < q.c; ++k) a[k] += xv[k] * g[k];
          } else {
            for (int64_t k = 0; k < q.c; ++k)
              for (int64_t m = 0; m < q.mult; ++m) a[k * q.mult + m] += xv[k] * g[k * q.mult + m];
          }
        }
      }
    }
  }
}

at::Tensor depthwise_filter_grad(const at::Tensor& x0, const at::Tensor& dy0, int64_t kh, int64_t kw, int64_t mult, int64_t sh,
                                 int64_t sw, int64_t pt, int64_t pl, int64_t dh, int64_t dw) {
  const at::Tensor x = x0.contiguous(), dy = dy0.contiguous();
  const int64_t n = x.size(0), c = x.size(3);
  const DwGeom q{x.size(1), x.size(2), c, mult, dy.size(1), dy.size(2), kh, kw, sh, sw, pt, pl, dh, dw};
  const int64_t taps = kh * kw * c * mult;
  std::vector<float> partial(static_cast<size_t>(n * taps), 0.0f);
  const float* px = x.data_ptr<float>();
  const float* pg = dy.data_ptr<float>();
  parallel_chunks(n, [&](int64_t b) {
    dw_filter_grad_image(q, px + b * q.h * q.w * c, pg + b * q.oh * q.ow * c * mult, partial.data() + b * taps);
  });
  at::Tensor out = at::zeros({kh, kw, c, mult}, x.options());
  float* po = out.data_ptr<float>();
  for (int64_t b = 0; b < n; ++b) {
    const float* a = partial.data() + b * taps;
    for (int64_t k = 0; k < taps; ++k) po[k] += a[k];
  }
  return out;
}

/** conv2dBackpropFilter(x, dy, kh, kw, ci, co, sh, sw, pt, pb, pl, pr, dh, dw, depthwise) */
Napi::Value conv2d_backprop_filter(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  const at::Tensor& dy = at_(info, 1);
  int64_t kh = al(info, 2), kw = al(info, 3), ci = al(info, 4), co = al(info, 5);
  int64_t sh = al(info, 6), sw = al(info, 7);
  Pads p = pads_at(info, 8);
  int64_t dh = al(info, 12), dw = al(info, 13);
  bool depthwise = ab(info, 14);
  // oneDNN's depthwise weight gradient wins from 4x4 outputs up; below it takes ~1 ms whatever the work
  if (depthwise && x.is_cpu() && x.scalar_type() == at::kFloat && dy.scalar_type() == at::kFloat && dy.size(1) * dy.size(2) <= 4) {
    emit(depthwise_filter_grad(x, dy, kh, kw, co, sh, sw, p.t, p.l, dh, dw));
    return info.Env().Undefined();
  }
  bool sym = p.symmetric();
  at::Tensor xin = sym ? x : pad_hw(x, p);
  // depthwise filter [kh,kw,c,m]: ATen weight {c*m, 1, kh, kw}
  std::vector<int64_t> wshape = depthwise ? std::vector<int64_t>{ci * co, 1, kh, kw} : std::vector<int64_t>{co, ci, kh, kw};
  // a channels-last weight makes the gradient channels-last, {o} x {kh,kw,ci}: one transpose from tfjs's layout
  at::Tensor shape_only = at::empty(wshape, opts(x.scalar_type()).memory_format(at::MemoryFormat::ChannelsLast));
  at::Tensor gw;
  if (routed_1x1(depthwise, kh, kw, p)) {
    gw = std::get<1>(at::convolution_backward(nchw(pad_hw(dy, kOnePixel)), nchw(subsample_hw(x, sh, sw).contiguous()), shape_only,
                                              c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1, {false, true, false}));
  } else {
    gw = std::get<1>(at::convolution_backward(nchw(dy), nchw(xin), shape_only, c10::nullopt, {sh, sw}, {sym ? p.t : 0, sym ? p.l : 0},
                                              {dh, dw}, false, {0, 0}, depthwise ? ci : 1, {false, true, false}));
  }
  if (gw.scalar_type() == at::kFloat && gw.is_cpu() && gw.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    const int64_t o = wshape[0], k = gw.numel() / o;
    at::Tensor t = at::empty({kh, kw, ci, co}, gw.options());
    transpose_f32(gw.data_ptr<float>(), t.data_ptr<float>(), o, k);
    emit(t);
  } else if (depthwise) {
    emit(gw.reshape({ci, co, kh, kw}).permute({2, 3, 0, 1}));
  } else {
    emit(gw.permute({2, 3, 1, 0}));
  }
  return info.Env().Undefined();
}

/** A pooling window (kh, kw, sh, sw, pt, pb, pl, pr from argument i on). */
struct Window {
  int64_t kh, kw, sh, sw;
  Pads p;
  /** ATen pools pad symmetrically by at most half the window; other paddings are applied to the input first. */
  bool direct() const { return p.symmetric() && p.t * 2 <= kh && p.l * 2 <= kw; }
};

Window window_at(const Napi::CallbackInfo& info, size_t i) {
  return {al(info, i), al(info, i + 1), al(info, i + 2), al(info, i + 3), pads_at(info, i + 4)};
}

/** maxPool(x, kh, kw, sh, sw, pt, pb, pl, pr) */
Napi::Value max_pool(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  const Window win = window_at(info, 1);
  const auto& [kh, kw, sh, sw, p] = win;
  const bool direct = win.direct();
  at::Tensor xin = direct ? x : pad_hw(x, p, -std::numeric_limits<double>::infinity());
  at::Tensor y = at::max_pool2d(nchw(xin), {kh, kw}, {sh, sw}, {direct ? p.t : 0, direct ? p.l : 0}, {1, 1}, false);
  emit(nhwc(y));
  return info.Env().Undefined();
}

/** maxPoolGrad(dy, x, kh, kw, sh, sw, pt, pb, pl, pr) */
Napi::Value max_pool_grad(const Napi::CallbackInfo& info) {
  const at::Tensor& dy = at_(info, 0);
  const at::Tensor& x = at_(info, 1);
  const Window win = window_at(info, 2);
  const auto& [kh, kw, sh, sw, p] = win;
  const bool direct = win.direct();
  at::Tensor xin = nchw(direct ? x : pad_hw(x, p, -std::numeric_limits<double>::infinity()));
  std::vector<int64_t> pad = {direct ? p.t : 0, direct ? p.l : 0};
  auto r = at::max_pool2d_with_indices(xin, {kh, kw}, {sh, sw}, pad, {1, 1}, false);
  at::Tensor gx = at::max_pool2d_with_indices_backward(nchw(dy), xin, {kh, kw}, {sh, sw}, pad, {1, 1}, false, std::get<1>(r));
  at::Tensor g = nhwc(gx);
  if (!direct) g = g.slice(1, p.t, p.t + x.size(1)).slice(2, p.l, p.l + x.size(2));
  emit(g);
  return info.Env().Undefined();
}

/** Per-output-position count of non-padding inputs, {1,1,oh,ow}, for padded average pooling. */
at::Tensor pool_counts(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw, const Pads& p) {
  at::Tensor ones = at::ones({1, h, w, 1}, opts());
  return at::avg_pool2d(nchw(pad_hw(ones, p)), {kh, kw}, {sh, sw}, {0, 0}, false, true);
}

/** avgPool(x, kh, kw, sh, sw, pt, pb, pl, pr): padding excluded from the average, as tfjs. */
Napi::Value avg_pool(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  const Window win = window_at(info, 1);
  const auto& [kh, kw, sh, sw, p] = win;
  if (win.direct()) {
    emit(nhwc(at::avg_pool2d(nchw(x), {kh, kw}, {sh, sw}, {p.t, p.l}, false, false)));
  } else {
    at::Tensor s = at::avg_pool2d(nchw(pad_hw(x, p)), {kh, kw}, {sh, sw}, {0, 0}, false, true);
    emit(nhwc(s / pool_counts(x.size(1), x.size(2), kh, kw, sh, sw, p)));
  }
  return info.Env().Undefined();
}

/**
 * avgPoolGrad(dy, x, kh, kw, sh, sw, pt, pb, pl, pr): the exact gradient of avgPool (padding
 * excluded from each window's count, as TensorFlow); tfjs's cpu kernel divides by kh*kw everywhere.
 */
Napi::Value avg_pool_grad(const Napi::CallbackInfo& info) {
  const at::Tensor& dy = at_(info, 0);
  const at::Tensor& x = at_(info, 1);
  const Window win = window_at(info, 2);
  const auto& [kh, kw, sh, sw, p] = win;
  if (win.direct()) {
    emit(nhwc(at::avg_pool2d_backward(nchw(dy), nchw(x), {kh, kw}, {sh, sw}, {p.t, p.l}, false, false, c10::nullopt)));
  } else {
    at::Tensor xp = pad_hw(x, p);
    at::Tensor g = nchw(dy) / pool_counts(x.size(1), x.size(2), kh, kw, sh, sw, p);
    at::Tensor gx = nhwc(at::avg_pool2d_backward(g, nchw(xp), {kh, kw}, {sh, sw}, {0, 0}, false, true, c10::nullopt));
    emit(gx.slice(1, p.t, p.t + x.size(1)).slice(2, p.l, p.l + x.size(2)));
  }
  return info.Env().Undefined();
}

/** Channels-last input of rank r >= 2 as ATen's {N, C, ...} (a view). */
at::Tensor channels_first(const at::Tensor& x) { return x.dim() > 2 ? x.movedim(-1, 1) : x; }
at::Tensor channels_last(const at::Tensor& x) { return x.dim() > 2 ? x.movedim(1, -1) : x; }

/**
 * bnTrain(x, scale, offset, eps[, runningMean, runningVar, momentum]) -> [y, mean, invstd(, runningMean', runningVar')]:
 * batch statistics (biased variance) and, when running statistics are given, their updated copies
 * (PyTorch's rule: unbiased batch variance), so the caller needs no further kernels per layer.
 */
Napi::Value bn_train(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  c10::optional<at::Tensor> scale = opt_t(info, 1);
  c10::optional<at::Tensor> offset = opt_t(info, 2);
  double eps = ad(info, 3);
  c10::optional<at::Tensor> rm = info.Length() > 5 ? opt_t(info, 4) : c10::nullopt;
  c10::optional<at::Tensor> rv = info.Length() > 5 ? opt_t(info, 5) : c10::nullopt;
  double momentum = info.Length() > 6 ? ad(info, 6) : 0.0;
  bool running = rm && rv;
  // native_batch_norm updates running statistics in place: give it copies (tfjs tensors are immutable)
  c10::optional<at::Tensor> rm2 = running ? c10::optional<at::Tensor>(rm->clone()) : c10::nullopt;
  c10::optional<at::Tensor> rv2 = running ? c10::optional<at::Tensor>(rv->clone()) : c10::nullopt;
  auto r = at::native_batch_norm(channels_first(x), scale, offset, rm2, rv2, true, momentum, eps);
  emit(channels_last(std::get<0>(r)));
  emit(std::get<1>(r));
  emit(std::get<2>(r));
  if (running) {
    emit(*rm2);
    emit(*rv2);
  }
  return info.Env().Undefined();
}

/** bnGrad(dy, x, scale, mean, invstd, eps) -> [dx, dscale, doffset] */
Napi::Value bn_grad(const Napi::CallbackInfo& info) {
  const at::Tensor& dy = at_(info, 0);
  const at::Tensor& x = at_(info, 1);
  c10::optional<at::Tensor> scale = opt_t(info, 2);
  const at::Tensor& mean = at_(info, 3);
  const at::Tensor& invstd = at_(info, 4);
  double eps = ad(info, 5);
  auto r = at::native_batch_norm_backward(channels_first(dy), channels_first(x), scale, c10::nullopt, c10::nullopt, mean,
                                          invstd, true, eps, {true, true, true});
  emit(channels_last(std::get<0>(r)));
  at::Tensor ds = std::get<1>(r), db = std::get<2>(r);
  int64_t c = x.size(-1);
  emit(ds.defined() ? ds : at::zeros({c}, opts()));
  emit(db.defined() ? db : at::zeros({c}, opts()));
  return info.Env().Undefined();
}

/** fusedBatchNorm(x, mean, variance, offset, scale, eps): inference-mode tf.batchNorm. */
Napi::Value fused_batch_norm(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  const at::Tensor& mean = at_(info, 1);
  const at::Tensor& var = at_(info, 2);
  c10::optional<at::Tensor> offset = opt_t(info, 3);
  c10::optional<at::Tensor> scale = opt_t(info, 4);
  double eps = ad(info, 5);
  int64_t c = x.dim() > 0 ? x.size(-1) : 1;
  auto per_channel = [c](const at::Tensor& t) { return t.dim() == 1 && t.size(0) == c; };
  bool fast = x.dim() >= 2 && x.scalar_type() == at::kFloat && per_channel(mean) && per_channel(var) &&
              (!offset || per_channel(*offset)) && (!scale || per_channel(*scale));
  if (fast) {
    auto r = at::native_batch_norm(channels_first(x), scale, offset, mean, var, false, 0.0, eps);
    emit(channels_last(std::get<0>(r)));
  } else {
    at::Tensor k = at::rsqrt(var + eps);
    if (scale) k = k * *scale;
    at::Tensor y = (x - mean) * k;
    if (offset) y = y + *offset;
    emit(y);
  }
  return info.Env().Undefined();
}

/** batchMatMul(a, b, transposeA, transposeB, bias, activation, alpha, prelu): BatchMatMul and _FusedMatMul. */
Napi::Value batch_mat_mul(const Napi::CallbackInfo& info) {
  at::Tensor a = at_(info, 0);
  at::Tensor b = at_(info, 1);
  if (ab(info, 2)) a = a.transpose(-2, -1);
  if (ab(info, 3)) b = b.transpose(-2, -1);
  c10::optional<at::Tensor> bias = opt_t(info, 4);
  int32_t act = ai(info, 5);
  double alpha = ad(info, 6);
  c10::optional<at::Tensor> prelu = opt_t(info, 7);
  at::Tensor y;
  if (bias && bias->dim() <= 2 && a.dim() == 3 && b.dim() == 3 && a.size(0) == 1 && b.size(0) == 1) {
    y = at::addmm(*bias, a[0], b[0]).unsqueeze(0);  // one GEMM with the bias folded in
  } else {
    y = at::matmul(a, b);
    if (bias) y = y.add_(*bias);
  }
  emit(apply_act(y, act, alpha, prelu));
  return info.Env().Undefined();
}

/** softmax(x, dim) */
Napi::Value softmax(const Napi::CallbackInfo& info) {
  emit(at::softmax(at_(info, 0), al(info, 1)));
  return info.Env().Undefined();
}

/** topk(x, k, sorted) -> [values, indices] along the last axis. */
Napi::Value topk(const Napi::CallbackInfo& info) {
  auto r = at::topk(at_(info, 0), al(info, 1), -1, true, true);
  emit(std::get<0>(r));
  emit(std::get<1>(r));
  return info.Env().Undefined();
}

/** setConv1x1Route(on): routes 1x1 convolutions around oneDNN's 1x1 kernels (see g_route_1x1); returns the setting. */
Napi::Value set_conv1x1_route(const Napi::CallbackInfo& info) {
  g_route_1x1 = ab(info, 0);
  return Napi::Boolean::New(info.Env(), g_route_1x1);
}

/**
 * probeConv1x1(): runs, unrouted, the 1x1 convolutions that crash Debian 13's oneDNN on the CPUs where it does (a
 * ResNet-50 1x1 with 1024 output channels; the stride-2 weight gradient with 8 input channels, repeated so that a
 * corrupted heap shows). Returning means they ran here; scripts/build-native.mjs calls it in a child process.
 */
Napi::Value probe_conv1x1(const Napi::CallbackInfo& info) {
  auto cl = at::MemoryFormat::ChannelsLast;
  at::Tensor x = at::randn({16, 256, 14, 14}).contiguous(cl), w = at::randn({1024, 256, 1, 1}).contiguous(cl);
  at::Tensor y = at::convolution(x, w, c10::nullopt, {1, 1}, {0, 0}, {1, 1}, false, {0, 0}, 1);
  for (int i = 0; i < 30; ++i) {
    at::Tensor xs = at::randn({4, 8, 32, 32}).contiguous(cl), dy = at::randn({4, 16, 16, 16}).contiguous(cl);
    at::Tensor shape_only = at::empty({16, 8, 1, 1}).contiguous(cl);
    at::convolution_backward(dy, xs, shape_only, c10::nullopt, {2, 2}, {0, 0}, {1, 1}, false, {0, 0}, 1, {false, true, false});
  }
  return Napi::Number::New(info.Env(), y.numel());
}

}  // namespace

void init_nn(Napi::Env env, Napi::Object exports) {
  def(env, exports, "setConv1x1Route", set_conv1x1_route);
  def(env, exports, "probeConv1x1", probe_conv1x1);
  def(env, exports, "conv2d", conv2d);
  def(env, exports, "conv2dBackpropInput", conv2d_backprop_input);
  def(env, exports, "conv2dBackpropFilter", conv2d_backprop_filter);
  def(env, exports, "maxPool", max_pool);
  def(env, exports, "maxPoolGrad", max_pool_grad);
  def(env, exports, "avgPool", avg_pool);
  def(env, exports, "avgPoolGrad", avg_pool_grad);
  def(env, exports, "bnTrain", bn_train);
  def(env, exports, "bnGrad", bn_grad);
  def(env, exports, "fusedBatchNorm", fused_batch_norm);
  def(env, exports, "batchMatMul", batch_mat_mul);
  def(env, exports, "softmax", softmax);
  def(env, exports, "topk", topk);
}

}  // namespace pwlu
