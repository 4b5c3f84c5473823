{
  # Include/library paths come from scripts/build-native.mjs through the environment
  # (PWLU_TORCH_INCLUDES, PWLU_TORCH_LIBDIR, PWLU_TORCH_LIBS, PWLU_TORCH_DEFINES, and PWLU_CXX_STD: c++20 for
  # libtorch headers that demand it, else c++17); it also writes
  # build/jpeg_config.h (whether libjpeg-turbo is there) and adds -ljpeg to PWLU_TORCH_LIBS when it is.
  # -Wno-maybe-uninitialized: g++ reports false ones inside headers that are not ours once inlined into our kernels:
  # g++ 12 in avx512fintrin.h (libtorch 1.13's vectorised loops), g++ 14 in c10::SmallVector (libtorch 2.6).
  "targets": [
    {
      "target_name": "pwlu_torch",
      "sources": [
        "src/addon.cc",
        "src/dist.cc",
        "src/ops_elementwise.cc",
        "src/ops_jpeg.cc",
        "src/ops_nn.cc",
        "src/ops_optim.cc",
        "src/ops_pau_apl.cc",
        "src/ops_pickle.cc",
        "src/ops_pwlu.cc",
        "src/ops_shape.cc",
        "src/ops_swish_prelu.cc"
      ],
      "include_dirs": ["build", "<!@(node -p \"process.env.PWLU_TORCH_INCLUDES || ''\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_CPP_EXCEPTIONS",
        "<!@(node -p \"process.env.PWLU_TORCH_DEFINES || ''\")"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=<!(node -p \"process.env.PWLU_CXX_STD || 'c++17'\")", "-O3", "-fexceptions", "-frtti", "-Wno-deprecated-declarations", "-Wno-unused-parameter", "-Wno-unused-variable", "-Wno-sign-compare", "-Wno-missing-field-initializers", "-Wno-maybe-uninitialized"],
      "libraries": [
        "-L<!(node -p \"process.env.PWLU_TORCH_LIBDIR || '/usr/lib'\")",
        "-Wl,-rpath,<!(node -p \"process.env.PWLU_TORCH_LIBDIR || '/usr/lib'\")",
        "-Wl,--no-as-needed",
        "<!@(node -p \"process.env.PWLU_TORCH_LIBS || ''\")"
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "<!(node -p \"process.env.PWLU_CXX_STD || 'c++17'\")",
        "OTHER_LDFLAGS": ["-Wl,-rpath,<!(node -p \"process.env.PWLU_TORCH_LIBDIR || '/usr/lib'\")"]
      }
    }
  ]
}
