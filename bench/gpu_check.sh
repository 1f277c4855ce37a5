#!/usr/bin/env bash
# gpugrad's GPU check: one command on an H100/H200 machine without a package registry, within
# a time budget (default 450 s; under 8 minutes with its margins).
#
#   bash bench/gpu_check.sh [--quick] [--out DIR] [--phases "env tests kernels bench train
#                           sanitize"] [--budget SECONDS] [--python PY] [--dry-run] [--help]
#
#   --quick     smaller runs: kernel check --quick, gpugrad bench --quick, train on 200,000 samples
#   --out DIR   where everything goes (default bench/results/gpu-<device>-<date>[-N]/)
#   --phases    the phases to run, in this order whatever the order given (default: all six)
#   --budget    seconds for all phases together (default 450); each phase also has its own
#               limit, and starts with the typical time of the phases after it held back
#   --python    the interpreter (default python3, or $PYTHON)
#   --dry-run   print the commands each phase would run, with their time limits; run nothing
#
# Phases (a phase that fails or times out is recorded, and the next one runs):
#   env       nvidia-smi queries (read only: no GPU setting is ever changed), versions, where
#             CuPy finds the CUDA headers; pip install --no-build-isolation --no-deps -e .
#   tests     pytest tests/test_kernels_cuda.py, then pytest -m cuda tests (the other files)
#   kernels   bench/gpu_kernel_check.py: every kernel against a float64 NumPy reference
#   bench     python -m gpugrad bench --workloads W3 W4 layer --devices cuda (TF32 too, once
#             gpugrad bench has a precision flag)
#   train     gpugrad train on a synthetic 1,000,000 x 1024 problem, 2 epochs, and the same run
#             in PyTorch (bench/train_peer_torch.py): samples/s of each epoch
#   sanitize  compute-sanitizer --tool memcheck and --tool racecheck over bench/gpu_sanitize.py
#
# Output folder: <phase>.log (each command, its output and exit status), commands.txt (every
# command as run), env.json, kernels.json, bench/*.json, train-*/ and summary.txt (date, git
# commit, device, driver, CUDA, CuPy, torch, jax versions, one line per phase with its pass/fail
# counts). The summary is printed last. Exit status 0 when every phase passed, 1 otherwise,
# 2 for bad arguments.
set -u

PHASE_ORDER="env tests kernels bench train sanitize"
# Seconds per phase: its time limit, its typical time on an H200 (held back for the phases still
# to come, so that one phase running long cannot starve the rest), and the least worth starting.
# A phase gets min(limit, time left - typical times of the phases after it), at least its least.
declare -A CAP=([env]=90 [tests]=150 [kernels]=120 [bench]=150 [train]=210 [sanitize]=100)
declare -A CAP_QUICK=([env]=90 [tests]=120 [kernels]=75 [bench]=90 [train]=120 [sanitize]=90)
declare -A TYPICAL=([env]=25 [tests]=100 [kernels]=60 [bench]=75 [train]=120 [sanitize]=30)
declare -A TYPICAL_QUICK=([env]=25 [tests]=100 [kernels]=35 [bench]=55 [train]=60 [sanitize]=30)
declare -A MIN=([env]=20 [tests]=30 [kernels]=25 [bench]=30 [train]=40 [sanitize]=20)

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "gpu_check.sh: error: $*" >&2; exit 2; }

ORIGINAL_ARGS=$(printf ' %q' "$@")
QUICK=0 OUT="" PHASES=$PHASE_ORDER BUDGET=450 PY=${PYTHON:-python3} DRY=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) QUICK=1 ;;
        --dry-run) DRY=1 ;;
        --out|--phases|--budget|--python)
            [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"
            case $2 in -*) die "$1 needs a value, got the option '$2'" ;; esac
            case $1 in
                --out) OUT=$2 ;; --phases) PHASES=$2 ;; --budget) BUDGET=$2 ;; --python) PY=$2 ;;
            esac
            shift ;;
        --out=*) OUT=${1#*=} ;;
        --phases=*) PHASES=${1#*=} ;;
        --budget=*) BUDGET=${1#*=} ;;
        --python=*) PY=${1#*=} ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
case $BUDGET in '' | *[!0-9]*) die "--budget expects whole seconds, got '$BUDGET'" ;; esac
[ "$BUDGET" -gt 0 ] || die "--budget expects a positive number of seconds, got $BUDGET"
for p in $PHASES; do
    case " $PHASE_ORDER " in
        *" $p "*) ;;
        *) die "unknown phase '$p'; expected some of: $PHASE_ORDER" ;;
    esac
done
[ -n "${PHASES// /}" ] || die "--phases is empty; expected some of: $PHASE_ORDER"

case $OUT in /* | '') ;; *) OUT="$PWD/$OUT" ;; esac             # --out is relative to the caller
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2                                         # everything else to the checkout
START=$(date +%s)
STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
COMMAND_LINE="bash bench/gpu_check.sh$ORIGINAL_ARGS"
GIT_STATE="$(git rev-parse --short HEAD 2>/dev/null) ($(git status --porcelain 2>/dev/null \
    | wc -l) paths changed or untracked at the start)"

device_slug() {
    local name
    name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
    name=$(echo "${name:-nogpu}" | tr 'A-Z' 'a-z' \
        | sed -E 's/^nvidia //; s/[^a-z0-9]+/-/g; s/^-+|-+$//g')     # "NVIDIA H200" -> h200
    echo "${name:-nogpu}"
}
if [ -z "$OUT" ]; then
    OUT="bench/results/gpu-$(device_slug)-$(date +%F)"
    if [ -e "$OUT" ] && [ $DRY = 0 ]; then                    # never overwrite an earlier run
        n=2; while [ -e "$OUT-$n" ]; do n=$((n + 1)); done; OUT="$OUT-$n"
    fi
fi
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false

# --------------------------------------------------------------------------- running commands

DRY_SPENT=0      # --dry-run: the limits of the phases planned so far, as if each used all of it
# the clock: --dry-run freezes it at START, so its plan does not depend on when a second ticks
now() { if [ "$DRY" = 1 ]; then echo "$START"; else date +%s; fi; }
left() { echo $(( START + BUDGET - DRY_SPENT - $(now) )); }
want() { case " $PHASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
quote() { printf '%q ' "$@"; }

DEADLINE=0       # the running phase's end, in seconds since the epoch
LOG=/dev/null    # the running phase's log

# step LIMIT CMD...: run CMD with at most LIMIT seconds (less when the phase's time runs out),
# appending the command, its output and its exit status to the phase's log, and the command to
# commands.txt; returns CMD's status (124 or 137: timed out; 125: no time left to start it).
# STDIN_FROM=NAME names what the caller feeds CMD on stdin, for the record.
step() {
    local limit=$1; shift
    local until=$(( DEADLINE - $(now) ))
    [ "$limit" -gt "$until" ] && limit=$until
    local shown; shown="$(quote "$@")${STDIN_FROM:+ < $STDIN_FROM}"
    if [ $DRY = 1 ]; then
        echo "    timeout ${limit}s  $shown"
        return 0
    fi
    if [ "$limit" -lt 5 ]; then
        echo "### not run, no time left: $shown" >> "$LOG"
        return 125
    fi
    echo "$(date -u +%T)  [limit ${limit}s]  $shown" >> "$OUT/commands.txt"
    printf '\n### %s  (limit %ss)\n' "$shown" "$limit" >> "$LOG"
    local t0; t0=$(date +%s)
    timeout -k 10 "$limit" "$@" >> "$LOG" 2>&1
    local rc=$?
    printf '### exit %s after %ss%s\n' "$rc" "$(( $(date +%s) - t0 ))" \
        "$( [ $rc = 124 ] || [ $rc = 137 ] && echo ' (TIMED OUT)')" >> "$LOG"
    return $rc
}

# py_module NAME: whether $PY can import NAME (assumed yes under --dry-run, which runs nothing)
py_module() { [ $DRY = 1 ] || "$PY" -c "import $1" > /dev/null 2>&1; }

# --------------------------------------------------------------------------- summary helpers

SUMMARY_LINES=()

# pytest_counts LOG: "130 passed, 2 skipped" from each pytest run's last line, joined by " | "
pytest_counts() {
    local counted='[0-9]+ (passed|failed|error|errors|skipped|deselected)|no tests ran'
    grep -E "^(=+ )?($counted)" "$1" \
        | sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s.*//' | paste -sd '|' | sed 's/|/ | /g'
}

py_versions() { cat <<'EOF'
import importlib, json, os, shutil, sys
info = {"python": sys.version.split()[0], "executable": sys.executable}
for m in ("numpy", "cupy", "numba", "numba_cuda", "torch", "jax", "jaxlib", "pytest", "xdist",
          "pytest_timeout"):
    try:
        info[m] = str(getattr(importlib.import_module(m), "__version__", "installed"))
    except Exception as e:
        info[m] = f"missing ({type(e).__name__})"
try:
    import cupy as cp
    rt = cp.cuda.runtime
    p = rt.getDeviceProperties(0)
    info.update(device=p["name"].decode(), compute_capability=f"{p['major']}.{p['minor']}",
                multiprocessors=p["multiProcessorCount"], gpus=rt.getDeviceCount(),
                cuda_runtime=rt.runtimeGetVersion(), cuda_driver=rt.driverGetVersion())
    from cupy_backends.cuda.libs import nvrtc
    info["nvrtc"] = ".".join(map(str, nvrtc.getVersion()))
    info["cupy_cuda_path"] = cp.cuda.get_cuda_path()
except Exception as e:
    info["cupy_error"] = f"{type(e).__name__}: {e}"
try:   # where CuPy's NVRTC finds the CUDA headers (the wheels first, then the toolkit)
    from cuda.pathfinder import find_nvidia_header_directory
    d = find_nvidia_header_directory("cudart")
    info["cuda_headers"] = d
    info["cuda_headers_ok"] = bool(d) and os.path.exists(os.path.join(d, "cuda_runtime.h"))
except Exception as e:
    info["cuda_headers"] = f"cuda.pathfinder: {type(e).__name__}: {e}"
for tool in ("nvcc", "compute-sanitizer", "nvidia-smi"):
    info[tool] = shutil.which(tool)
try:
    import gpugrad
    info["gpugrad"] = f"{gpugrad.__version__} at {os.path.dirname(gpugrad.__file__)}"
    info["gpugrad_cuda"] = gpugrad.cuda.unavailable_reason(probe=True) or "available"
except Exception as e:
    info["gpugrad"] = f"import failed: {type(e).__name__}: {e}"
for k, v in info.items():
    print(f"{k:18s} {v}")
json.dump(info, open(sys.argv[1], "w"), indent=1)
EOF
}

py_bench_summary() { cat <<'EOF'
import glob, json, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    report = json.load(open(path))
    for e in report.get("results", []):
        times = ", ".join(f"{n} {s['median_s'] * 1e3:.2f}" for n, s in e["impls"].items())
        ratios = ", ".join(f"{k} {v:.2f}" for k, v in e.get("ratios", {}).items()
                           if k.startswith(("gpugrad/", "non_gemm")))
        print(f"{e['workload']} batch {e['batch']}, median ms: {times}; {ratios}")
    for t in report.get("targets", []):
        print(f"target {'met' if t['met'] else 'MISSED'}: {t['target']} (got {t['value']:.2f})")
EOF
}

py_train_summary() { cat <<'EOF'
import json, sys
for label, path in (("gpugrad", sys.argv[1]), ("torch", sys.argv[2])):
    try:
        epochs = json.load(open(path))["epochs"]
    except Exception as e:
        print(f"{label}: no result ({type(e).__name__})")
        continue
    print(f"{label:7s} " + "; ".join(f"epoch {r['epoch']} {r['samples_per_s']:,.0f} samples/s"
                                     for r in epochs))
EOF
}

# --------------------------------------------------------------------------- the phases
# Each phase_X runs its steps and sets RESULT (PASS or FAIL) and DETAIL (counts, one line) and
# may add indented lines to the summary with detail().

detail() { SUMMARY_LINES+=("             $*"); }

GPU_QUERY=name,driver_version,pstate,clocks.sm,clocks.max.sm,clocks.mem,memory.total,memory.used
GPU_QUERY=$GPU_QUERY,temperature.gpu,power.draw,power.limit,compute_mode,mig.mode.current

phase_env() {
    local bad=0
    step 20 nvidia-smi --query-gpu="$GPU_QUERY" --format=csv || bad=1
    step 20 nvidia-smi || bad=1
    step 120 "$PY" -m pip install --no-build-isolation --no-deps -e . || bad=1
    STDIN_FROM="py_versions (gpu_check.sh)" step 60 "$PY" - "$OUT/env.json" < <(py_versions) \
        || bad=1
    RESULT=$([ $bad = 0 ] && echo PASS || echo FAIL)
    [ $DRY = 1 ] && return
    DETAIL="install $(grep -q 'Successfully installed' "$LOG" && echo ok || echo 'see env.log')"
    DETAIL="$DETAIL; CUDA headers: $(sed -n 's/^cuda_headers  *//p' "$LOG" | head -n 1)"
}

phase_tests() {
    local bad=0 x=() t=()
    py_module xdist && x=(-n 8)
    py_module pytest_timeout && t=(--timeout 60)                    # per test
    step 60 "$PY" -m pytest -q -p no:cacheprovider "${x[@]}" "${t[@]}" -rfE --tb=short \
        tests/test_kernels_cuda.py || bad=1
    [ ${#x[@]} -gt 0 ] && x=(-n 16)                   # the whole suite: every core
    step 200 "$PY" -m pytest -q -p no:cacheprovider -m cuda "${x[@]}" "${t[@]}" -rfE --tb=line \
        tests --ignore=tests/test_kernels_cuda.py || bad=1
    RESULT=$([ $bad = 0 ] && echo PASS || echo FAIL)
    [ $DRY = 1 ] && return
    DETAIL="test_kernels_cuda.py, then -m cuda: $(pytest_counts "$LOG")"
}

phase_kernels() {
    local q=(); [ $QUICK = 1 ] && q=(--quick)
    step 150 "$PY" bench/gpu_kernel_check.py "${q[@]}" --json "$OUT/kernels.json"
    RESULT=$([ $? = 0 ] && echo PASS || echo FAIL)
    [ $DRY = 1 ] && return
    DETAIL=$(sed -n 's/^kernel check summary: //p' "$LOG" | tail -n 1)
    DETAIL=${DETAIL:-no summary line (crashed or timed out: see kernels.log)}
}

phase_bench() {
    local args=(-m gpugrad bench --workloads W3 W4 layer --devices cuda --no-memory --no-plot
                --out "$OUT/bench")
    [ $QUICK = 1 ] && args+=(--quick)
    local bad=0
    step 150 "$PY" "${args[@]}" --name fp32 || bad=1
    if grep -q -- '"--precision"' gpugrad/tools/bench/__init__.py; then
        step 150 "$PY" "${args[@]}" --precision high --name tf32 || bad=1
    elif [ $DRY = 1 ]; then
        echo "    (TF32: not measured, gpugrad bench has no precision flag)"
    fi
    RESULT=$([ $bad = 0 ] && echo PASS || echo FAIL)
    [ $DRY = 1 ] && return
    DETAIL="exit $(grep -o '^### exit [0-9]*' "$LOG" | awk '{print $3}' | paste -sd ' ')"
    grep -q "disagrees" "$LOG" && DETAIL="$DETAIL; an implementation DISAGREES (see bench.log)"
    while IFS= read -r line; do detail "$line"; done \
        < <("$PY" -c "$(py_bench_summary)" "$OUT/bench" 2>&1 | head -n 12)
    grep -q -- '"--precision"' gpugrad/tools/bench/__init__.py \
        || detail "TF32: not measured (gpugrad bench has no precision flag)"
}

phase_train() {
    local samples=1000000; [ $QUICK = 1 ] && samples=200000
    local shape=(--samples "$samples" --features 1024 --hidden 4096 4096 --classes 100 --epochs 2)
    local bad=0
    step 150 "$PY" -m gpugrad train --device cuda --dataset synthetic "${shape[@]}" \
        --no-progress --no-plot --out "$OUT/train-gpugrad" || bad=1
    step 100 "$PY" bench/train_peer_torch.py --device cuda "${shape[@]}" \
        --json "$OUT/train-torch.json" || bad=1
    RESULT=$([ $bad = 0 ] && echo PASS || echo FAIL)
    [ $DRY = 1 ] && return
    DETAIL="$samples samples (80% trained on), 1024-4096-4096-100, batch 256, 2 epochs"
    while IFS= read -r line; do detail "$line"; done \
        < <("$PY" -c "$(py_train_summary)" "$OUT/train-gpugrad/metrics.json" \
                "$OUT/train-torch.json" 2>&1)
}

phase_sanitize() {
    local cs
    cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
    if [ -z "$cs" ] && [ $DRY = 1 ]; then
        cs=compute-sanitizer
        echo "    (only where compute-sanitizer is found: PATH, /usr/local/cuda/bin)"
    elif [ -z "$cs" ]; then
        RESULT=SKIP DETAIL="compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
        echo "$DETAIL" >> "$LOG"
        return
    fi
    local bad=0
    step 90 "$PY" bench/gpu_sanitize.py || bad=1               # compiles; CuPy caches the kernels
    for tool in memcheck racecheck; do
        step 90 "$cs" --tool "$tool" --error-exitcode 3 --print-limit 20 \
            "$PY" bench/gpu_sanitize.py || bad=1
    done
    RESULT=$([ $bad = 0 ] && echo PASS || echo FAIL)
    [ $DRY = 1 ] && return
    DETAIL="$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG" | sed 's/^=* *//' | paste -sd ';' \
        | sed 's/;/; /g')"
    DETAIL=${DETAIL:-no sanitizer summary (see sanitize.log)}
}

# --------------------------------------------------------------------------- main

if [ $DRY = 1 ]; then
    echo "gpu_check.sh --dry-run: the commands each phase would run, with the time limits they"
    echo "would get if every phase before used all of its own (nothing is run)"
    echo "  output folder: $OUT   budget: ${BUDGET}s   quick: $QUICK   python: $PY"
else
    mkdir -p "$OUT" || die "cannot create $OUT"
    : > "$OUT/commands.txt"
    {
        echo "# gpugrad GPU check, $STARTED_AT, in $ROOT"
        echo "# $COMMAND_LINE"
        echo "# environment: PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false"
    } >> "$OUT/commands.txt"
    echo "gpu_check.sh: results in $OUT (budget ${BUDGET}s)"
fi

PASSED=0 FAILED=0 SKIPPED=0 INCOMPLETE=0
reserve_after() {     # the typical times of the wanted phases after $1
    local after=0 r=0 p t
    for p in $PHASE_ORDER; do
        [ "$p" = "$1" ] && { after=1; continue; }
        t=${TYPICAL[$p]}; [ $QUICK = 1 ] && t=${TYPICAL_QUICK[$p]}
        [ $after = 1 ] && want "$p" && r=$(( r + t ))
    done
    echo $r
}

for phase in $PHASE_ORDER; do
    want "$phase" || continue
    cap=${CAP[$phase]}; [ $QUICK = 1 ] && cap=${CAP_QUICK[$phase]}
    l=$(left)
    limit=$(( l - $(reserve_after "$phase") ))
    [ "$limit" -gt "$cap" ] && limit=$cap
    least=${MIN[$phase]}
    [ "$limit" -lt "$least" ] && limit=$(( l < least ? l : least ))
    if [ $DRY = 1 ]; then
        if [ "$l" -lt "$least" ]; then
            echo "  [$phase] would be skipped: ${l}s left, it needs ${least}s"
            continue
        fi
        echo "  [$phase] limit ${limit}s"
        DEADLINE=$(( $(now) + limit )) LOG=/dev/null
        "phase_$phase"
        DRY_SPENT=$(( DRY_SPENT + limit ))
        continue
    fi
    if [ "$l" -lt "$least" ]; then
        SUMMARY_LINES+=("$(printf '[%s]%*s SKIP      0s  %s' "$phase" $(( 9 - ${#phase} )) '' \
            "not started: only ${l}s of the ${BUDGET}s budget left")")
        SKIPPED=$((SKIPPED + 1)) INCOMPLETE=1
        continue
    fi
    echo ">>> [$phase] limit ${limit}s, log $OUT/$phase.log"
    LOG="$OUT/$phase.log" DEADLINE=$(( $(date +%s) + limit )) RESULT=FAIL DETAIL=""
    t0=$(date +%s)
    start_index=${#SUMMARY_LINES[@]}
    SUMMARY_LINES+=("")                                       # this phase's line, filled below
    "phase_$phase"
    elapsed=$(( $(date +%s) - t0 ))
    grep -q 'TIMED OUT' "$LOG" 2>/dev/null && RESULT="$RESULT (a step TIMED OUT)"
    SUMMARY_LINES[$start_index]=$(printf '[%s]%*s %-5s %4ss  %s' "$phase" $(( 9 - ${#phase} )) '' \
        "$RESULT" "$elapsed" "$DETAIL")
    case $RESULT in
        PASS) PASSED=$((PASSED + 1)) ;;
        SKIP) SKIPPED=$((SKIPPED + 1)) ;;
        *) FAILED=$((FAILED + 1)) ;;
    esac
    echo "    ${SUMMARY_LINES[$start_index]}"
done

[ $DRY = 1 ] && exit 0

# --------------------------------------------------------------------------- summary

v() { sed -n "s/^$1  *//p" "$OUT/env.log" 2>/dev/null | head -n 1; }
if ! want env; then                   # the versions for the header anyway (a few seconds)
    LOG="$OUT/env.log" DEADLINE=$(( $(date +%s) + 20 ))
    STDIN_FROM="py_versions (gpu_check.sh)" step 20 "$PY" - "$OUT/env.json" < <(py_versions)
fi
{
    echo "gpugrad GPU check  $STARTED_AT  $COMMAND_LINE"
    echo "git      $GIT_STATE"
    driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)
    if [ -z "$(v python)" ]; then
        echo "versions not collected (see env.log)"
    elif [ -n "$(v device)" ]; then
        echo "device   $(v device) (cc $(v compute_capability), $(v multiprocessors) SMs;" \
             "$(v gpus) GPU(s)), driver $driver"
        echo "CUDA     runtime $(v cuda_runtime), driver API $(v cuda_driver), NVRTC $(v nvrtc);" \
             "CuPy's CUDA headers: $(v cuda_headers)"
    else
        echo "device   none seen by CuPy: $(v cupy_error)"
    fi
    if [ -n "$(v python)" ]; then
        echo "python   $(v python) $(v executable)"
        echo "libs     numpy $(v numpy), cupy $(v cupy), numba $(v numba)," \
             "numba-cuda $(v numba_cuda), torch $(v torch), jax $(v jax), pytest $(v pytest)"
    fi
    echo "budget   ${BUDGET}s, used $(( $(date +%s) - START ))s; results in $OUT"
    for line in "${SUMMARY_LINES[@]}"; do echo "$line"; done
    echo "overall  $PASSED passed, $FAILED failed, $SKIPPED skipped"
} > "$OUT/summary.txt"

# the failures first, the summary last (a caller that keeps only the tail of the output sees it)
if [ -f "$OUT/kernels.log" ] && grep -q '^  FAIL ' "$OUT/kernels.log"; then
    echo; echo "#### kernel check failures (first 20; all in kernels.log)"
    grep '^  FAIL ' "$OUT/kernels.log" | head -n 20
fi
if [ -f "$OUT/tests.log" ] && grep -qE '^(FAILED|ERROR) ' "$OUT/tests.log"; then
    echo; echo "#### test failures (first 20; all in tests.log)"
    grep -E '^(FAILED|ERROR) ' "$OUT/tests.log" | head -n 20
fi
echo; echo "#### summary ($OUT/summary.txt)"
cat "$OUT/summary.txt"
[ $FAILED = 0 ] && [ $INCOMPLETE = 0 ]
