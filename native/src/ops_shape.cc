// Data-movement kernels: cast, transpose, tile, pad, slice, concat/stack/split, gather, one-hot,
// segment sums, select, fill/range, cumulative sums, flips.
#include "common.h"

namespace pwlu {

namespace {

#define RET return info.Env().Undefined()

/** cast(id, dtype) */
Napi::Value cast(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  at::ScalarType st = scalar_type(ai(info, 1));
  if (st == at::kBool) emit(x.ne(0));
  else emit(x.to(st));
  RET;
}

/** transpose(id, perm) */
Napi::Value transpose(const Napi::CallbackInfo& info) {
  emit(at_(info, 0).permute(avec(info, 1)));
  RET;
}

/** tile(id, reps) */
Napi::Value tile(const Napi::CallbackInfo& info) {
  emit(at_(info, 0).repeat(avec(info, 1)));
  RET;
}

/** pad(id, [before0, after0, before1, after1, ...], value) */
Napi::Value pad(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  std::vector<int64_t> p = avec(info, 1);
  double value = ad(info, 2);
  std::vector<int64_t> rev;
  for (int64_t d = x.dim() - 1; d >= 0; --d) {
    rev.push_back(p.at(2 * d));
    rev.push_back(p.at(2 * d + 1));
  }
  emit(at::constant_pad_nd(x, rev, value));
  RET;
}

/** mirrorPad(id, pads, reflect): 'reflect' or 'symmetric' padding. */
Napi::Value mirror_pad(const Napi::CallbackInfo& info) {
  at::Tensor x = at_(info, 0);
  std::vector<int64_t> p = avec(info, 1);
  bool reflect = ab(info, 2);
  for (int64_t d = 0; d < x.dim(); ++d) {
    int64_t b = p.at(2 * d), a = p.at(2 * d + 1), n = x.size(d);
    if (b == 0 && a == 0) continue;
    std::vector<at::Tensor> parts;
    int64_t off = reflect ? 1 : 0;
    if (b > 0) parts.push_back(x.narrow(d, off, b).flip(d));
    parts.push_back(x);
    if (a > 0) parts.push_back(x.narrow(d, n - a - off, a).flip(d));
    x = at::cat(parts, d);
  }
  emit(x);
  RET;
}

/** slice(id, begin, size) */
Napi::Value slice(const Napi::CallbackInfo& info) {
  at::Tensor x = at_(info, 0);
  std::vector<int64_t> b = avec(info, 1), s = avec(info, 2);
  for (int64_t d = 0; d < static_cast<int64_t>(b.size()); ++d) {
    int64_t len = s[d] < 0 ? x.size(d) - b[d] : s[d];
    if (b[d] != 0 || len != x.size(d)) x = x.narrow(d, b[d], len);
  }
  emit(x);
  RET;
}

/**
 * stridedSlice(id, begin, strides, sizes, finalShape): out[i] = x[begin + i*stride] per dim, as
 * tfjs's stridedSliceImpl, with begin/strides from tfjs's slice_util.sliceInfo
 * and the per-axis sizes from slice_util.computeOutShape.
 */
Napi::Value strided_slice(const Napi::CallbackInfo& info) {
  at::Tensor x = at_(info, 0);
  std::vector<int64_t> b = avec(info, 1), st = avec(info, 2), sparse = avec(info, 3), shape = avec(info, 4);
  for (int64_t d = 0; d < static_cast<int64_t>(sparse.size()) && d < x.dim(); ++d) {
    int64_t n = sparse[d], s = st[d], size = x.size(d);
    if (n == 0) {
      x = x.narrow(d, 0, 0);
    } else if (s > 0) {
      x = x.slice(d, b[d], b[d] + (n - 1) * s + 1, s);
    } else {
      int64_t f = size - 1 - b[d];  // position of begin in the flipped axis
      x = x.flip(d).slice(d, f, f + (n - 1) * (-s) + 1, -s);
    }
  }
  emit(x.reshape(shape));
  RET;
}

/** concat(ids, axis) */
Napi::Value concat(const Napi::CallbackInfo& info) {
  emit(at::cat(atensors(info, 0), al(info, 1)));
  RET;
}

/** pack(ids, axis) */
Napi::Value pack(const Napi::CallbackInfo& info) {
  emit(at::stack(atensors(info, 0), al(info, 1)));
  RET;
}

/** unpack(id, axis) -> one output per slice */
Napi::Value unpack(const Napi::CallbackInfo& info) {
  for (const at::Tensor& t : at::unbind(at_(info, 0), al(info, 1))) emit(t);
  RET;
}

/** splitV(id, sizes, axis) */
Napi::Value split_v(const Napi::CallbackInfo& info) {
  for (const at::Tensor& t : at::split_with_sizes(at_(info, 0), avec(info, 1), al(info, 2))) emit(t);
  RET;
}

/** reverse(id, dims) */
Napi::Value reverse(const Napi::CallbackInfo& info) {
  std::vector<int64_t> dims = avec(info, 1);
  if (dims.empty()) emit(at_(info, 0));
  else emit(at::flip(at_(info, 0), dims));
  RET;
}

/** gather(x, indices, batchSize, outerSize, dimSize, sliceSize, outShape): GatherV2 via tfjs's shape info. */
Napi::Value gather(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  at::Tensor idx = at_(info, 1).to(at::kLong);
  int64_t B = al(info, 2), O = al(info, 3), D = al(info, 4), S = al(info, 5);
  std::vector<int64_t> out_shape = avec(info, 6);
  int64_t I = idx.numel() / std::max<int64_t>(B, 1);
  at::Tensor x4 = x.reshape({B, O, D, S});
  at::Tensor r;
  if (B == 1) {
    r = at::index_select(x4[0], 1, idx.reshape({-1}));
  } else {
    r = at::gather(x4, 2, idx.reshape({B, 1, I, 1}).expand({B, O, I, S}));
  }
  emit(r.reshape(out_shape));
  RET;
}

/** gatherNd(x, indices): indices [..., k] address the first k dims of x. */
Napi::Value gather_nd(const Napi::CallbackInfo& info) {
  const at::Tensor& x = at_(info, 0);
  at::Tensor idx = at_(info, 1).to(at::kLong);
  int64_t k = idx.size(-1);
  std::vector<int64_t> strides(k);
  int64_t s = 1;
  for (int64_t d = k - 1; d >= 0; --d) {
    strides[d] = s;
    s *= x.size(d);
  }
  at::Tensor lin = (idx * at::tensor(strides, idx.options())).sum(-1);
  std::vector<int64_t> rest(x.sizes().begin() + k, x.sizes().end());
  std::vector<int64_t> flat = {s};
  flat.insert(flat.end(), rest.begin(), rest.end());
  at::Tensor r = at::index_select(x.reshape(flat), 0, lin.reshape({-1}));
  std::vector<int64_t> out(idx.sizes().begin(), idx.sizes().end() - 1);
  out.insert(out.end(), rest.begin(), rest.end());
  emit(r.reshape(out));
  RET;
}

/** oneHot(indices, depth, onValue, offValue, dtype): out-of-range indices give all-off rows. */
Napi::Value one_hot(const Napi::CallbackInfo& info) {
  const at::Tensor& idx = at_(info, 0);
  int64_t depth = al(info, 1);
  double on = ad(info, 2), off = ad(info, 3);
  at::ScalarType st = scalar_type(ai(info, 4));
  at::Tensor mask = at::arange(depth, opts(idx.scalar_type())).eq(idx.unsqueeze(-1));
  if (st == at::kBool) emit(on != 0 ? mask : mask.logical_not());
  else emit(at::where(mask, at::full({}, on, opts(st)), at::full({}, off, opts(st))));
  RET;
}

/** unsortedSegmentSum(x, segmentIds, numSegments): ids outside [0, n) are dropped; float32 out, as tfjs's cpu. */
Napi::Value unsorted_segment_sum(const Napi::CallbackInfo& info) {
  at::Tensor x = at_(info, 0).to(at::kFloat);
  at::Tensor ids = at_(info, 1).to(at::kLong).reshape({-1});
  int64_t n = al(info, 2);
  int64_t k = at_(info, 1).dim();
  std::vector<int64_t> rest(x.sizes().begin() + k, x.sizes().end());
  std::vector<int64_t> flat = {ids.numel()};
  flat.insert(flat.end(), rest.begin(), rest.end());
  x = x.reshape(flat);
  at::Tensor valid = ids.ge(0).logical_and(ids.lt(n));
  if (!valid.all().item<bool>()) {
    at::Tensor keep = valid.nonzero().reshape({-1});
    x = x.index_select(0, keep);
    ids = ids.index_select(0, keep);
  }
  std::vector<int64_t> out = {n};
  out.insert(out.end(), rest.begin(), rest.end());
  emit(at::zeros(out, x.options()).index_add_(0, ids, x));
  RET;
}

/** select(condition, t, e): tf.where; a rank-1 condition picks along the first axis. */
Napi::Value select(const Napi::CallbackInfo& info) {
  at::Tensor c = at_(info, 0);
  const at::Tensor& t = at_(info, 1);
  const at::Tensor& e = at_(info, 2);
  if (c.dim() == 1 && t.dim() > 1) {
    std::vector<int64_t> s(t.dim(), 1);
    s[0] = c.size(0);
    c = c.reshape(s);
  }
  if (c.scalar_type() != at::kBool) c = c.ne(0);
  emit(at::where(c, t, e));
  RET;
}

/** fill(shape, value, dtype) */
Napi::Value fill(const Napi::CallbackInfo& info) {
  at::ScalarType st = scalar_type(ai(info, 2));
  emit(at::full(avec(info, 0), ad(info, 1), opts(st)));
  RET;
}

/** range(start, step, n, dtype): start + i*step, i < n */
Napi::Value range(const Napi::CallbackInfo& info) {
  double start = ad(info, 0), step = ad(info, 1);
  int64_t n = al(info, 2);
  at::ScalarType st = scalar_type(ai(info, 3));
  emit(at::arange(n, opts(at::kDouble).device(at::kCPU)).mul_(step).add_(start).to(st).to(device()));
  RET;
}

/** linspace(start, stop, num) */
Napi::Value linspace(const Napi::CallbackInfo& info) {
  emit(at::linspace(ad(info, 0), ad(info, 1), al(info, 2), opts()));
  RET;
}

/** cumulative(x, axis, exclusive, reverse, product) */
Napi::Value cumulative(const Napi::CallbackInfo& info) {
  at::Tensor x = at_(info, 0);
  int64_t axis = al(info, 1);
  bool exclusive = ab(info, 2), rev = ab(info, 3), prod = ab(info, 4);
  if (rev) x = x.flip(axis);
  at::Tensor r = prod ? at::cumprod(x, axis) : at::cumsum(x, axis);
  if (exclusive) {
    int64_t n = x.size(axis);
    at::Tensor first = prod ? at::ones_like(x.narrow(axis, 0, 1)) : at::zeros_like(x.narrow(axis, 0, 1));
    r = at::cat({first.to(r.scalar_type()), r.narrow(axis, 0, std::max<int64_t>(n - 1, 0))}, axis);
  }
  if (rev) r = r.flip(axis);
  emit(r);
  RET;
}

}  // namespace

void init_shape(Napi::Env env, Napi::Object exports) {
  def(env, exports, "cast", cast);
  def(env, exports, "transpose", transpose);
  def(env, exports, "tile", tile);
  def(env, exports, "pad", pad);
  def(env, exports, "mirrorPad", mirror_pad);
  def(env, exports, "slice", slice);
  def(env, exports, "stridedSlice", strided_slice);
  def(env, exports, "concat", concat);
  def(env, exports, "pack", pack);
  def(env, exports, "unpack", unpack);
  def(env, exports, "splitV", split_v);
  def(env, exports, "reverse", reverse);
  def(env, exports, "gather", gather);
  def(env, exports, "gatherNd", gather_nd);
  def(env, exports, "oneHot", one_hot);
  def(env, exports, "unsortedSegmentSum", unsorted_segment_sum);
  def(env, exports, "select", select);
  def(env, exports, "fill", fill);
  def(env, exports, "range", range);
  def(env, exports, "linspace", linspace);
  def(env, exports, "cumulative", cumulative);
}

}  // namespace pwlu
