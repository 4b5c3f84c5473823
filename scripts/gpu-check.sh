#!/usr/bin/env bash
# pwlu on a CUDA machine, against that machine's own PyTorch. See `scripts/gpu-check.sh --help`.
set -euo pipefail
# The whole script is one block, read before it runs: editing the file meanwhile cannot change a run under way.
{

usage() {
  cat <<'EOF'
Usage: scripts/gpu-check.sh [--out DIR] [--pairs N] [--batch N] [--cpu-dry-run]
       scripts/gpu-check.sh --pack DIR [--with-data] [--xz]

On a CUDA machine, from a pwlu checkout (after npm ci) or from a bundle made by --pack:
  1. builds the native addon against the machine's own PyTorch (python3 -c 'import torch': its include and lib
     folders, its C++ ABI flag, CUDA and NCCL when the wheel has them);
  2. runs the torch-backend kernel tests with PWLU_TEST_DEVICE=cuda (the CUDA kernels against tfjs's CPU ones, with
     TF32 off: PWLU_TORCH_TF32=0);
  3. trains the quickstart (configs/quickstart.yaml) on CUDA;
  4. prints train and inference img/s of `pwlu speed` beside ../shared/bench/pytorch_reference.py --device cuda for
     resnet18 and resnet50 at 224 px (N alternating pairs, medians of the per-pair ratios), and the PWLU/ReLU step
     ratio of ResNet-18.
Everything it measured goes to DIR/gpu-check.jsonl (default results/gpu-check-<time>), with a summary on stdout.

  --pack DIR     on a machine with Node and npm: write DIR/pwlu, a copy of this checkout that needs neither Node nor
                 internet on the GPU machine (a Node binary, npm with its node-gyp, the node headers an addon needs,
                 and a pruned node_modules; their sizes are printed), plus DIR/shared/bench. --with-data adds Fashion-MNIST from
                 /usr/share/datasets (the quickstart's data; the GPU machine may have no internet). --xz also writes
                 DIR.tar.xz (about 33 MiB without the data, 63 MiB with it). Then copy DIR (or unpack the archive)
                 there and run DIR/pwlu/scripts/gpu-check.sh.
  --cpu-dry-run  exercise every step on the CPU with tiny sizes (no figures worth reporting): for checking the
                 script and a bundle on a machine without a GPU.
Environment: PWLU_PYTHON (the Python whose torch to use; default python3), PWLU_NODE (the node binary).
EOF
}

repo="$(cd "$(dirname "$0")/.." && pwd)"
out=''
pairs=3
batch=64
dry=0
pack=''
with_data=0
xz_archive=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --out) out="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --cpu-dry-run) dry=1; shift ;;
    --pack) pack="$2"; shift 2 ;;
    --with-data) with_data=1; shift ;;
    --xz) xz_archive=1; shift ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done

# --- --pack: a bundle for a machine without Node or internet ---------------------------------------------------
if [ -n "$pack" ]; then
  node_bin="${PWLU_NODE:-$(command -v node)}"
  [ -x "$node_bin" ] || { echo "gpu-check --pack: needs node" >&2; exit 1; }
  [ -d "$repo/node_modules" ] && [ -f "$repo/dist/cli/main.js" ] || { echo "gpu-check --pack: run npm ci first (node_modules/ and dist/ are copied)" >&2; exit 1; }
  # npm itself, for its node-gyp (whose dependencies npm hoists beside it) and as a convenience there.
  npm_dir="$(npm root -g)/npm"
  [ -f "$npm_dir/node_modules/node-gyp/bin/node-gyp.js" ] || { echo "gpu-check --pack: node-gyp not found in $npm_dir" >&2; exit 1; }
  headers="$(dirname "$(dirname "$node_bin")")/include/node"
  [ -f "$headers/node_api.h" ] || headers=/usr/include/node
  [ -f "$headers/node_api.h" ] || { echo "gpu-check --pack: node's headers (include/node/node_api.h) not found" >&2; exit 1; }
  if [ -e "$pack/pwlu" ]; then echo "gpu-check --pack: $pack/pwlu exists; choose an empty folder" >&2; exit 1; fi
  mkdir -p "$pack/pwlu/.gpu-bundle/node/bin" "$pack/pwlu/.gpu-bundle/node/include/node" "$pack/shared"
  (cd "$repo" && git archive HEAD) | tar -xf - -C "$pack/pwlu"
  cp -a "$repo/dist" "$pack/pwlu/dist"
  cp "$node_bin" "$pack/pwlu/.gpu-bundle/node/bin/node"
  # What a node-API addon needs of node's headers: the C API and node-gyp's build settings.
  cp "$headers"/{node_api.h,node_api_types.h,js_native_api.h,js_native_api_types.h,node_version.h,common.gypi,config.gypi} "$pack/pwlu/.gpu-bundle/node/include/node/"
  tar -C "$(dirname "$npm_dir")" -cf - --exclude='npm/docs' --exclude='npm/man' --exclude='*.md' npm | tar -xf - -C "$pack/pwlu/.gpu-bundle"
  # node_modules without what the GPU check never loads: onnxruntime and onnx-proto (export), sharp (image folders,
  # loaded lazily), typescript and types (dist/ is built), the wasm backend, chart.js (reports), tfjs's browser
  # bundles and its own tests, source maps and docs.
  tar -C "$repo" -cf - \
    --exclude='node_modules/onnxruntime-node' --exclude='node_modules/onnxruntime-common' --exclude='node_modules/onnx-proto' \
    --exclude='node_modules/protobufjs' --exclude='node_modules/sharp' --exclude='node_modules/@img' \
    --exclude='node_modules/typescript' --exclude='node_modules/@types' --exclude='node_modules/@tensorflow/tfjs-backend-wasm' \
    --exclude='node_modules/chart.js' --exclude='*.map' --exclude='*.md' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' \
    node_modules | tar -xf - -C "$pack/pwlu"
  # Node loads each tfjs package through its main file, one self-contained bundle (dist/tf-*.node.js); the rest of
  # dist/ (the ES module tree, browser bundles, tfjs's own tests) is for bundlers.
  find "$pack/pwlu/node_modules/@tensorflow" -path '*/dist/*' -type f ! -name 'tf-*.node.js' -delete
  find "$pack/pwlu/node_modules/@tensorflow" -path '*/dist/*' -type d -empty -delete
  cp -a "$repo/../shared/bench" "$pack/shared/bench" 2>/dev/null || echo "gpu-check --pack: ../shared/bench not found; the PyTorch reference will be missing" >&2
  if [ "$with_data" = 1 ]; then
    mkdir -p "$pack/pwlu/datasets/fashion-mnist"
    cp /usr/share/datasets/fashion-mnist/*.gz "$pack/pwlu/datasets/fashion-mnist/"
  fi
  size() { du -sm "$1" | cut -f1; }
  echo "gpu-check bundle: $pack"
  echo "  node_modules (pruned)  $(size "$pack/pwlu/node_modules") MiB"
  echo "  node binary            $(size "$pack/pwlu/.gpu-bundle/node/bin/node") MiB"
  echo "  npm (node-gyp) + node headers  $(( $(size "$pack/pwlu/.gpu-bundle") - $(size "$pack/pwlu/.gpu-bundle/node/bin/node") )) MiB"
  [ "$with_data" = 1 ] && echo "  fashion-mnist          $(size "$pack/pwlu/datasets") MiB"
  echo "  everything             $(size "$pack") MiB"
  if [ "$xz_archive" = 1 ]; then
    tar -C "$pack" -cf - pwlu shared | xz -T0 -6 >"$pack.tar.xz"
    echo "  $pack.tar.xz  $(size "$pack.tar.xz") MiB (node_modules, the Node binary and the checkout compressed)"
  fi
  echo "then, on the CUDA machine: $pack/pwlu/scripts/gpu-check.sh"
  exit 0
fi

# --- the check ------------------------------------------------------------------------------------------------
cd "$repo"
node_bin="${PWLU_NODE:-}"
[ -n "$node_bin" ] || { [ -x .gpu-bundle/node/bin/node ] && node_bin="$repo/.gpu-bundle/node/bin/node"; } || true
[ -n "$node_bin" ] || node_bin="$(command -v node || true)"
[ -n "$node_bin" ] && [ -x "$node_bin" ] || { echo "gpu-check: no node (set PWLU_NODE, or make a bundle with --pack)" >&2; exit 1; }
PATH="$(dirname "$node_bin"):$PATH"
export PATH
python="${PWLU_PYTHON:-python3}"
export PWLU_PYTHON="$python"
if [ -d .gpu-bundle/npm ]; then export PWLU_NODE_GYP="$repo/.gpu-bundle/npm/node_modules/node-gyp/bin/node-gyp.js"; fi
device=cuda
[ "$dry" = 1 ] && device=cpu
out="${out:-results/gpu-check-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
jsonl="$out/gpu-check.jsonl"
: >"$jsonl"
started=$(date +%s)
step() { echo "=== $* ($(($(date +%s) - started)) s)"; }
record() { echo "$1" >>"$jsonl"; }

step "1. PyTorch here"
torch_line=$("$python" -c 'import json, torch; print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "cxx11abi": int(torch._C._GLIBCXX_USE_CXX11_ABI)}))') || {
  echo "gpu-check: $python has no torch (set PWLU_PYTHON)" >&2
  exit 1
}
echo "$torch_line"
record "{\"step\":\"torch\",\"node\":\"$("$node_bin" --version)\",\"python\":$torch_line}"

step "2. native addon against that PyTorch"
PWLU_REQUIRE=native "$node_bin" scripts/build-native.mjs
addon=$("$node_bin" -e 'const a = require("./native/build/Release/pwlu_torch.node"); const d = a.distInfo(); console.log(JSON.stringify({ libtorch: a.version(), builtWithCuda: a.builtWithCuda(), cudaAvailable: a.cudaAvailable(), dist: d.backends }))')
echo "$addon"
record "{\"step\":\"addon\",\"addon\":$addon}"
if [ "$dry" = 0 ] && ! echo "$addon" | grep -q '"cudaAvailable":true'; then
  echo "gpu-check: the addon does not see CUDA ($addon): is this PyTorch a CUDA build, and is a GPU visible?" >&2
  exit 3
fi

step "3. torch-backend kernel tests on $device"
set +e
PWLU_TEST_DEVICE=$device PWLU_TORCH_TF32=0 PWLU_REQUIRE=native "$node_bin" node_modules/vitest/vitest.mjs run test/backends/torch- test/models/infer.test.ts 2>&1 | tee "$out/kernel-tests.log"
tests_rc=${PIPESTATUS[0]}
set -e
counts=$(sed 's/\x1b\[[0-9;]*m//g' "$out/kernel-tests.log" | grep -E '^ +Tests +' | tail -n1 | sed -E 's/^ +Tests +//')
record "{\"step\":\"kernel-tests\",\"device\":\"$device\",\"exit\":$tests_rc,\"counts\":\"$counts\"}"

step "4. quickstart on $device"
qs=(--config configs/quickstart.yaml --device "$device" --out "$out/quickstart" --json)
[ "$dry" = 1 ] && qs+=(--set data.name=synthetic --set train.epochs=1 --set train.max_steps_per_epoch=3 --set model.width=0.25)
t0=$(date +%s)
"$node_bin" bin/pwlu.js train "${qs[@]}" >"$out/quickstart.json"
wall=$(($(date +%s) - t0))
record "$("$node_bin" -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(JSON.stringify({ step: "quickstart", device: process.argv[2], wall_s: Number(process.argv[3]), top1: s.final.top1, epochs: s.epochs, status: s.status }))' "$out/quickstart.json" "$device" "$wall")"

step "5. speed beside PyTorch ($pairs alternating pairs)"
size=224
steps=20
[ "$dry" = 1 ] && { size=32; steps=2; batch=4; }
reference="$repo/../shared/bench/pytorch_reference.py"
for arch in resnet18 resnet50; do
  for ((i = 1; i <= pairs; i++)); do
    p=$("$node_bin" bin/pwlu.js speed --arch "$arch" --size "$size" --batch "$batch" --stem imagenet --device "$device" --warmup 3 --steps "$steps" --json)
    record "{\"step\":\"speed\",\"side\":\"pwlu\",\"pair\":$i,\"result\":$p}"
    if [ -f "$reference" ]; then
      if r=$("$python" "$reference" --arch "$arch" --size "$size" --batch "$batch" --device "$device" --warmup 3 --steps "$steps" 2>"$out/reference.err"); then
        record "{\"step\":\"speed\",\"side\":\"pytorch\",\"pair\":$i,\"result\":$r}"
      else
        echo "gpu-check: the PyTorch reference failed (no comparison from here on): $(tail -n1 "$out/reference.err")" >&2
        reference=''
      fi
    fi
  done
done
for ((i = 1; i <= pairs; i++)); do
  for act in relu pwlu; do
    p=$("$node_bin" bin/pwlu.js speed --arch resnet18 --size "$size" --batch "$batch" --stem imagenet --activation "$act" --device "$device" --warmup 3 --steps "$steps" --json)
    record "{\"step\":\"speed-activation\",\"activation\":\"$act\",\"pair\":$i,\"result\":$p}"
  done
done

step "summary"
"$node_bin" scripts/lib/gpu-check-summary.mjs "$jsonl" | tee "$out/summary.md"
echo "raw lines: $jsonl"
[ "$tests_rc" = 0 ] || { echo "gpu-check: kernel tests failed on $device (see $out/kernel-tests.log)" >&2; exit 1; }
exit
}
