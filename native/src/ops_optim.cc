// Optimizer updates: SGD with momentum for every parameter of a model in one addon call.
// tfjs would run four elementwise kernels per parameter (and allocate as many temporaries); here
// each parameter is one pass that reads w, g and the momentum buffer and writes their new values.
#include <algorithm>

#include "common.h"

namespace pwlu {

namespace {

/**
 * sgdMomentum(ids, lr, momentum, nesterov, weightDecays) with ids = [w, g, buf] per parameter:
 * emits [w', buf'] per parameter. PyTorch's rule with coupled L2 decay, in float32 as tfjs does it:
 *   g' = g + w*wd;  buf' = buf*m + g';  w' = w - (nesterov ? g' + buf'*m : buf')*lr
 */
Napi::Value sgd_momentum(const Napi::CallbackInfo& info) {
  std::vector<int64_t> ids = avec(info, 0);
  const float lr = static_cast<float>(ad(info, 1));
  const float m = static_cast<float>(ad(info, 2));
  const bool nesterov = ab(info, 3);
  Napi::Array wds = info[4].As<Napi::Array>();
  if (ids.size() % 3 != 0 || wds.Length() * 3 != ids.size()) throw std::invalid_argument("sgdMomentum: ids must be [w, g, buf] per weight decay");
  for (size_t p = 0; p < ids.size() / 3; ++p) {
    const at::Tensor& w = get(static_cast<int32_t>(ids[3 * p]));
    const at::Tensor& g = get(static_cast<int32_t>(ids[3 * p + 1]));
    const at::Tensor& b = get(static_cast<int32_t>(ids[3 * p + 2]));
    const float wd = static_cast<float>(wds.Get(static_cast<uint32_t>(p)).As<Napi::Number>().DoubleValue());
    if (w.scalar_type() != at::kFloat || g.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat ||
        g.numel() != w.numel() || b.numel() != w.numel()) {
      throw std::invalid_argument("sgdMomentum: weight, gradient and buffer must be float32 of one size");
    }
    if (!w.is_cpu()) {  // CUDA: the same arithmetic as ATen ops
      at::Tensor gd = wd != 0.0f ? g.reshape(w.sizes()).add(w.mul(wd)) : g.reshape(w.sizes());
      at::Tensor nb = b.reshape(w.sizes()).mul(m).add(gd);
      emit(w.sub((nesterov ? gd.add(nb.mul(m)) : nb).mul(lr)));
      emit(nb);
      continue;
    }
    at::Tensor wc = w.contiguous(), gc = g.contiguous(), bc = b.contiguous();
    at::Tensor nw = at::empty_like(wc), nb = at::empty_like(wc);
    const float *pw = wc.data_ptr<float>(), *pg = gc.data_ptr<float>(), *pb = bc.data_ptr<float>();
    float *qw = nw.data_ptr<float>(), *qb = nb.data_ptr<float>();
    const int64_t n = w.numel(), chunk = 1 << 15;
    parallel_chunks((n + chunk - 1) / chunk, [&](int64_t c) {
      for (int64_t i = c * chunk, hi = std::min(n, i + chunk); i < hi; ++i) {
        const float gi = wd != 0.0f ? pg[i] + pw[i] * wd : pg[i];
        const float bi = pb[i] * m + gi;
        qb[i] = bi;
        qw[i] = pw[i] - (nesterov ? gi + bi * m : bi) * lr;
      }
    });
    emit(nw);
    emit(nb);
  }
  return info.Env().Undefined();
}

}  // namespace

void init_optim(Napi::Env env, Napi::Object exports) { def(env, exports, "sgdMomentum", sgd_momentum); }

}  // namespace pwlu
