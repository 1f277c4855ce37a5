"""Training under autocast: 200 steps in bfloat16 / float16 (with GradScaler) track the
float32 loss curve, with float32 master weights; ``gpugrad train --precision``."""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.amp import precision_setup

pytest.importorskip("ml_dtypes")

STEPS = 200
# the 16-bit curve, averaged over windows of 20 steps, stays within this fraction of the
# float32 curve's (bfloat16 keeps 8 significant bits, float16 11)
TOLERANCE = {"bf16": 0.1, "fp16": 0.05}  # relative, plus 0.01 absolute


def _curve(precision, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    X = rng.standard_normal((512, 20)).astype(np.float32)
    W = rng.standard_normal((20, 4)).astype(np.float32)
    y = (X @ W + 0.3 * rng.standard_normal((512, 4))).argmax(1)
    gg.manual_seed(0)
    net = gg.nn.MLP([20, 64, 4])
    opt = gg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    prec = precision_setup(precision)
    losses = []
    with prec:
        for step in range(STEPS):
            idx = slice((step * 32) % 512, (step * 32) % 512 + 32)
            opt.zero_grad()
            with prec.autocast():
                loss = gg.cross_entropy(net(gg.tensor(X[idx])), gg.tensor(y[idx]))
            prec.backward(loss)
            prec.step(opt)
            losses.append(loss.item())
    return np.array(losses), net


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_200_steps_track_the_fp32_curve(precision):
    ref, _ = _curve("fp32")
    got, net = _curve(precision)
    assert np.isfinite(got).all()
    assert all(p.dtype == np.float32 for p in net.parameters())   # master weights
    win_ref, win_got = ref.reshape(-1, 20).mean(1), got.reshape(-1, 20).mean(1)
    assert win_ref[-1] < 0.5 * win_ref[0]                          # it learned
    np.testing.assert_allclose(win_got, win_ref, rtol=TOLERANCE[precision], atol=0.01)
    assert not np.array_equal(got, ref)                            # 16 bits really ran


def test_precision_setup_errors():
    with pytest.raises(ValueError, match="expected one of"):
        precision_setup("fp8")
    assert precision_setup("bf16", "cuda").dtype.name == "bfloat16"   # bf16 runs on CUDA too


def test_tf32_sets_and_restores_the_matmul_precision():
    assert gg.get_matmul_precision() == "highest"
    with precision_setup("tf32"):
        assert gg.get_matmul_precision() == "high"
    assert gg.get_matmul_precision() == "highest"


def test_train_cli_precision_bf16(tmp_path):
    from gpugrad.tools.train import fit
    from gpugrad.tools.train.config import TrainConfig

    cfg = TrainConfig(precision="bf16", epochs=1, hidden=[32], quiet=True, plot=False,
                      out=str(tmp_path))
    rows = []
    fit(cfg, log=lambda msg: None, on_epoch_end=rows.append)
    assert rows and rows[-1]["test_accuracy"] > 0.5
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="fp8").validate()
