#!/usr/bin/env bash
set -u
mkdir -p /tmp/g && tar -xf gpu_snap.tar -C /tmp/g && cd /tmp/g
python3 -m pip install --no-build-isolation --no-deps -e . -q > $OUT/install.log 2>&1
timeout 20 python3 bench/gpu_capture_gemm_check.py > $OUT/capture_gemm.log 2>&1; echo "capture_gemm rc=$?" > $OUT/rc.txt
timeout 110 python3 -m pytest -q -p no:cacheprovider -m cuda -n 8 tests > $OUT/cuda_tests.log 2>&1; echo "cuda tests rc=$?" >> $OUT/rc.txt
timeout 60 python3 bench/gpu_feature_check.py --out $OUT/features.json --steps 200 > $OUT/features.log 2>&1; echo "features rc=$?" >> $OUT/rc.txt
timeout 60 python3 -m gpugrad bench --workloads W4 --devices cuda --impls gpugrad compiled torch gemm --quick --no-memory --no-plot --check-steps 2 --out $OUT/bench > $OUT/bench.log 2>&1; echo "bench rc=$?" >> $OUT/rc.txt
cat $OUT/capture_gemm.log | tail -6; grep -E "FAILED|passed|failed" $OUT/cuda_tests.log | tail -12; cut -c1-600 $OUT/features.log; tail -25 $OUT/bench.log; cat $OUT/rc.txt
