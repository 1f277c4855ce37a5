#!/usr/bin/env bash
# Repeat the CPU bench with the default settle and with --settle 0, alternating, each run a
# fresh process: `bash bench/repro_bench.sh OUT [ROUNDS]`. Writes OUT/settle{1,0}-N.{json,txt}.
set -euo pipefail
out=${1:?usage: bench/repro_bench.sh OUT [ROUNDS]}
rounds=${2:-3}
top=$(git rev-parse --show-toplevel)
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for s in 1 0; do
    extra=(); [ "$s" = 0 ] && extra=(--settle 0)
    bash "$top/bench/wait_idle.sh"
    "$top/.venv/bin/gpugrad" bench --workloads W1 W2 --no-memory --no-plot "${extra[@]}" \
      --out "$out" --name "settle$s-$r" > "$out/settle$s-$r.txt" 2>&1
  done
done
