#!/usr/bin/env bash
# The last device call (about 220 s): kernel tests, the CUDA-marked suite, the bench (float32
# W3/W4/layer with PyTorch and JAX; TF32 W3), the project's kernel check, host profiles with
# and without the direct cuBLAS call.
set -u
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false
L=/tmp/g3; mkdir -p $L; S=$(date +%s)
t() { echo "[$1] rc=$2 at $(( $(date +%s) - S ))s" >> $L/times.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.used,temperature.gpu,power.draw --format=csv > $L/nvidia-smi.txt 2>&1
python3 -m pip install -q --no-build-isolation --no-deps -e . > $L/install.log 2>&1; t install $?
timeout 35 python3 -m pytest -q -p no:cacheprovider -n 8 -rfE --tb=short tests/test_kernels_cuda.py > $L/kernels.log 2>&1; t kernel-tests $?
timeout 55 python3 -m pytest -q -p no:cacheprovider -m cuda -n 16 --timeout 40 -rfE --tb=short tests --ignore=tests/test_kernels_cuda.py --ignore=tests/test_kernels_cuda_numba.py --ignore=tests/test_kernels_nvcc.py --ignore=tests/test_fake_cuda_suite.py > $L/suite.log 2>&1; t suite $?
timeout 60 python3 -m gpugrad bench --quick --workloads W3 W4 layer --devices cuda --no-memory --no-plot --out $L/bench --name fp32 > $L/bench_fp32.log 2>&1; t bench-fp32 $?
timeout 22 python3 -m gpugrad bench --quick --workloads W3 --devices cuda --impls gpugrad torch gemm --check-steps 0 --precision high --no-memory --no-plot --out $L/bench --name tf32 > $L/bench_tf32.log 2>&1; t bench-tf32 $?
timeout 20 python3 bench/gpu_kernel_check.py --quick --no-big --json $L/kernel_check.json > $L/kernel_check.log 2>&1; t kernel-check $?
( for d in 0 1; do GPUGRAD_DIRECT_GEMM=$d timeout 8 python3 bench/profile_step.py W4 --device cuda --steps 200 --top 0 | head -1 | sed "s/^/direct_gemm=$d /"; done
  timeout 10 python3 bench/profile_step.py W4 --device cuda --steps 100 --top 18 ) > $L/profile.log 2>&1; t profile $?
tar czf $OUT/logs.tgz -C $L .
cat $L/times.txt; grep -E "passed|failed" $L/kernels.log | tail -2; grep -E "^FAILED|^ERROR" $L/kernels.log | head -15
grep -E "passed|failed" $L/suite.log | tail -1; grep -E "^FAILED|^ERROR" $L/suite.log | head -15
grep -vE "^\s*$" $L/bench_fp32.log | tail -32; grep -E "W3|gpugrad|torch|gemm|Target|met|MISS" $L/bench_tf32.log | tail -9
grep -E "summary|FAIL" $L/kernel_check.log | head -12; head -4 $L/profile.log
