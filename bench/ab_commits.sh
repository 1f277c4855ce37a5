#!/usr/bin/env bash
# Time the CPU bench of two commits against each other, alternating runs (A B A B ...), each
# run a fresh process: `bash bench/ab_commits.sh BASE_REV [ROUNDS] [OUT] [-- bench args]`.
# BASE_REV is checked out in a temporary worktree; the other side is this working tree.
# Each run writes OUT/{base,new}-N.json and .txt (the bench's own report and table).
set -euo pipefail
base_rev=${1:?usage: bench/ab_commits.sh BASE_REV [ROUNDS] [OUT] [-- bench args]}
rounds=${2:-3}
out=${3:-bench/results/ab-$(date +%F)}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--workloads W1 W2 --impls gpugrad torch --no-memory --no-plot)
top=$(git rev-parse --show-toplevel)
py=${PYTHON:-$top/.venv/bin/python}
wt=$(mktemp -d)
trap 'git -C "$top" worktree remove --force "$wt" >/dev/null 2>&1 || true' EXIT
git -C "$top" worktree add --detach "$wt" "$base_rev" >/dev/null
ln -s "$wt/kernels" "$wt/gpugrad/kernels"   # gpugrad.kernels from the same commit
mkdir -p "$out"
out=$(cd "$out" && pwd)
for r in $(seq 1 "$rounds"); do
  for side in base new; do
    src=$([ $side = base ] && echo "$wt" || echo "$top")
    tmp=$(mktemp -d)
    (cd "$tmp" && PYTHONPATH="$src" "$py" -m gpugrad bench "${args[@]}" --out "$tmp" \
      > "$out/$side-$r.txt" 2>&1) || true
    mv "$tmp"/*.json "$out/$side-$r.json" 2>/dev/null || true
    rm -rf "$tmp"
  done
done
grep -H -E "^  gpugrad " "$out"/*.txt
