#!/usr/bin/env bash
# pwlu against PyTorch 2.14 (Debian unstable's python3-torch) on the same libtorch, on this machine, in one run: see --help.
set -euo pipefail
{

usage() {
  cat <<'USAGE'
Usage: scripts/bench/vs-pytorch.sh [options]

Runs pwlu and PyTorch 2.14 side by side in the Debian unstable root (scripts/compat/debian-root.sh sid, with
python3-torch and python3-torchvision added), where pwlu's addon is built against the same libtorch 2.14:

  synthetic   per workload, --pairs rounds of: `pwlu speed`, then ../shared/bench/pytorch_reference.py in each PyTorch
              mode (eager channels_last, eager contiguous, torch.compile); ratios are medians of per-pair ratios, against
              the faster eager mode per metric ("PyTorch at its best") and against torch.compile
              (scripts/speed-vs-pytorch.mjs --pytorch-modes; the reference through
              scripts/bench/pytorch_reference_outofplace.py, which makes its in-place modules out-of-place)
  quickstart  the real recipe end to end, --pairs rounds of: `pwlu train --config configs/quickstart.yaml`, then
              scripts/bench/quickstart_pytorch.py (the same recipe in plain PyTorch) in each eager memory format; training
              img/s as each reports it, and wall time of the whole command

Both sides use 2 threads. Raw JSON lines are appended to --out (in this checkout, with the commit and the time).

Options:
  --parts "P..."      synthetic, quickstart or both (default: "synthetic quickstart")
  --workloads "W..."  ARCH@SIZExBATCH (default: "resnet20@32x64 resnet18@224x16 resnet50@224x16 mobilenet_v2@224x16
                      mobilenet_v3_large@224x16 efficientnet_b0@224x16")
  --modes LIST        PyTorch modes for synthetic (default: channels_last,contiguous,compile)
  --qs-formats "F..." PyTorch's eager memory formats for quickstart (default: "contiguous channels_last")
  --pairs N           alternating rounds (default 3)
  --out FILE          (default: results/measurements/vs-pytorch-2.14.jsonl)
  -h, --help          this text

Needs root (the Debian root). Hours for the whole grid: stop background grids first, the machine must be idle.
USAGE
}

parts="synthetic quickstart"
workloads="resnet20@32x64 resnet18@224x16 resnet50@224x16 mobilenet_v2@224x16 mobilenet_v3_large@224x16 efficientnet_b0@224x16"
modes=channels_last,contiguous,compile
qs_formats="contiguous channels_last"
pairs=3
out=results/measurements/vs-pytorch-2.14.jsonl
inside=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --parts) parts="$2"; shift 2 ;;
    --workloads) workloads="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --qs-formats) qs_formats="$2"; shift 2 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --inside) inside=1; shift ;;
    *) echo "vs-pytorch: unknown option '$1' (see --help)" >&2; exit 1 ;;
  esac
done
case "$pairs" in '' | *[!0-9]* | 0) echo "vs-pytorch: --pairs must be a positive integer (got '$pairs')" >&2; exit 1 ;; esac
for p in $parts; do
  case "$p" in synthetic | quickstart) ;; *) echo "vs-pytorch: unknown part '$p' (synthetic, quickstart)" >&2; exit 1 ;; esac
done

repo="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "$inside" = 0 ]; then
  # On the host: run this script inside the sid root, then bring its lines back to this checkout's --out.
  cache="${PWLU_ROOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pwlu/debian-roots}"
  inner="results/measurements/.vs-pytorch-inner.jsonl"
  rm -f "$cache/sid/work/pwlu/$inner"
  "$repo/scripts/compat/debian-root.sh" sid --extra "python3-torch python3-torchvision" --reuse -- \
    bash scripts/bench/vs-pytorch.sh --inside --parts "$parts" --workloads "$workloads" --modes "$modes" --qs-formats "$qs_formats" --pairs "$pairs" --out "$inner"
  mkdir -p "$(dirname "$repo/$out")"
  cat "$cache/sid/work/pwlu/$inner" >>"$repo/$out"
  echo "vs-pytorch: $(wc -l <"$cache/sid/work/pwlu/$inner") lines appended to $out"
  exit 0
fi

# Inside the root, in its checkout of the current commit.
cd "$repo"
npm run build >/dev/null
commit=$(cut -c1-7 .pwlu-rev 2>/dev/null || git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$(dirname "$out")"
stamp() { node -e 'const l=JSON.parse(process.argv[1]); console.log(JSON.stringify({...l, commit: process.argv[2], machine: process.argv[3]}))' "$1" "$commit" "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"; }

if [[ " $parts " == *" synthetic "* ]]; then
  # The reference with in-place modules made out-of-place: with --act relu its MobileNet-V3 fails otherwise (see the file).
  export PWLU_PYTORCH_REFERENCE="${PWLU_PYTORCH_REFERENCE:-$repo/scripts/bench/pytorch_reference_outofplace.py}"
  for w in $workloads; do
    arch=${w%@*}; rest=${w#*@}; size=${rest%x*}; batch=${rest#*x}
    tmp=$(mktemp)
    node scripts/speed-vs-pytorch.mjs --arch "$arch" --size "$size" --batch "$batch" --threads 2 --repeats "$pairs" \
      --pytorch-modes "$modes" --out "$tmp"
    while IFS= read -r l; do stamp "$l" >>"$out"; done <"$tmp"
    rm -f "$tmp"
  done
fi

if [[ " $parts " == *" quickstart "* ]]; then
  now() { date +%s.%N; }
  for i in $(seq 1 "$pairs"); do
    run=$(mktemp -d)/qs
    t0=$(now)
    node bin/pwlu.js train --config configs/quickstart.yaml --threads 2 --out "$run" --json >"$run.json" 2>/dev/null
    t1=$(now)
    line=$(node -e '
      const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(JSON.stringify({ part: "quickstart", pair: +process.argv[3], side: "pwlu", train_img_per_s: s.train_img_per_s,
        wall_s: +(+process.argv[2]).toFixed(1), test_top1: s.final?.top1 ?? null, backend: s.backend?.name }))' \
      "$run.json" "$(awk "BEGIN { print $t1 - $t0 }")" "$i")
    stamp "$line" >>"$out"
    echo "quickstart pair $i: pwlu $line" >&2
    for fmt in $qs_formats; do
      t0=$(now)
      j=$(python3 scripts/bench/quickstart_pytorch.py --threads 2 --memory-format "$fmt" 2>/dev/null)
      t1=$(now)
      line=$(node -e '
        const j = JSON.parse(process.argv[1]);
        console.log(JSON.stringify({ part: "quickstart", pair: +process.argv[3], side: "pytorch", ...j, wall_s: +(+process.argv[2]).toFixed(1), self_wall_s: j.wall_s }))' \
        "$j" "$(awk "BEGIN { print $t1 - $t0 }")" "$i")
      stamp "$line" >>"$out"
      echo "quickstart pair $i: pytorch $fmt $line" >&2
    done
  done
fi
}
