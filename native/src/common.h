// Shared plumbing of the pwlu torch addon: the tensor table, argument helpers, output records.
//
// Every tfjs tensor on the 'torch' backend is an ATen tensor in a table, addressed by an
// integer id. Stored tensors are always contiguous in tfjs's logical (row-major, NHWC) layout,
// so read/write are memcpy and reshape is a view. Kernels take ids and plain numbers and write
// their outputs as records into a shared Int32Array (see out_*): [count, {id, dtype, rank, dims}*].
#pragma once

#include <ATen/ATen.h>
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

void init_elementwise(Napi::Env env, Napi::Object exports);
void init_nn(Napi::Env env, Napi::Object exports);
void init_optim(Napi::Env env, Napi::Object exports);
void init_shape(Napi::Env env, Napi::Object exports);
void init_pwlu(Napi::Env env, Napi::Object exports);

}  // namespace pwlu
