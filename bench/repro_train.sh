#!/usr/bin/env bash
# Time the README's main job (`gpugrad train --out DIR`, digits) ROUNDS times, each a fresh
# process with the kernels already in the Numba disk cache, then once per round with an empty
# cache (NUMBA_CACHE_DIR=fresh temp dir: the first run in a fresh checkout).
# `bash bench/repro_train.sh OUT [ROUNDS]` writes OUT/train-{warm,cold}-N.{time,log,metrics.json}.
set -euo pipefail
out=${1:?usage: bench/repro_train.sh OUT [ROUNDS]}
rounds=${2:-3}
top=$(git rev-parse --show-toplevel)
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for kind in warm cold; do
    run=$(mktemp -d); cache=$(mktemp -d)
    bash "$top/bench/wait_idle.sh"
    env_args=(); [ "$kind" = cold ] && env_args=(NUMBA_CACHE_DIR="$cache")
    cat /proc/loadavg > "$out/train-$kind-$r.time"
    env "${env_args[@]}" /usr/bin/time -f "wall_s %e user_s %U sys_s %S maxrss_kb %M" \
      -a -o "$out/train-$kind-$r.time" \
      "$top/.venv/bin/gpugrad" train --out "$run/digits" --no-progress > "$out/train-$kind-$r.log" 2>&1
    cp "$run/digits/metrics.json" "$out/train-$kind-$r.metrics.json"
    rm -rf "$run" "$cache"
  done
done
