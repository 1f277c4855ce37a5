"""gg.set_matmul_precision governs every product on CUDA (linear, @, tensordot, einsum, their
backward): "highest" is full float32 whatever CuPy's global compute type says, "high" is TF32.
The CPU tests check the setting itself (and its start from CUPY_TF32)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg


@pytest.mark.parametrize("env, expected", [({}, "highest"), ({"CUPY_TF32": "1"}, "high"),
                                           ({"CUPY_TF32": "0"}, "highest"),
                                           ({"CUPY_TF32": "2"}, "high"),
                                           ({"CUPY_TF32": "yes"}, "highest")])
def test_the_starting_precision_follows_cupys_switch(env, expected):
    child = dict(os.environ)
    child.pop("CUPY_TF32", None)
    child.update(env)
    out = subprocess.run([sys.executable, "-c", "import gpugrad; print(gpugrad.get_matmul_precision())"],
                         env=child, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == expected, out.stderr


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="matmul precision must be one of"):
        gg.set_matmul_precision("medium")


PRODUCTS = {
    "matmul": lambda a, b: a @ b,
    "tensordot": lambda a, b: gg.tensordot(a, b, axes=1),
    "einsum": lambda a, b: gg.einsum("ij,jk->ik", a, b),
}


@pytest.mark.cuda
@pytest.mark.real_cuda
@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_every_product_follows_the_precision_forward_and_backward(name):
    cupy = pytest.importorskip("cupy")
    from cupy._core import _routines_linalg as linalg
    rng = np.random.default_rng(1)
    a0, b0 = rng.standard_normal((256, 512)), rng.standard_normal((512, 128))
    exact = a0 @ b0
    errs = {}
    old = linalg.get_compute_type(np.dtype(np.float32))
    linalg.set_compute_type(np.dtype(np.float32), linalg.COMPUTE_TYPE_TF32)  # a global TF32
    try:
        for precision in ("highest", "high"):
            gg.set_matmul_precision(precision)
            a = gg.tensor(a0.astype(np.float32), device="cuda", requires_grad=True)
            b = gg.tensor(b0.astype(np.float32), device="cuda", requires_grad=True)
            y = PRODUCTS[name](a, b)
            y.sum().backward()
            errs[precision] = (np.linalg.norm(y.numpy() - exact) / np.linalg.norm(exact),
                               np.linalg.norm(a.grad.numpy() - b0.sum(1)) /
                               np.linalg.norm(np.broadcast_to(b0.sum(1), a0.shape)))
    finally:
        gg.set_matmul_precision("highest")
        linalg.set_compute_type(np.dtype(np.float32), old)
    assert max(errs["highest"]) < 1e-5          # full float32 despite CuPy's global TF32
    assert errs["high"][0] < 5e-3                # "high" allows TF32, still close
    if name != "einsum":  # CuPy 14's einsum may contract without TF32 even when allowed
        assert 1e-5 < errs["high"][0]            # TF32 used: visibly coarser (H200, run b)
    assert linalg.get_compute_type(np.dtype(np.float32)) == old
    del cupy
