// Shared plumbing of the pwlu torch addon: the tensor table, argument helpers, output records.
//
// Every tfjs tensor on the 'torch' backend is an ATen tensor in a table, addressed by an
// integer id. Stored tensors are always contiguous in tfjs's logical (row-major, NHWC) layout,
// so read/write are memcpy and reshape is a view. Kernels take ids and plain numbers and write
// their outputs as records into a shared Int32Array (see out_*): [count, {id, dtype, rank, dims}*].
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <napi.h>

#include <cstdint>
#include <vector>

namespace pwlu {

// dtype codes shared with the JS side
enum DType : int32_t { kF32 = 0, kI32 = 1, kBool = 2 };

/** Device new tensors are created on (CPU, or CUDA when enabled). */
at::Device device();
void set_device(at::Device d);
inline at::TensorOptions opts(at::ScalarType st = at::kFloat) { return at::TensorOptions().dtype(st).device(device()); }

at::ScalarType scalar_type(int32_t code);
int32_t dtype_code(at::ScalarType st);

/** Stores a tensor (normalised to float32/int32/bool, contiguous) and returns its id. */
int32_t store(at::Tensor t);
/** The tensor with that id; throws on a stale id. */
const at::Tensor& get(int32_t id);
void release(int32_t id);
/** A copy of tensor `id` in another layout that a kernel cached (stored tensors never change); freed with the id. */
const at::Tensor* derived(int32_t id);
void set_derived(int32_t id, at::Tensor t);
int64_t live_count();

// Output records.
void out_reset();
/** Stores t and appends its record to the output buffer. */
void emit(const at::Tensor& t);

// Argument helpers.
inline int32_t ai(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
inline int64_t al(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
inline double ad(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
inline bool ab(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }
inline const at::Tensor& at_(const Napi::CallbackInfo& info, size_t i) { return get(ai(info, i)); }
/** An optional tensor argument: id < 0 means absent. */
inline c10::optional<at::Tensor> opt_t(const Napi::CallbackInfo& info, size_t i) {
  int32_t id = info[i].IsNumber() ? ai(info, i) : -1;
  if (id < 0) return c10::nullopt;
  return get(id);
}
std::vector<int64_t> avec(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> atensors(const Napi::CallbackInfo& info, size_t i);

// NHWC <-> ATen channels-last NCHW views (no copies).
inline at::Tensor nchw(const at::Tensor& nhwc) { return nhwc.permute({0, 3, 1, 2}); }
inline at::Tensor nhwc(const at::Tensor& nchw_t) { return nchw_t.permute({0, 2, 3, 1}); }

// Fused activations (tfjs FusedConv2D / _FusedMatMul 'activation' attr).
enum Act : int32_t { kLinear = 0, kRelu = 1, kRelu6 = 2, kElu = 3, kPrelu = 4, kLeakyRelu = 5, kSigmoid = 6 };
at::Tensor apply_act(at::Tensor y, int32_t act, double alpha, const c10::optional<at::Tensor>& prelu);

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);
/** Registers fn under name; C++/ATen exceptions become JS Errors with a short message. */
void def(Napi::Env env, Napi::Object exports, const char* name, Fn fn);

/** t as a contiguous CPU float32 tensor, for the hand-written loops; `what` names the op in the error. */
inline at::Tensor cpu_f32(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.scalar_type() == at::kFloat, what, ": tensors must be float32");
  return t.device().is_cpu() ? t.contiguous() : t.to(at::kCPU).contiguous();
}

/**
 * f(c) for c in [0, n) on ATen's intra-op threads. at::parallel_for is header-only and the libtorch
 * here uses OpenMP, which this addon is not compiled with (it would run serially), so the split goes
 * through TensorIterator::for_each, whose parallel loop is compiled into libtorch.
 */
template <typename F>
void parallel_chunks(int64_t n, const F& f) {
  if (n <= 1 || at::get_num_threads() <= 1) {
    for (int64_t c = 0; c < n; ++c) f(c);
    return;
  }
  at::Tensor idx = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  const int64_t* base = idx.data_ptr<int64_t>();
  auto iter = at::TensorIteratorConfig().add_output(idx).resize_outputs(false).check_all_same_dtype(false).build();
  iter.for_each(
      [&f, base](char** data, const int64_t* s, int64_t len) {
        const int64_t c0 = reinterpret_cast<const int64_t*>(data[0]) - base;
        for (int64_t k = 0; k < len; ++k) f(c0 + k);
      },
      1);
}

void init_elementwise(Napi::Env env, Napi::Object exports);
void init_nn(Napi::Env env, Napi::Object exports);
void init_optim(Napi::Env env, Napi::Object exports);
void init_shape(Napi::Env env, Napi::Object exports);
void init_pwlu(Napi::Env env, Napi::Object exports);
/** PAU and APL fused forward/backward (ops_pau_apl.cc). */
void init_pau_apl(Napi::Env env, Napi::Object exports);
void init_swish_prelu(Napi::Env env, Napi::Object exports);
/** The JPEG decoder of the input pipeline (ops_jpeg.cc): jpegInfo, and jpegDecode when built with libjpeg-turbo. */
void init_jpeg(Napi::Env env, Napi::Object exports);
void init_dist(Napi::Env env, Napi::Object exports);

}  // namespace pwlu
