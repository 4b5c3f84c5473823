// pwlu_torch addon: module init, tensor table, read/write, threads, device.
#include "common.h"
#include "compat.h"

#include <ATen/Parallel.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

namespace pwlu {

namespace {
std::vector<at::Tensor> g_table;
std::vector<int32_t> g_free;
int64_t g_live = 0;
int64_t g_relayouts = 0;  // results that needed a copy to become row-major (should stay 0 on hot paths)
at::Device g_device = at::kCPU;
int32_t* g_out = nullptr;  // shared Int32Array owned by JS (kept alive by g_out_ref)
size_t g_out_len = 0;
size_t g_out_pos = 0;
Napi::Reference<Napi::Int32Array> g_out_ref;
napi_env g_env = nullptr;  // the one JS environment the tensor table belongs to

/** Releases the tensors recorded in the output buffer by the current call. */
void drop_outputs() {
  if (!g_out) return;
  size_t p = 1;
  for (int32_t i = 0; i < g_out[0]; ++i) {
    release(g_out[p]);
    p += 3 + static_cast<size_t>(g_out[p + 2]);
  }
  out_reset();
}

napi_value trampoline(napi_env env, napi_callback_info cbinfo) {
  Napi::CallbackInfo info(env, cbinfo);
  Fn fn = reinterpret_cast<Fn>(info.Data());
  out_reset();
  std::string err;
  try {
    return fn(info);
  } catch (const Napi::Error& e) {
    err = e.Message();
  } catch (const c10::Error& e) {
    err = std::string("torch: ") + e.what_without_backtrace();
  } catch (const std::exception& e) {
    err = std::string("torch: ") + e.what();
  }
  drop_outputs();  // a kernel that failed half-way must not leave tensors behind
  Napi::Error::New(env, err).ThrowAsJavaScriptException();
  return nullptr;
}
// ---- caching CPU allocator ----------------------------------------------------------------------
// tfjs keeps a step's activations and gradients alive until the end of the step, then frees them
// all; glibc then trims the heap and the next step page-faults every activation in again (and
// writes to cache-cold memory). Large blocks are therefore kept in per-size free lists and reused
// most-recently-freed first, like PyTorch's CUDA caching allocator. Small blocks go to malloc.
struct BlockCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t cached = 0;
  size_t limit = 0;
  uint64_t hits = 0, misses = 0;
};
constexpr size_t kAlign = 64;   // as c10's default CPU allocator
constexpr size_t kHeader = 64;  // block size lives in front of the data, alignment kept
constexpr size_t kMinCached = 64 << 10;
constexpr size_t kHuge = 2 << 20;  // blocks this large are 2 MiB aligned and asked for transparent huge pages
bool g_huge = true;

BlockCache* block_cache() {
  static BlockCache* c = new BlockCache();  // never destroyed: tensors may outlive static destructors
  return c;
}

// Bytes the tensors asked for (block rounding and cached free blocks not counted) and their peak since
// the last reset_peak(): what `pwlu speed` reports as a step's peak tensor memory.
std::atomic<size_t> g_in_use{0};
std::atomic<size_t> g_peak{0};

void count_alloc(size_t sz) {
  size_t now = g_in_use.fetch_add(sz, std::memory_order_relaxed) + sz;
  size_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

size_t block_size(size_t n) {
  size_t s = n + kHeader;
  if (s < kMinCached) return s;
  if (g_huge && s >= kHuge) return (s + kHuge - 1) & ~(kHuge - 1);
  return (s + 4095) & ~size_t(4095);
}

void release_block(void* p) {
  if (!p) return;
  char* base = static_cast<char*>(p) - kHeader;
  size_t sz = *reinterpret_cast<size_t*>(base);
  g_in_use.fetch_sub(reinterpret_cast<size_t*>(base)[1], std::memory_order_relaxed);
  if (sz >= kMinCached) {
    BlockCache* c = block_cache();
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->cached + sz <= c->limit) {
      c->free_blocks[sz].push_back(base);
      c->cached += sz;
      return;
    }
  }
  std::free(base);
}

struct CachingCPUAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) PWLU_ALLOCATE_CONST override {
    if (n == 0) return {nullptr, nullptr, &release_block, c10::Device(c10::DeviceType::CPU)};
    size_t sz = block_size(n);
    void* base = nullptr;
    if (sz >= kMinCached) {
      BlockCache* c = block_cache();
      std::lock_guard<std::mutex> lock(c->mu);
      auto it = c->free_blocks.find(sz);
      if (it != c->free_blocks.end() && !it->second.empty()) {
        base = it->second.back();
        it->second.pop_back();
        c->cached -= sz;
        ++c->hits;
      } else {
        ++c->misses;
      }
    }
    if (!base) {
      bool huge = g_huge && sz >= kHuge;
      if (posix_memalign(&base, huge ? kHuge : kAlign, sz) != 0) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
      if (huge) madvise(base, sz, MADV_HUGEPAGE);  // fewer TLB misses on streaming kernels
#endif
    }
    reinterpret_cast<size_t*>(base)[0] = sz;
    reinterpret_cast<size_t*>(base)[1] = n;  // the tensor's own bytes: what the peak counts (no rounding)
    count_alloc(n);
    void* p = static_cast<char*>(base) + kHeader;
    return {p, p, &release_block, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release_block; }
#if PWLU_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }
#endif
};

void empty_block_cache() {
  BlockCache* c = block_cache();
  std::lock_guard<std::mutex> lock(c->mu);
  for (auto& kv : c->free_blocks)
    for (void* b : kv.second) std::free(b);
  c->free_blocks.clear();
  c->cached = 0;
}

/** Installs the caching allocator unless PWLU_TORCH_CACHING_ALLOCATOR=0; limit PWLU_TORCH_CACHE_MB (default 1/4 of RAM). */
void install_caching_allocator() {
  const char* on = std::getenv("PWLU_TORCH_CACHING_ALLOCATOR");
  if (on && std::string(on) == "0") return;
  const char* mb = std::getenv("PWLU_TORCH_CACHE_MB");
  size_t limit = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 4;
  if (mb) limit = static_cast<size_t>(std::strtoull(mb, nullptr, 10)) << 20;
  block_cache()->limit = limit;
  const char* huge = std::getenv("PWLU_TORCH_HUGEPAGES");
  g_huge = !(huge && std::string(huge) == "0");
  static CachingCPUAllocator alloc;
  c10::SetCPUAllocator(&alloc, /*priority=*/10);
}

}  // namespace

at::Device device() { return g_device; }
void set_device(at::Device d) { g_device = d; }

at::ScalarType scalar_type(int32_t code) {
  switch (code) {
    case kF32: return at::kFloat;
    case kI32: return at::kInt;
    case kBool: return at::kBool;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

int32_t dtype_code(at::ScalarType st) {
  switch (st) {
    case at::kFloat: return kF32;
    case at::kInt: return kI32;
    case at::kBool: return kBool;
    default: throw std::invalid_argument(std::string("unsupported result dtype ") + c10::toString(st));
  }
}

static at::Tensor normalise(at::Tensor t) {
  switch (t.scalar_type()) {
    case at::kFloat:
    case at::kInt:
    case at::kBool: break;
    case at::kDouble:
    case at::kHalf:
    case at::kBFloat16: t = t.to(at::kFloat); break;
    default: t = t.to(at::kInt); break;  // int64 / uint8 / int8 / int16
  }
  if (!t.is_contiguous()) {
    ++g_relayouts;
    t = t.contiguous();
  }
  return t;
}

int32_t store(at::Tensor t) {
  t = normalise(std::move(t));
  int32_t id;
  if (!g_free.empty()) {
    id = g_free.back();
    g_free.pop_back();
    g_table[id] = std::move(t);
  } else {
    id = static_cast<int32_t>(g_table.size());
    g_table.push_back(std::move(t));
  }
  ++g_live;
  return id;
}

const at::Tensor& get(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= g_table.size() || !g_table[id].defined()) {
    throw std::invalid_argument("invalid tensor id " + std::to_string(id));
  }
  return g_table[id];
}

std::vector<at::Tensor> g_derived;  // per id: a re-laid-out copy kernels may cache (conv weights)

const at::Tensor* derived(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= g_derived.size() || !g_derived[id].defined()) return nullptr;
  return &g_derived[id];
}

void set_derived(int32_t id, at::Tensor t) {
  if (static_cast<size_t>(id) >= g_derived.size()) g_derived.resize(static_cast<size_t>(id) + 1);
  g_derived[id] = std::move(t);
}

void release(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= g_table.size() || !g_table[id].defined()) return;
  g_table[id] = at::Tensor();
  if (static_cast<size_t>(id) < g_derived.size()) g_derived[id] = at::Tensor();
  g_free.push_back(id);
  --g_live;
}

int64_t live_count() { return g_live; }

void out_reset() {
  g_out_pos = 1;
  if (g_out) g_out[0] = 0;
}

void emit(const at::Tensor& t0) {
  if (!g_out) throw std::runtime_error("addon not initialised");
  size_t need = 3 + static_cast<size_t>(t0.dim());
  if (g_out_pos + need > g_out_len) throw std::runtime_error("too many kernel outputs for the output buffer");
  int32_t id = store(t0);
  const at::Tensor& t = g_table[id];
  g_out[g_out_pos++] = id;
  g_out[g_out_pos++] = dtype_code(t.scalar_type());
  g_out[g_out_pos++] = static_cast<int32_t>(t.dim());
  for (int64_t d : t.sizes()) g_out[g_out_pos++] = static_cast<int32_t>(d);
  g_out[0] += 1;
}

std::vector<int64_t> avec(const Napi::CallbackInfo& info, size_t i) {
  Napi::Array a = info[i].As<Napi::Array>();
  uint32_t n = a.Length();
  std::vector<int64_t> v(n);
  for (uint32_t k = 0; k < n; ++k) v[k] = a.Get(k).As<Napi::Number>().Int64Value();
  return v;
}

std::vector<at::Tensor> atensors(const Napi::CallbackInfo& info, size_t i) {
  Napi::Array a = info[i].As<Napi::Array>();
  uint32_t n = a.Length();
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (uint32_t k = 0; k < n; ++k) v.push_back(get(a.Get(k).As<Napi::Number>().Int32Value()));
  return v;
}

at::Tensor apply_act(at::Tensor y, int32_t act, double alpha, const c10::optional<at::Tensor>& prelu) {
  switch (act) {
    case kLinear: return y;
    case kRelu: return at::relu_(y);
    case kRelu6: return at::hardtanh_(y, 0.0, 6.0);
    case kElu: return at::elu_(y);
    case kPrelu: return at::where(y > 0, y, y * prelu.value());
    case kLeakyRelu: return at::leaky_relu_(y, alpha);
    case kSigmoid: return at::sigmoid_(y);
  }
  throw std::invalid_argument("unknown fused activation " + std::to_string(act));
}

void def(Napi::Env env, Napi::Object exports, const char* name, Fn fn) {
  napi_value f;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, trampoline, reinterpret_cast<void*>(fn), &f);
  NAPI_THROW_IF_FAILED_VOID(env, s);
  exports.Set(name, Napi::Value(env, f));
}

// ------------------------------------------------------------------------------------------------

/** init(outBuffer: Int32Array): hands the shared output-record buffer to the addon. */
static Napi::Value init(const Napi::CallbackInfo& info) {
  if (g_env && g_env != static_cast<napi_env>(info.Env())) {
    throw std::runtime_error("the torch addon serves one JS thread per process (already initialised elsewhere)");
  }
  g_env = info.Env();
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  g_out_ref = Napi::Persistent(a);
  g_out = a.Data();
  g_out_len = a.ElementLength();
  out_reset();
  return info.Env().Undefined();
}

static Napi::Value version(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), TORCH_VERSION); }

static Napi::Value cuda_available(const Napi::CallbackInfo& info) {
  bool ok = at::hasCUDA() && at::detail::getCUDAHooks().getNumGPUs() > 0;
  return Napi::Boolean::New(info.Env(), ok);
}

static Napi::Value built_with_cuda(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), PWLU_WITH_CUDA != 0); }

/** setDevice('cpu' | 'cuda'): where new tensors live. */
static Napi::Value set_device_js(const Napi::CallbackInfo& info) {
  std::string d = info[0].As<Napi::String>().Utf8Value();
  if (d == "cuda") {
    // The GPU index: a data-parallel run's LOCAL_RANK (0 otherwise), modulo the visible GPUs: a rank
    // bound to its own GPU (Slurm's --gpus-per-task sets CUDA_VISIBLE_DEVICES per task) sees it as 0.
    const int gpus = at::hasCUDA() ? at::detail::getCUDAHooks().getNumGPUs() : 0;
    if (gpus == 0) throw std::runtime_error("CUDA is not available");
    const int index = (info.Length() > 1 && info[1].IsNumber() ? std::max(0, ai(info, 1)) : 0) % gpus;
    g_device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
    // PWLU_TORCH_TF32=0: full float32 convolutions and matmuls (PyTorch's default lets cuDNN use TF32, about 1e-3
    // relative), so the kernel tests can compare CUDA against the CPU at float32 tolerances.
    const char* tf32 = std::getenv("PWLU_TORCH_TF32");
    if (tf32 && std::string(tf32) == "0") {
      at::globalContext().setAllowTF32CuDNN(false);
      at::globalContext().setAllowTF32CuBLAS(false);
    }
  } else {
    g_device = at::kCPU;
  }
  return info.Env().Undefined();
}

static Napi::Value set_threads(const Napi::CallbackInfo& info) {
  int n = ai(info, 0);
  if (n > 0) at::set_num_threads(n);
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

static Napi::Value get_threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), at::get_num_threads()); }

/** write(values: TypedArray, shape: number[], dtype): copies values into a new tensor, returns its id. */
static Napi::Value write(const Napi::CallbackInfo& info) {
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  std::vector<int64_t> shape = avec(info, 1);
  at::ScalarType st = scalar_type(ai(info, 2));
  size_t elem = at::elementSize(st);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (static_cast<int64_t>(ta.ByteLength()) < n * static_cast<int64_t>(elem)) throw std::invalid_argument("write: values shorter than shape");
  const uint8_t* src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(st));
  if (n > 0) std::memcpy(t.data_ptr(), src, n * elem);
  if (g_device.is_cuda()) t = t.to(g_device);
  return Napi::Number::New(info.Env(), store(std::move(t)));
}

/** read(id): copies the tensor out as Float32Array / Int32Array / Uint8Array (bool). */
static Napi::Value read(const Napi::CallbackInfo& info) {
  at::Tensor t = get(ai(info, 0));
  if (!t.device().is_cpu()) t = t.to(at::kCPU);
  t = t.contiguous();
  Napi::Env env = info.Env();
  int64_t n = t.numel();
  size_t bytes = n * t.element_size();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
    case at::kBool: return Napi::Uint8Array::New(env, n, buf, 0);
    default: throw std::invalid_argument("read: unsupported dtype");
  }
}

static Napi::Value free_js(const Napi::CallbackInfo& info) {
  release(ai(info, 0));
  return info.Env().Undefined();
}

/** live(): number of tensors in the table (for leak tests). */
static Napi::Value live(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(live_count())); }

/** relayouts(): how many kernel results were copied into row-major layout (diagnostics). */
static Napi::Value relayouts(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(g_relayouts)); }

/** allocatorStats(): {enabled, cachedBytes, limitBytes, hits, misses, inUseBytes, peakBytes} of the caching CPU allocator. */
static Napi::Value allocator_stats(const Napi::CallbackInfo& info) {
  BlockCache* c = block_cache();
  std::lock_guard<std::mutex> lock(c->mu);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("enabled", Napi::Boolean::New(info.Env(), c->limit > 0));
  o.Set("cachedBytes", Napi::Number::New(info.Env(), static_cast<double>(c->cached)));
  o.Set("limitBytes", Napi::Number::New(info.Env(), static_cast<double>(c->limit)));
  o.Set("hits", Napi::Number::New(info.Env(), static_cast<double>(c->hits)));
  o.Set("misses", Napi::Number::New(info.Env(), static_cast<double>(c->misses)));
  o.Set("inUseBytes", Napi::Number::New(info.Env(), static_cast<double>(g_in_use.load())));
  o.Set("peakBytes", Napi::Number::New(info.Env(), static_cast<double>(g_peak.load())));
  return o;
}

/** resetPeak(): starts a new peak at the bytes in use now (a measurement's start). */
static Napi::Value reset_peak(const Napi::CallbackInfo& info) {
  g_peak.store(g_in_use.load());
  return info.Env().Undefined();
}

/** emptyCache(): returns the allocator's cached free blocks to the system. */
static Napi::Value empty_cache(const Napi::CallbackInfo& info) {
  empty_block_cache();
  return info.Env().Undefined();
}

/** view(id, shape, dtype): the same storage under another shape (and dtype, converted if different). */
static Napi::Value view(const Napi::CallbackInfo& info) {
  at::Tensor t = at_(info, 0).reshape(avec(info, 1));
  at::ScalarType st = scalar_type(ai(info, 2));
  if (t.scalar_type() != st) t = t.to(st);
  return Napi::Number::New(info.Env(), store(std::move(t)));
}

/** info(id): [dtype, ...shape] of a stored tensor (debugging and tests). */
static Napi::Value tinfo(const Napi::CallbackInfo& info) {
  const at::Tensor& t = at_(info, 0);
  Napi::Array a = Napi::Array::New(info.Env(), t.dim() + 1);
  a.Set(uint32_t(0), Napi::Number::New(info.Env(), dtype_code(t.scalar_type())));
  for (int64_t i = 0; i < t.dim(); ++i) a.Set(uint32_t(i + 1), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
  return a;
}

/** loadStateDict: the tensors of a torch.save file (ops_pickle.cc). */
void init_pickle(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  install_caching_allocator();
  def(env, exports, "allocatorStats", allocator_stats);
  def(env, exports, "emptyCache", empty_cache);
  def(env, exports, "resetPeak", reset_peak);
  def(env, exports, "init", init);
  def(env, exports, "version", version);
  def(env, exports, "cudaAvailable", cuda_available);
  def(env, exports, "builtWithCuda", built_with_cuda);
  def(env, exports, "setDevice", set_device_js);
  def(env, exports, "setThreads", set_threads);
  def(env, exports, "getThreads", get_threads);
  def(env, exports, "write", write);
  def(env, exports, "read", read);
  def(env, exports, "free", free_js);
  def(env, exports, "live", live);
  def(env, exports, "relayouts", relayouts);
  def(env, exports, "view", view);
  def(env, exports, "info", tinfo);
  init_elementwise(env, exports);
  init_nn(env, exports);
  init_optim(env, exports);
  init_shape(env, exports);
  init_pwlu(env, exports);
  init_pau_apl(env, exports);
  init_swish_prelu(env, exports);
  init_jpeg(env, exports);
  init_dist(env, exports);
  init_pickle(env, exports);
  return exports;
}

}  // namespace pwlu

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return pwlu::Init(env, exports); }
NODE_API_MODULE(pwlu_torch, InitAll)
