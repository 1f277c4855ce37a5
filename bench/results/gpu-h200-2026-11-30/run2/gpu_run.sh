#!/usr/bin/env bash
# One device call: the smoke check, profiles of the host side, then `gpugrad train` on CUDA
# against the same run in PyTorch (2 epochs each).
set -u
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg XLA_PYTHON_CLIENT_PREALLOCATE=false
FINAL=$OUT; L=/tmp/gglogs; mkdir -p $L
OUT=$L SMOKE_BUDGET=${SMOKE_BUDGET:-195} SMOKE_TORCH=1 SMOKE_PHASES="${SMOKE_PHASES:-env ktests check perf bench sanitize suite}" \
  bash gpu_smoke.sh > $L/smoke_stdout.log 2>&1
( timeout 40 python3 bench/profile_step.py W4 --device cuda --steps 200 --top 40
  timeout 30 python3 bench/profile_step.py W4 --device cuda --impl torch --steps 200 --top 5 | head -3 ) > $L/profile_w4.log 2>&1
timeout 60 python3 -m cProfile -s tottime -m gpugrad train --device cuda --dataset synthetic --samples 200000 --features 1024 --hidden 4096 4096 --classes 100 --epochs 1 --no-progress --no-plot --out /tmp/trp 2>&1 | head -70 > $L/profile_train.log
T="--dataset synthetic --samples 1000000 --features 1024 --hidden 4096 4096 --classes 100 --epochs 2"
timeout 110 python3 -m gpugrad train --device cuda $T --no-progress --no-plot --out /tmp/tr > $L/train_gpugrad.log 2>&1; echo "rc=$?" >> $L/train_gpugrad.log
cp /tmp/tr/metrics.json $L/train_gpugrad_metrics.json 2>/dev/null
timeout 80 python3 bench/train_peer_torch.py --device cuda --samples 1000000 --features 1024 --hidden 4096 4096 --classes 100 --epochs 2 --json $L/train_torch.json > $L/train_torch.log 2>&1; echo "rc=$?" >> $L/train_torch.log
cp -r /tmp/gg-smoke.*/bench $L/benchjson 2>/dev/null
nvidia-smi > $L/nvidia-smi.txt 2>&1
tar czf $FINAL/logs.tgz -C $L .
tail -c 7000 $L/smoke_stdout.log; echo; echo "#### profile"; head -30 $L/profile_w4.log; tail -3 $L/profile_w4.log; head -25 $L/profile_train.log
echo "#### train"; tail -5 $L/train_gpugrad.log; tail -4 $L/train_torch.log
