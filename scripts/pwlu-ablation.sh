#!/usr/bin/env bash
# Runs (or continues) the committed PWLU ablation in results/pwlu-ablation: one factor at a time around the
# base config, seed by seed (all factors for seed 0 first), so a stopped run leaves complete seeds. Re-run to
# continue: finished cells are skipped, interrupted ones resume. Usage: nice -n 19 scripts/pwlu-ablation.sh [SEEDS [OUT]]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
out=${2:-results/pwlu-ablation}
for n in $(seq 1 "$seeds"); do
  for sweep in activation.pwlu.n=4,8,16,32 activation.pwlu.phase1_epochs=0,1,2 \
               activation.pwlu.realign=true,false activation.pwlu.granularity=layer,channel; do
    node bin/pwlu.js bench --config configs/fashion-mnist/pwlu-ablation.yaml --activations pwlu \
      --sweep "$sweep" --seeds "$n" --jobs 2 --out "$out"
  done
done
node bin/pwlu.js report "$out" --baseline base > /dev/null
