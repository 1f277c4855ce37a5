#!/usr/bin/env bash
set -u
mkdir -p /tmp/g && tar -xf gpu_snap.tar -C /tmp/g && cd /tmp/g
python3 -m pip install --no-build-isolation --no-deps -e . -q > $OUT/install.log 2>&1
timeout 60 python3 -m pytest -q -p no:cacheprovider -m cuda -n 8 tests/test_compile.py tests/test_compile_keys.py tests/test_compile_replay.py tests/test_compile_grads.py tests/test_cublas_capture.py tests/test_amp_autocast.py tests/test_amp_cast_cache.py tests/test_amp_grad_scaler.py tests/test_amp_fused_copies.py tests/test_setitem_values.py tests/test_inplace_views.py tests/test_distributed.py > $OUT/cuda_tests.log 2>&1; echo "cuda tests rc=$?" > $OUT/rc.txt
timeout 45 python3 bench/gpu_feature_check.py --out $OUT/features.json --steps 100 > $OUT/features.log 2>&1; echo "features rc=$?" >> $OUT/rc.txt
grep -E "FAILED|passed|failed" $OUT/cuda_tests.log | tail -8; cut -c1-400 $OUT/features.log; cat $OUT/rc.txt
