// The libtorch versions pwlu builds against differ in a few APIs; each difference is one named shim here, with the
// version that changed it. Supported and tested: 1.13 (Debian 12), 2.6 (Debian 13), 2.14 (Debian unstable); the
// PyTorch wheels in between take the same branches by version. Nothing else in native/src tests TORCH_VERSION_*.
#pragma once

#include <torch/version.h>

/** True when the libtorch being compiled against is major.minor or newer. */
#define PWLU_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// c10::Allocator::allocate() is const up to 2.2; PyTorch 2.3 made it non-const (pytorch/pytorch#120969).
// Use: `c10::DataPtr allocate(size_t n) PWLU_ALLOCATE_CONST override`.
#if PWLU_TORCH_AT_LEAST(2, 3)
#define PWLU_ALLOCATE_CONST
#else
#define PWLU_ALLOCATE_CONST const
#endif

// c10::Allocator::copy_data(dest, src, n) arrived with copy-on-write storage in PyTorch 2.1 and is pure virtual in
// 2.6 (the first 2.x tested here): an allocator of plain host memory implements it as a memcpy (default_copy_data).
#define PWLU_ALLOCATOR_HAS_COPY_DATA PWLU_TORCH_AT_LEAST(2, 1)

// torch.distributed: PyTorch 2.0 split c10d::ProcessGroup into a ProcessGroup front and per-device c10d::Backend
// objects; ProcessGroupGloo and ProcessGroupNCCL are Backends since then (ProcessGroups before). pwlu drives one
// backend directly, so it holds the class both versions' collectives live on.
#if PWLU_TORCH_AT_LEAST(2, 0)
#define PWLU_C10D_COLLECTIVES c10d::Backend
#else
#define PWLU_C10D_COLLECTIVES c10d::ProcessGroup
#endif

// c10d::TCPStoreOptions::useLibUV: the libuv store backend arrived in PyTorch 2.1 (off by default) and became the
// default in 2.4, but builds without libuv (Debian's 2.6) then refuse to start a store. pwlu asks for the default and
// falls back to the classic backend when the build has no libuv.
#define PWLU_TCPSTORE_HAS_LIBUV_OPTION PWLU_TORCH_AT_LEAST(2, 2)

// Not an API but a behaviour: libtorch 2.6 computes depthwise convolutions with a channel multiplier above 1 wrongly
// on channels-last input. ops_nn.cc checks that once at run time (depthwise_needs_nchw) and works around it.
