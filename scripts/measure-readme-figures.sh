#!/usr/bin/env bash
# Reproduces the README figures that have no committed raw output (the audit's §5) and appends one JSON line per
# measurement to results/measurements/<figure>.jsonl:
#   {"figure", "readme", "commit", "dirty", "date", "machine": {...}, "load_before", "command", "exit_code",
#    "seconds", "output": [every JSON line the command printed], "text": [its other lines]}
# Run it on an idle machine (nothing else on the cores: these are timings) from the repository root, after
# `npm ci && npm run build`. Figures whose raw output is already committed (results/*/cells, results/stacks/) are
# not measured here; the README points at those files.
#
# Usage: scripts/measure-readme-figures.sh [--list] [--only NAME[,NAME…]] [--heavy] [--quick] [--out DIR]
#   --list    print the figures, what they reproduce and estimated run times, and exit
#   --only    measure only these figures (names from --list)
#   --heavy   also the figures marked heavy (one-epoch trainings, the 20 000-image folder, the GPU bundle)
#   --quick   tiny settings (few steps, one repeat) to check that the script works; its lines say "quick": true
#             and are written to DIR/quick/ so they never mix with real measurements
#   --out     where the .jsonl files go (default results/measurements)
#
# Needs: the native torch backend (npm ci with libtorch-dev), Debian's python3-torch, python3-torchvision and
# python3-pil for the PyTorch references, and ../shared/bench/ (pytorch_reference.py, dataloader_reference.py,
# make_jpeg_folder.py), which lives outside this repository ($PWLU_SHARED_BENCH to point elsewhere).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=results/measurements
ONLY=""
HEAVY=0
QUICK=0
LIST=0
while [ $# -gt 0 ]; do
  case "$1" in
    --list) LIST=1 ;;
    --only) ONLY=",$2,"; shift ;;
    --heavy) HEAVY=1 ;;
    --quick) QUICK=1 ;;
    --out) OUT=$2; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "measure-readme-figures: unknown option $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done
[ "$QUICK" = 1 ] && OUT="$OUT/quick"
SHARED=${PWLU_SHARED_BENCH:-$ROOT/../shared/bench}
PWLU="node $ROOT/bin/pwlu.js"
PY=${PWLU_PYTHON:-/usr/bin/python3}
WORK=${PWLU_MEASURE_TMP:-$(mktemp -d /tmp/pwlu-measure.XXXXXX)}

# Quick mode shrinks every repeat count and step count so each figure takes seconds.
q() { if [ "$QUICK" = 1 ]; then echo "$2"; else echo "$1"; fi; }
REPEATS=$(q 3 1)

# name | README place | estimated time on the 2-core reference machine (not measured) | heavy? | what it reproduces
FIGURES=(
  "speed-vs-pytorch|README Performance, first table (470/497 … 0.94×, ±0.05 across a session)|est. 20 min|no|pwlu vs PyTorch train/infer img/s, ResNet-20, MobileNet-V2, ResNet-18, EfficientNet-B0, batch 64 at 32x32, 3 alternating runs"
  "speed-vs-pytorch-contiguous|README Performance, first table (PyTorch contiguous)|est. 3 min|no|the same with the reference in PyTorch's contiguous memory format"
  "detection-speed|README Detection (RetinaNet vs torchvision)|est. 8 min|no|RetinaNet ResNet-18 train/infer img/s vs torchvision's (shared/bench/detection_reference.py), 128 px, batch 8, 3 alternating runs"
  "act-speed-torch|README Performance, activation table (569 … 1.15×; ±0.1× between runs)|est. 3 min|no|pwlu speed --all-activations on torch, one run"
  "act-speed-pairs|README Performance (Swish 1.00×/1.09×, PWLU 1.10×/1.04×; six pairs = two runs of this figure)|est. 6 min|no|alternating relu|X single runs, 3 pairs"
  "onnx-infer|README Performance, ONNX table (4168 … 0.19×; PWLU 0.98× ReLU on torch, same runs)|est. 8 min|no|pwlu speed --onnx, 3 runs"
  "memory|README Performance, memory table (538.2 MiB, 890.5 MiB, 1.66×, 22.9/35.2 MiB)|est. 3 min|no|pwlu speed peak tensor memory, ResNet-20 28x28x1 batch 128"
  "pwlu-phase1-memory|README Performance, memory (PWLU's phase I at Swish's peak)|est. 2 min|no|pwlu train peak tensor memory over phase I and II, the comparison's ResNet-20 recipe, 20 steps an epoch, Swish and PWLU"
  "wasm-speed|README Performance, wasm table (49.0 … 2.43×; stale: before hard-swish's fused op)|est. 10 min|no|pwlu speed --all-activations on wasm"
  "data-pipeline|README Datasets (1 193/475 = 2.4x, 1 456/461 = 2.9x)|est. 6 min (+1 min to write the folder)|no|pwlu data bench vs PyTorch DataLoader, 3 alternating pairs"
  "decoder-one-worker|README Datasets (about 970 train and 1 050 eval img/s with --workers 1)|est. 2 min|no|pwlu data bench --workers 1, 3 runs"
  "ddp-speed|README Scaling out (1.01x; pairs 829/817, 821/814, 759/821; allreduce 3-4%)|est. 4 min|no|pwlu speed --nproc 2 vs one process with 2 threads, 3 alternating pairs"
  "train-data-wait|README Datasets (data wait 4.4% / 5.3%, peak RSS 1.69 GB)|est. 40 min|yes|pwlu train ResNet-18 at 64 px, 1 epoch, 1 worker, 1 thread, on the 2 000- and a 20 000-image folder"
  "quickstart-ddp|README Scaling out (92.50% in 4.0 min on 2 ranks vs 92.55% in 4.2 min)|est. 9 min|yes|the quickstart on 2 ranks and on 1 process, seed 0, one run each"
  "gpu-bundle|README GPU check (48 MiB node_modules, Node 95 MiB, 33 MiB / 63 MiB with --xz)|est. 3 min|yes|scripts/gpu-check.sh --pack sizes"
)

if [ "$LIST" = 1 ]; then
  for f in "${FIGURES[@]}"; do IFS='|' read -r name where time heavy what <<<"$f"; printf '%-20s %-8s heavy=%-3s %s\n%22s%s\n' "$name" "$time" "$heavy" "$what" "" "$where"; done
  exit 0
fi

mkdir -p "$OUT"
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$([ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo true || echo false)
MACHINE=$(node -e '
const os = require("os");
console.log(JSON.stringify({ host: os.hostname(), cpus: os.cpus().length, cpu: (os.cpus()[0] || {}).model || "?", mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1), os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.version }));')

wanted() {
  local name=$1 heavy=$2
  if [ -n "$ONLY" ]; then [[ "$ONLY" == *",$name,"* ]]; return; fi
  [ "$heavy" = no ] || [ "$HEAVY" = 1 ]
}

# measure FIGURE README-PLACE COMMAND…: runs the command, appends its JSON line to $OUT/FIGURE.jsonl.
measure() {
  local figure=$1 where=$2; shift 2
  local log="$WORK/$figure.$$.out" start end rc
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
  echo "== $figure: $*" >&2
  start=$(date +%s.%N)
  set +e
  "$@" >"$log" 2>"$log.err"
  rc=$?
  set -e
  end=$(date +%s.%N)
  [ $rc = 0 ] || { echo "   exit $rc; stderr tail:" >&2; tail -n 5 "$log.err" >&2; }
  FIG="$figure" WHERE="$where" CMD="$*" RC=$rc START=$start END=$end LOAD="$load" COMMIT="$COMMIT" DIRTY="$DIRTY" MACHINE="$MACHINE" QUICK="$QUICK" \
    node -e '
const fs = require("fs");
const e = process.env;
const lines = fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.trim());
const output = [], text = [];
for (const l of lines) { try { const v = JSON.parse(l); if (v && typeof v === "object") { output.push(v); continue; } } catch {} text.push(l); }
const rec = { figure: e.FIG, readme: e.WHERE, commit: e.COMMIT, dirty: e.DIRTY === "true", date: new Date(Math.round(+e.START * 1000)).toISOString(),
  machine: JSON.parse(e.MACHINE), load_before: e.LOAD, command: e.CMD, exit_code: +e.RC, seconds: +(+e.END - +e.START).toFixed(1),
  ...(e.QUICK === "1" ? { quick: true } : {}), output, text };
fs.appendFileSync(`${process.argv[2]}/${e.FIG}.jsonl`, JSON.stringify(rec) + "\n");' "$log" "$OUT"
}

ARCHS="resnet20,mobilenet_v2,resnet18,efficientnet_b0"
[ "$QUICK" = 1 ] && ARCHS=resnet20
ACTS="relu swish hardswish prelu apl pau frelu pwlu"

if wanted speed-vs-pytorch no; then
  measure speed-vs-pytorch "README Performance, first table" \
    node scripts/speed-vs-pytorch.mjs --arch "$ARCHS" --repeats "$REPEATS" --threads 2 --json
fi

if wanted detection-speed no; then
  measure detection-speed "README Detection (RetinaNet vs torchvision)" \
    node scripts/speed-vs-pytorch.mjs --task detection --arch resnet18 --size 128 --batch 8 --repeats "$REPEATS" --threads 2 --json
fi

if wanted speed-vs-pytorch-contiguous no; then
  measure speed-vs-pytorch-contiguous "README Performance, first table (PyTorch in its contiguous format)" \
    node scripts/speed-vs-pytorch.mjs --arch "$ARCHS" --repeats "$REPEATS" --threads 2 --memory-format contiguous --json
fi

if wanted pwlu-phase1-memory no; then
  # epoch 1 is PWLU's phase I (statistics), epoch 2 phase II; summary.json's memory is the peak over both
  for x in swish pwlu; do
    rm -rf "$WORK/phase1-$x"
    measure pwlu-phase1-memory "README Performance, memory (PWLU's phase I)" \
      $PWLU train --config results/fashion-mnist-resnet20/base-config.yaml --set activation.name="$x" --set train.epochs=2 \
      --set train.max_steps_per_epoch="$(q 20 2)" --backend torch --threads 2 --quiet --json --out "$WORK/phase1-$x"
  done
fi

if wanted act-speed-torch no; then
  measure act-speed-torch "README Performance, activation table" \
    $PWLU speed --arch resnet20 --all-activations --backend torch --steps "$(q 30 2)" --warmup "$(q 5 1)" --json
fi

if wanted act-speed-pairs no; then
  for i in $(seq "$REPEATS"); do
    for x in swish pwlu; do
      measure act-speed-pairs "README Performance (alternating pairs)" $PWLU speed --arch resnet20 --activation relu --backend torch --steps "$(q 40 2)" --warmup "$(q 5 1)" --json
      measure act-speed-pairs "README Performance (alternating pairs)" $PWLU speed --arch resnet20 --activation "$x" --backend torch --steps "$(q 40 2)" --warmup "$(q 5 1)" --json
    done
  done
fi

if wanted onnx-infer no; then
  for i in $(seq "$REPEATS"); do
    measure onnx-infer "README Performance, ONNX table" \
      $PWLU speed --arch resnet20 --size 32 --batch 64 --threads 2 --all-activations --onnx --steps "$(q 20 2)" --warmup "$(q 3 1)" --json
  done
fi

if wanted memory no; then
  measure memory "README Performance, memory table" \
    $PWLU speed --arch resnet20 --size 28 --channels 1 --classes 10 --batch 128 --all-activations --threads 1 --steps "$(q 10 2)" --warmup "$(q 3 1)" --json
fi

if wanted wasm-speed no; then
  measure wasm-speed "README Performance, wasm table" \
    $PWLU speed --arch resnet20 --all-activations --backend wasm --threads 1 --steps "$(q 5 1)" --warmup "$(q 2 1)" --json
fi

# The JPEG folder of the data figures: 10 classes, 200 train and 50 val images each (2 000 / 500), seed 0.
jpeg_folder() {
  local dir=$1 train=$2
  [ -d "$dir/train" ] || "$PY" "$SHARED/make_jpeg_folder.py" "$dir" --classes 10 --train "$train" --val 50 --seed 0 >&2
}
DATA_BATCHES=$(q 20 2)
data_bench() { $PWLU data bench --config configs/imagenet/resnet18.yaml --set "data.dir=$1" --set data.image_size=224 --set train.batch=64 --workers "$2" --batches "$DATA_BATCHES" --json; }

if wanted data-pipeline no; then
  jpeg_folder "$WORK/jpeg-2k" "$(q 200 8)"
  for i in $(seq "$REPEATS"); do
    measure data-pipeline "README Datasets (pipeline vs DataLoader)" data_bench "$WORK/jpeg-2k" 2
    measure data-pipeline "README Datasets (pipeline vs DataLoader)" "$PY" "$SHARED/dataloader_reference.py" "$WORK/jpeg-2k" --workers 2 --batch 64 --size 224 --batches "$DATA_BATCHES"
  done
fi

if wanted decoder-one-worker no; then
  jpeg_folder "$WORK/jpeg-2k" "$(q 200 8)"
  for i in $(seq "$REPEATS"); do
    measure decoder-one-worker "README Datasets (one decoding worker)" data_bench "$WORK/jpeg-2k" 1
  done
fi

if wanted ddp-speed no; then
  for i in $(seq "$REPEATS"); do
    measure ddp-speed "README Scaling out (--nproc 2)" $PWLU speed --arch resnet20 --size 32 --nproc 2 --threads 1 --batch 64 --steps "$(q 10 2)" --warmup "$(q 3 1)" --json
    measure ddp-speed "README Scaling out (one process)" $PWLU speed --arch resnet20 --size 32 --batch 128 --threads 2 --steps "$(q 10 2)" --warmup "$(q 3 1)" --json
  done
fi

# A training run's summary.json and last metrics line as the command's JSON output.
train_and_summarise() {
  local out=$1; shift
  "$@" --out "$out" >/dev/null
  cat "$out/summary.json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify(JSON.parse(s))))'
  tail -n 1 "$out/metrics.jsonl"
}

if wanted train-data-wait yes; then
  jpeg_folder "$WORK/jpeg-2k" "$(q 200 8)"
  jpeg_folder "$WORK/jpeg-20k" "$(q 2000 8)"
  for f in jpeg-2k jpeg-20k; do
    measure train-data-wait "README Datasets (data wait, peak RSS)" train_and_summarise "$WORK/run-$f-$(date +%s)" \
      $PWLU train --config configs/imagenet/resnet18.yaml --set "data.dir=$WORK/$f" --set data.image_size=64 --set data.workers=1 \
      --set train.epochs=1 --threads 1 $( [ "$QUICK" = 1 ] && echo --set train.max_steps_per_epoch=2 )
  done
fi

if wanted quickstart-ddp yes; then
  extra=$( [ "$QUICK" = 1 ] && echo "--set train.max_steps_per_epoch=2 --set train.epochs=1" )
  measure quickstart-ddp "README Scaling out (quickstart on 2 ranks)" train_and_summarise "$WORK/qs-ddp-$(date +%s)" \
    $PWLU train --config configs/quickstart.yaml --nproc 2 --set train.batch=64 $extra
  measure quickstart-ddp "README Scaling out (quickstart, one process)" train_and_summarise "$WORK/qs-one-$(date +%s)" \
    $PWLU train --config configs/quickstart.yaml $extra
fi

if wanted gpu-bundle yes; then
  bundle_sizes() {
    local dir="$WORK/bundle-$(date +%s)"
    scripts/gpu-check.sh --pack "$dir" --with-data --xz >&2
    # sizes in MiB, one JSON line each: the pruned node_modules, the Node binary, and the archive (with the data)
    for p in "$dir/pwlu/node_modules" "$dir.tar.xz"; do
      [ ! -e "$p" ] || echo "{\"path\":\"${p#"$WORK"/}\",\"mib\":$(du -sm "$p" | cut -f1)}"
    done
    find "$dir" -maxdepth 4 -type f -name node -perm -u+x | while read -r n; do echo "{\"node_binary\":\"${n#"$WORK"/}\",\"mib\":$(du -sm "$n" | cut -f1)}"; done
  }
  measure gpu-bundle "README GPU check (bundle sizes)" bundle_sizes
fi

echo "measure-readme-figures: JSON lines in $OUT/ (commit $COMMIT, dirty $DIRTY; scratch in $WORK)" >&2
