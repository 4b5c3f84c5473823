// loadStateDict(path): the tensors of a file written by Python's torch.save (a state_dict), for model initialisation
// (src/train/init.ts) without Python.
//
// The container is read by libtorch's own loader, caffe2::serialize::PyTorchStreamReader (the zip archive torch.save
// writes since PyTorch 1.6: `<name>/data.pkl` plus one record per storage, `<name>/data/<key>`). The pickle inside is
// read here, not by libtorch's unpickler (torch::jit::pickle_load): libtorch 1.13's cannot read a state_dict at all
// (it has no SETITEM opcode, which Python's pickle uses for a one-entry dict such as every `{'version': 1}` of a
// state_dict's `_metadata`, and it asserts on the BUILD that attaches `_metadata` to the OrderedDict), and a pickle
// VM of our own reads every libtorch version the same way. It knows only the opcodes and globals torch.save writes
// for tensors, dicts, lists, tuples and scalars, and it calls nothing: any other global becomes an inert object.
// The legacy format (torch.save with _use_new_zipfile_serialization=False, and files from PyTorch < 1.6: a sequence
// of pickles followed by the raw storages) is read too.
//
// Result: one {name, shape, dtype, data} per tensor in the file's order, data as float32 (dtype names the stored
// type, e.g. 'int64' for BN's num_batches_tracked, which is converted like the rest). Accepted roots: a dict of
// tensors, or a dict whose 'state_dict' or 'model' entry is one (training checkpoints). Any failure is a JS Error whose
// message starts with the path.
#include "common.h"

#include <caffe2/serialize/inline_container.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pwlu {

namespace {

/** A failure to report as `<path>: <what>`. */
struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/** One storage of the file: its element type and, once read, its elements (a 1-D tensor of that type). */
struct StorageRef {
  std::string key;
  at::ScalarType dtype = at::kFloat;
  int64_t numel = 0;
  at::Tensor data;  // undefined until read
};

struct Val;
using V = std::shared_ptr<Val>;

/** A value on the pickle VM's stack. */
struct Val {
  enum Kind { None, Bool, Int, BigInt, Float, Str, Tuple, List, Dict, Global, Storage, Tensor, Object } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s, s2;  // Str / BigInt (raw little-endian bytes): s; Global and Object: module s, name s2
  std::vector<V> items;                  // Tuple, List
  std::vector<std::pair<V, V>> entries;  // Dict, in insertion order
  std::shared_ptr<StorageRef> storage;   // Storage, Tensor
  int64_t offset = 0;                    // Tensor
  std::vector<int64_t> size, stride;     // Tensor
};

V make(Val::Kind k) {
  auto v = std::make_shared<Val>();
  v->kind = k;
  return v;
}

/** What a value is, for error messages. */
std::string describe(const V& v) {
  switch (v->kind) {
    case Val::None: return "None";
    case Val::Bool: return "a bool";
    case Val::Int:
    case Val::BigInt: return "an int";
    case Val::Float: return "a float";
    case Val::Str: return "a string";
    case Val::Tuple: return "a tuple";
    case Val::List: return "a list";
    case Val::Dict: return "a dict";
    case Val::Global: return "a reference to " + v->s + "." + v->s2;
    case Val::Storage: return "a storage";
    case Val::Tensor: return "a tensor";
    case Val::Object: return "an object of " + v->s + "." + v->s2;
  }
  return "a value";
}

/** The element type of a storage class name (torch.FloatStorage, ...). */
at::ScalarType storage_dtype(const std::string& name) {
  static const std::map<std::string, at::ScalarType> types = {
      {"DoubleStorage", at::kDouble}, {"FloatStorage", at::kFloat}, {"HalfStorage", at::kHalf}, {"BFloat16Storage", at::kBFloat16},
      {"LongStorage", at::kLong},     {"IntStorage", at::kInt},     {"ShortStorage", at::kShort}, {"CharStorage", at::kChar},
      {"ByteStorage", at::kByte},     {"BoolStorage", at::kBool},   {"UntypedStorage", at::kByte},
  };
  auto it = types.find(name);
  if (it == types.end()) throw LoadError("unsupported storage type torch." + name);
  return it->second;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return "float64";
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

/**
 * A pickle VM for what torch.save writes (protocols 2 to 5). `persistent` turns a persistent id (torch.save's
 * ('storage', type, key, location, numel) tuples) into a storage.
 */
class Unpickler {
 public:
  using Persistent = std::function<std::shared_ptr<StorageRef>(const V&)>;
  Unpickler(const uint8_t* data, size_t size, Persistent persistent) : p_(data), n_(size), persistent_(std::move(persistent)) {}

  size_t pos() const { return pos_; }

  /** Runs from the current position to the next STOP and returns the value it leaves. */
  V load() {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    for (;;) {
      const size_t at = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: u8(); break;                 // PROTO
        case 0x95: bytes(8); break;             // FRAME: a length hint
        case '.': return pop();                 // STOP
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case ')': push(make(Val::Tuple)); break;
        case ']': push(make(Val::List)); break;
        case '}': push(make(Val::Dict)); break;
        case 'N': push(make(Val::None)); break;
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
          V v = make(Val::Bool);
          v->i = op == 0x88;
          push(v);
        } break;
        case 'J': push_int(static_cast<int32_t>(le(4))); break;  // BININT
        case 'K': push_int(static_cast<int64_t>(le(1))); break;  // BININT1
        case 'M': push_int(static_cast<int64_t>(le(2))); break;  // BININT2
        case 0x8a: long_int(le(1)); break;                        // LONG1
        case 0x8b: long_int(le(4)); break;                        // LONG4
        case 'G': {                                               // BINFLOAT: big-endian double
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | u8();
          V v = make(Val::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
        } break;
        case 'X':
        case 'T':
        case 'B': push_str(le(4)); break;  // BINUNICODE, BINSTRING, BINBYTES
        case 0x8c:
        case 'U':
        case 'C': push_str(le(1)); break;  // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
        case 0x8d:
        case 0x8e: push_str(le(8)); break;  // BINUNICODE8, BINBYTES8
        case 't': push(tuple_from(pop_mark())); break;
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t k = op - 0x84;
          if (stack_.size() < k) fail(at, "stack underflow");
          std::vector<V> items(stack_.end() - k, stack_.end());
          stack_.resize(stack_.size() - k);
          push(tuple_from(std::move(items)));
        } break;
        case 'l': {  // LIST
          V v = make(Val::List);
          v->items = pop_mark();
          push(v);
        } break;
        case 'a': {  // APPEND
          V x = pop();
          list_at_top(at)->items.push_back(x);
        } break;
        case 'e': {  // APPENDS
          std::vector<V> xs = pop_mark();
          V l = list_at_top(at);
          l->items.insert(l->items.end(), xs.begin(), xs.end());
        } break;
        case 'd': {  // DICT
          std::vector<V> kv = pop_mark();
          V d = make(Val::Dict);
          set_items(d, kv, at);
          push(d);
        } break;
        case 's': {  // SETITEM
          V value = pop();
          V key = pop();
          set_items(dict_at_top(at), {key, value}, at);
        } break;
        case 'u': {  // SETITEMS
          std::vector<V> kv = pop_mark();
          set_items(dict_at_top(at), kv, at);
        } break;
        case 'c': {  // GLOBAL module\nname\n
          V g = make(Val::Global);
          g->s = line();
          g->s2 = line();
          push(g);
        } break;
        case 0x93: {  // STACK_GLOBAL
          V name = pop();
          V module = pop();
          if (module->kind != Val::Str || name->kind != Val::Str) fail(at, "STACK_GLOBAL without strings");
          V g = make(Val::Global);
          g->s = module->s;
          g->s2 = name->s;
          push(g);
        } break;
        case 'R': {  // REDUCE
          V args = pop();
          V fn = pop();
          push(reduce(fn, args, at));
        } break;
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          V args = pop();
          V cls = pop();
          push(reduce(cls, args, at));
        } break;
        case 'b': pop(); break;  // BUILD: the state (an OrderedDict's _metadata, an object's __dict__) is not needed
        case 'Q': {              // BINPERSID
          V pid = pop();
          V st = make(Val::Storage);
          st->storage = persistent_(pid);
          push(st);
        } break;
        case 'q': memo_put(le(1), at); break;  // BINPUT
        case 'r': memo_put(le(4), at); break;  // LONG_BINPUT
        case 0x94: memo_put(memo_.size(), at); break;  // MEMOIZE
        case 'h': push(memo_get(le(1), at)); break;    // BINGET
        case 'j': push(memo_get(le(4), at)); break;    // LONG_BINGET
        case '0': pop(); break;                        // POP
        case '1': pop_mark(); break;                   // POP_MARK
        case '2': push(top(at)); break;                // DUP
        default: fail(at, "unsupported pickle opcode 0x" + hex(op) + " (not a file torch.save writes)");
      }
    }
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& what) const { throw LoadError("pickle byte " + std::to_string(at) + ": " + what); }
  static std::string hex(uint8_t b) {
    static const char* d = "0123456789abcdef";
    return std::string{d[b >> 4], d[b & 15]};
  }
  uint8_t u8() {
    if (pos_ >= n_) throw LoadError("pickle ends early (truncated file?)");
    return p_[pos_++];
  }
  const uint8_t* bytes(size_t k) {
    if (k > n_ - pos_) throw LoadError("pickle ends early (truncated file?)");
    const uint8_t* b = p_ + pos_;
    pos_ += k;
    return b;
  }
  uint64_t le(size_t k) {
    const uint8_t* b = bytes(k);
    uint64_t x = 0;
    for (size_t j = k; j-- > 0;) x = (x << 8) | b[j];
    return x;
  }
  std::string line() {
    std::string s;
    for (uint8_t c = u8(); c != '\n'; c = u8()) s.push_back(static_cast<char>(c));
    return s;
  }
  void push(V v) { stack_.push_back(std::move(v)); }
  V pop() {
    if (stack_.empty()) throw LoadError("pickle stack underflow (corrupt file?)");
    V v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  const V& top(size_t at) const {
    if (stack_.empty()) fail(at, "stack underflow");
    return stack_.back();
  }
  std::vector<V> pop_mark() {
    if (marks_.empty()) throw LoadError("pickle has no MARK (corrupt file?)");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) throw LoadError("pickle stack underflow (corrupt file?)");
    std::vector<V> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_int(int64_t x) {
    V v = make(Val::Int);
    v->i = x;
    push(v);
  }
  void long_int(uint64_t k) {
    const uint8_t* b = bytes(k);
    if (k <= 8) {
      uint64_t x = 0;
      for (size_t j = k; j-- > 0;) x = (x << 8) | b[j];
      if (k > 0 && k < 8 && (b[k - 1] & 0x80)) x |= ~uint64_t{0} << (8 * k);  // sign-extend
      push_int(static_cast<int64_t>(x));
    } else {
      V v = make(Val::BigInt);
      v->s.assign(reinterpret_cast<const char*>(b), k);
      push(v);
    }
  }
  void push_str(uint64_t k) {
    V v = make(Val::Str);
    const uint8_t* b = bytes(k);
    v->s.assign(reinterpret_cast<const char*>(b), k);
    push(v);
  }
  static V tuple_from(std::vector<V> items) {
    V t = make(Val::Tuple);
    t->items = std::move(items);
    return t;
  }
  V list_at_top(size_t at) const {
    const V& l = top(at);
    if (l->kind != Val::List) fail(at, "APPEND to " + describe(l));
    return l;
  }
  V dict_at_top(size_t at) const {
    const V& d = top(at);
    if (d->kind != Val::Dict) fail(at, "SETITEM on " + describe(d));
    return d;
  }
  void set_items(const V& d, const std::vector<V>& kv, size_t at) const {
    if (kv.size() % 2) fail(at, "odd number of dict items");
    for (size_t k = 0; k < kv.size(); k += 2) {
      bool replaced = false;
      if (kv[k]->kind == Val::Str) {
        for (auto& e : d->entries) {
          if (e.first->kind == Val::Str && e.first->s == kv[k]->s) {
            e.second = kv[k + 1];
            replaced = true;
            break;
          }
        }
      }
      if (!replaced) d->entries.emplace_back(kv[k], kv[k + 1]);
    }
  }
  void memo_put(uint64_t k, size_t at) {
    if (k > (1u << 28)) fail(at, "memo index out of range");
    if (memo_.size() <= k) memo_.resize(k + 1);
    memo_[k] = top(at);
  }
  V memo_get(uint64_t k, size_t at) const {
    if (k >= memo_.size() || !memo_[k]) fail(at, "memo entry " + std::to_string(k) + " was never stored");
    return memo_[k];
  }
  static std::vector<int64_t> ints(const V& v, const char* what, size_t at, const Unpickler& self) {
    if (v->kind != Val::Tuple && v->kind != Val::List) self.fail(at, std::string(what) + " is " + describe(v) + ", not a tuple");
    std::vector<int64_t> out;
    for (const V& x : v->items) {
      if (x->kind != Val::Int) self.fail(at, std::string(what) + " holds " + describe(x));
      out.push_back(x->i);
    }
    return out;
  }

  /** Calls `fn(*args)` for the few functions torch.save's pickles call; anything else becomes an inert object. */
  V reduce(const V& fn, const V& args, size_t at) const {
    if (fn->kind != Val::Global) {
      V o = make(Val::Object);
      o->s = "?";
      o->s2 = "?";
      return o;
    }
    const std::string& m = fn->s;
    const std::string& f = fn->s2;
    const std::vector<V>& a = args->items;
    if (m == "collections" && f == "OrderedDict") {
      V d = make(Val::Dict);
      if (args->kind == Val::Tuple && !a.empty() && a[0]->kind == Val::List) {  // OrderedDict([(k, v), ...])
        for (const V& kv : a[0]->items) {
          if (kv->kind == Val::Tuple && kv->items.size() == 2) set_items(d, {kv->items[0], kv->items[1]}, at);
        }
      }
      return d;
    }
    if (m == "torch._utils" && (f == "_rebuild_tensor_v2" || f == "_rebuild_tensor")) {
      if (args->kind != Val::Tuple || a.size() < 4) fail(at, f + " with unexpected arguments");
      if (a[0]->kind != Val::Storage) fail(at, f + " of " + describe(a[0]) + ", not a storage");
      if (a[1]->kind != Val::Int) fail(at, f + ": storage offset is " + describe(a[1]));
      V t = make(Val::Tensor);
      t->storage = a[0]->storage;
      t->offset = a[1]->i;
      t->size = ints(a[2], "tensor size", at, *this);
      t->stride = ints(a[3], "tensor stride", at, *this);
      if (t->size.size() != t->stride.size()) fail(at, "tensor size and stride differ in rank");
      return t;
    }
    if (m == "torch._utils" && (f == "_rebuild_parameter" || f == "_rebuild_parameter_with_state")) {
      if (args->kind != Val::Tuple || a.empty() || a[0]->kind != Val::Tensor) fail(at, f + " without a tensor");
      return a[0];
    }
    if (m == "torch._tensor" && f == "_rebuild_from_type_v2") {  // (func, type, args, state): a tensor subclass
      if (args->kind != Val::Tuple || a.size() < 3) fail(at, f + " with unexpected arguments");
      return reduce(a[0], a[2], at);
    }
    V o = make(Val::Object);
    o->s = m;
    o->s2 = f;
    return o;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  Persistent persistent_;
  std::vector<V> stack_;
  std::vector<size_t> marks_;
  std::vector<V> memo_;
};

/** torch.save's persistent id of a storage: ('storage', torch.<T>Storage, key, location, numel[, view_metadata]). */
std::shared_ptr<StorageRef> storage_of(const V& pid, std::map<std::string, std::shared_ptr<StorageRef>>& storages) {
  if (pid->kind != Val::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Val::Str || pid->items[0]->s != "storage") {
    throw LoadError("unsupported persistent id (" + describe(pid) + "): not a tensor storage of torch.save");
  }
  const auto& it = pid->items;
  if (it[1]->kind != Val::Global || it[1]->s != "torch") throw LoadError("storage type is " + describe(it[1]));
  if (it[2]->kind != Val::Str) throw LoadError("storage key is " + describe(it[2]));
  if (it[4]->kind != Val::Int || it[4]->i < 0) throw LoadError("storage size is " + describe(it[4]));
  if (it.size() > 5 && it[5]->kind != Val::None) throw LoadError("storage views (legacy view_metadata) are not supported");
  auto& ref = storages[it[2]->s];
  if (!ref) {
    ref = std::make_shared<StorageRef>();
    ref->key = it[2]->s;
    ref->dtype = storage_dtype(it[1]->s2);
    ref->numel = it[4]->i;
  }
  return ref;
}

/** A storage's elements, copied out of its `nbytes` bytes (a record's size is what Python's torch.load trusts too). */
at::Tensor storage_tensor(const StorageRef& s, const void* bytes, size_t nbytes) {
  const size_t elem = c10::elementSize(s.dtype);
  if (nbytes % elem) throw LoadError("storage " + s.key + " holds " + std::to_string(nbytes) + " bytes, not a whole number of " + dtype_name(s.dtype) + " elements");
  const int64_t numel = static_cast<int64_t>(nbytes / elem);
  at::Tensor t = at::empty({numel}, at::TensorOptions().dtype(s.dtype));
  if (numel) std::memcpy(t.data_ptr(), bytes, nbytes);
  return t;
}

/** The tensor a pickled tensor describes, as contiguous float32 (bounds checked against its storage). */
at::Tensor materialise(const Val& t, const std::string& name) {
  const StorageRef& s = *t.storage;
  if (!s.data.defined()) throw LoadError("tensor '" + name + "': storage " + s.key + " is missing from the file");
  int64_t last = t.offset, numel = 1;
  for (size_t d = 0; d < t.size.size(); ++d) {
    if (t.size[d] < 0 || t.stride[d] < 0) throw LoadError("tensor '" + name + "': negative size or stride");
    numel *= t.size[d];
    if (t.size[d] > 0) last += (t.size[d] - 1) * t.stride[d];
  }
  if (numel > 0 && (t.offset < 0 || last >= s.data.numel())) throw LoadError("tensor '" + name + "' reaches past its storage (corrupt file?)");
  at::Tensor v = numel > 0 ? s.data.as_strided(t.size, t.stride, t.offset) : at::empty(t.size, at::TensorOptions().dtype(s.dtype));
  return v.to(at::kFloat).contiguous();
}

/** Reads a whole file (the legacy format is parsed from memory). */
std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LoadError("cannot open the file");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/** The zip format (PyTorch >= 1.6): data.pkl and one record per storage, read by libtorch's PyTorchStreamReader. */
V load_zip(const std::string& path, std::map<std::string, std::shared_ptr<StorageRef>>& storages) {
  caffe2::serialize::PyTorchStreamReader reader(path);
  if (!reader.hasRecord("data.pkl")) throw LoadError("a zip archive without data.pkl (a TorchScript module or another zip file, not a torch.save file)");
  if (reader.hasRecord("byteorder")) {
    auto bo = reader.getRecord("byteorder");
    std::string order(static_cast<const char*>(std::get<0>(bo).get()), std::get<1>(bo));
    if (order != "little") throw LoadError("tensors stored " + order + "-endian; only little-endian files are supported");
  }
  auto pkl = reader.getRecord("data.pkl");
  Unpickler u(static_cast<const uint8_t*>(std::get<0>(pkl).get()), std::get<1>(pkl), [&](const V& pid) { return storage_of(pid, storages); });
  V root = u.load();
  for (auto& kv : storages) {
    const std::string rec = "data/" + kv.first;
    if (!reader.hasRecord(rec)) continue;  // reported when a tensor needs it
    auto r = reader.getRecord(rec);
    kv.second->data = storage_tensor(*kv.second, std::get<0>(r).get(), std::get<1>(r));
  }
  return root;
}

/** The legacy format: pickles of a magic number, a protocol version and system info, the object, the storage keys; then per key its element count (int64) and raw elements. */
V load_legacy(const std::vector<uint8_t>& buf, std::map<std::string, std::shared_ptr<StorageRef>>& storages) {
  static const uint8_t magic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};  // 0x1950a86a20f9469cfc6c
  Unpickler u(buf.data(), buf.size(), [&](const V& pid) { return storage_of(pid, storages); });
  V m = u.load();
  if (m->kind != Val::BigInt || m->s != std::string(reinterpret_cast<const char*>(magic), sizeof magic)) {
    throw LoadError("a pickle but not a torch.save file (no torch magic number)");
  }
  V protocol = u.load();
  if (protocol->kind != Val::Int || protocol->i != 1001) throw LoadError("legacy torch.save protocol " + describe(protocol) + " is not supported");
  u.load();  // system info: byte order and type sizes of the writer
  V root = u.load();
  V keys = u.load();
  if (keys->kind != Val::List) throw LoadError("legacy storage key list is " + describe(keys));
  size_t pos = u.pos();
  for (const V& k : keys->items) {
    if (k->kind != Val::Str) throw LoadError("legacy storage key is " + describe(k));
    auto it = storages.find(k->s);
    if (it == storages.end()) throw LoadError("legacy storage " + k->s + " is not referenced by any tensor");
    if (buf.size() - pos < 8) throw LoadError("storage " + k->s + " is truncated");
    int64_t numel = 0;
    std::memcpy(&numel, buf.data() + pos, 8);
    pos += 8;
    const size_t nbytes = static_cast<size_t>(numel) * c10::elementSize(it->second->dtype);
    if (numel < 0 || nbytes > buf.size() - pos) throw LoadError("storage " + k->s + " is truncated");
    it->second->numel = numel;
    it->second->data = storage_tensor(*it->second, buf.data() + pos, nbytes);
    pos += nbytes;
  }
  return root;
}

/** The dict of tensors in a loaded file: the root, or its 'state_dict' / 'model' entry (training checkpoints). */
const Val& tensor_dict(const V& root) {
  if (root->kind != Val::Dict) throw LoadError("holds " + describe(root) + ", not a dict of tensors (a state_dict)");
  auto all_tensors = [](const Val& d) {
    for (const auto& e : d.entries) {
      if (e.second->kind != Val::Tensor) return false;
    }
    return !d.entries.empty();
  };
  if (all_tensors(*root)) return *root;
  for (const char* wrapper : {"state_dict", "model"}) {
    for (const auto& e : root->entries) {
      if (e.first->kind == Val::Str && e.first->s == wrapper && e.second->kind == Val::Dict && all_tensors(*e.second)) return *e.second;
    }
  }
  if (root->entries.empty()) throw LoadError("holds an empty dict, not a dict of tensors (a state_dict)");
  for (const auto& e : root->entries) {
    if (e.second->kind != Val::Tensor) {
      const std::string key = e.first->kind == Val::Str ? "'" + e.first->s + "'" : describe(e.first);
      throw LoadError("entry " + key + " is " + describe(e.second) + ", not a tensor (expected a state_dict: a dict of tensors)");
    }
  }
  throw LoadError("not a dict of tensors");
}

/** loadStateDict(path) -> [{name, shape, dtype, data: Float32Array}] in the file's order. */
Napi::Value load_state_dict(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  try {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) throw LoadError(std::string("cannot read: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw LoadError("not a regular file");
    char head[4] = {0, 0, 0, 0};
    {
      std::ifstream f(path, std::ios::binary);
      if (!f) throw LoadError("cannot open the file");
      f.read(head, 4);
    }
    std::map<std::string, std::shared_ptr<StorageRef>> storages;
    V root;
    if (std::memcmp(head, "PK\x03\x04", 4) == 0) {
      root = load_zip(path, storages);
    } else if (static_cast<uint8_t>(head[0]) == 0x80) {
      root = load_legacy(read_file(path), storages);
    } else {
      throw LoadError("not a torch.save file (neither a zip archive nor a pickle)");
    }
    const Val& dict = tensor_dict(root);
    Napi::Array out = Napi::Array::New(env, dict.entries.size());
    uint32_t i = 0;
    for (const auto& e : dict.entries) {
      if (e.first->kind != Val::Str) throw LoadError("a key is " + describe(e.first) + ", not a string");
      const std::string& name = e.first->s;
      at::Tensor t = materialise(*e.second, name);
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", Napi::String::New(env, name));
      Napi::Array shape = Napi::Array::New(env, e.second->size.size());
      for (uint32_t d = 0; d < e.second->size.size(); ++d) shape.Set(d, Napi::Number::New(env, static_cast<double>(e.second->size[d])));
      o.Set("shape", shape);
      o.Set("dtype", Napi::String::New(env, dtype_name(e.second->storage->dtype)));
      const size_t n = static_cast<size_t>(t.numel());
      Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, n * sizeof(float));
      if (n) std::memcpy(buf.Data(), t.data_ptr<float>(), n * sizeof(float));
      o.Set("data", Napi::Float32Array::New(env, n, buf, 0));
      out.Set(i++, o);
    }
    return out;
  } catch (const LoadError& e) {
    throw Napi::Error::New(env, path + ": " + e.what());
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    msg = msg.substr(0, msg.find('\n'));
    throw Napi::Error::New(env, path + ": not a readable torch.save file (" + msg + ")");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, path + ": " + e.what());
  }
}

}  // namespace

void init_pickle(Napi::Env env, Napi::Object exports) { def(env, exports, "loadStateDict", load_state_dict); }

}  // namespace pwlu
