#!/usr/bin/env bash
# pwlu's speed on another Debian release against the host's build, alternating. See --help.
set -euo pipefail
# The whole script is one block, read before it runs: editing the file meanwhile cannot change a run under way.
{
usage() {
  cat <<'EOF'
Usage: scripts/compat/compare-speed.sh SUITE [--pairs N] [--out FILE] [-- SPEED_ARGS...]

Runs `pwlu speed --json` (default arguments: --arch resnet20 --size 32 --batch 64) alternately on the host and inside
the SUITE root of scripts/compat/debian-root.sh (host, root, host, root, ...), N pairs (default 3), and prints the
medians of the per-pair ratios root/host for training and inference img/s. The raw lines, each with the commit, the
date, the side and the libtorch, go to FILE (default results/stacks/measurements/speed-SUITE-<date>.jsonl). Run it on an
otherwise idle machine (stop background grids first); the host needs its own native build (npm ci).
EOF
}
suite=''
pairs=3
out=''
args=(--arch resnet20 --size 32 --batch 64)
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --pairs) pairs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --) shift; args=("$@"); break ;;
    -*) echo "compare-speed: unknown option '$1' (see --help)" >&2; exit 1 ;;
    *) suite="$1"; shift ;;
  esac
done
[ -n "$suite" ] || { echo "compare-speed: name a SUITE (trixie, sid, bookworm)" >&2; exit 1; }
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src native scripts || echo '+dirty')"
out="${out:-results/stacks/measurements/speed-$suite-$(date -u +%Y%m%d-%H%M%S).jsonl}"
mkdir -p "$(dirname "$out")"
host_version="$(node -p 'require("./native/build/libtorch.json").version')"
line() { # side libtorch pair json
  node -e 'const [side, libtorch, pair, commit, json] = process.argv.slice(1); console.log(JSON.stringify({ side, libtorch, pair: Number(pair), commit, date: new Date().toISOString(), result: JSON.parse(json) }))' "$@"
}
for ((i = 1; i <= pairs; i++)); do
  h=$(node bin/pwlu.js speed "${args[@]}" --json)
  line host "$host_version" "$i" "$commit" "$h" >>"$out"
  r=$(scripts/compat/debian-root.sh "$suite" --reuse -- sh -c 'node bin/pwlu.js speed "$@" --json && node -p "require(\"./native/build/libtorch.json\").version" >&2' sh "${args[@]}" 2>/tmp/pwlu-compare-speed.err | tail -n1)
  root_version=$(grep -E '^[0-9]+\.[0-9]+' /tmp/pwlu-compare-speed.err | tail -n1 || echo unknown)
  line "$suite" "$root_version" "$i" "$commit" "$r" >>"$out"
  echo "pair $i: host $(echo "$h" | node -p 'JSON.parse(require("fs").readFileSync(0)).train_img_per_s') img/s train, $suite $(echo "$r" | node -p 'JSON.parse(require("fs").readFileSync(0)).train_img_per_s')" >&2
done
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { median as med } from "./dist/util/median.js";
  const lines = readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const pairs = [...new Set(lines.map((l) => l.pair))];
  const get = (side, p) => lines.find((l) => l.pair === p && (side === "host" ? l.side === "host" : l.side !== "host"));
  const ratios = (k) => pairs.map((p) => get("root", p).result[k] / get("host", p).result[k]);
  const h = get("host", pairs[0]), r = get("root", pairs[0]);
  console.log(`${r.side} (libtorch ${r.libtorch}) / host (libtorch ${h.libtorch}), ${pairs.length} pairs: train ${med(ratios("train_img_per_s")).toFixed(3)}x, inference ${med(ratios("infer_img_per_s")).toFixed(3)}x (medians of per-pair ratios; raw lines: ${process.argv[1]})`);
' "$out"
exit
}
