"""gpugrad.kernels.cuda_numba executed by Numba's CUDA simulator, against kernels.reference.

NUMBA_ENABLE_CUDASIM must be set before numba.cuda is first imported, so the kernels run in one
subprocess that prints, for every case, the largest error of each output relative to the
reference's magnitude; each case is then checked by its own test. The simulator spends most of
its time waiting on its per-thread barriers, so the subprocess starts when this module is
collected and runs alongside the other tests.
"""
import atexit
import json
import os
import subprocess
import sys
import textwrap

import pytest

ACTS = ["identity", "relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh"]
# (kind, act, dtype, shape): "epilogue" runs the forward + backward epilogues after a NumPy GEMM
# on an (N, out) block; "linear" runs the fused tiled GEMM forward and the whole backward on an
# (N, in, out) layer (in = 18 spans two 16-wide K tiles; no size is a multiple of a tile).
CASES = ([("epilogue", act, "float64", (7, 19)) for act in ACTS]
         + [("epilogue", act, "float32", (1, 7)) for act in ("relu", "gelu")]
         + [("linear", "gelu", "float32", (5, 18, 7)), ("linear", "leaky_relu", "float64", (7, 18, 1)),
            ("linear", "identity", "float64", (1, 5, 3)),
            # gridDim.y capped at 2: the forward epilogue's row stride covers 40 rows
            ("epilogue_capped", "gelu", "float64", (40, 19))])
TOL = {"float32": 1e-5, "float64": 1e-12}

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba import config
    assert config.ENABLE_CUDASIM, "the CUDA simulator is not on"
    from gpugrad.kernels import cuda_numba, reference

    def err(got, expected):
        if expected is None:
            return 0.0 if got is None else float("inf")
        assert got.shape == expected.shape and got.dtype == expected.dtype
        scale = max(1.0, float(np.abs(expected).max()))
        return float(np.abs(got.astype(np.float64) - expected).max() / scale)

    results = {}
    for kind, act, dtype, shape in json.loads(sys.argv[1]):
        rng = np.random.default_rng(len(results))
        def randn(*s):
            return rng.standard_normal(s).astype(dtype)
        cuda_numba.MAX_GRID_Y = 2 if kind == "epilogue_capped" else 65535
        if kind.startswith("epilogue"):
            n, m = shape
            gemm_out, b, dy = randn(n, m), randn(m), randn(n, m)
            y, z = cuda_numba.bias_act_forward(gemm_out.copy(), b, act, 0.2)
            y_ref, z_ref = reference.linear_act_forward(gemm_out, np.eye(m, dtype=dtype), b, act, 0.2)
            dz, db = cuda_numba.act_backward_bias_sum(dy, y, z, act, 0.2)
            dz_ref = reference.act_backward(dy, y_ref, z_ref, act, 0.2)
            errors = [err(y, y_ref), err(z, z_ref), err(dz, dz_ref), err(db, dz_ref.sum(0))]
        else:
            n, k, m = shape
            x, W, b, dy = randn(n, k), randn(k, m), randn(m), randn(n, m)
            y, z = cuda_numba.linear_act_forward(x, W, b, act, 0.2)
            y_ref, z_ref = reference.linear_act_forward(x, W, b, act, 0.2)
            grads = cuda_numba.linear_act_backward(dy, x.T.copy().T, W, y, z, act, 0.2)
            grads_ref = reference.linear_act_backward(dy, x, W, y_ref, z_ref, act, 0.2)
            errors = [err(y, y_ref), err(z, z_ref)] + [err(g, r) for g, r in zip(grads, grads_ref)]
        results[f"{kind}-{act}-{dtype}-{tuple(shape)}"] = errors
    print(json.dumps(results))
""")


def case_id(case):
    kind, act, dtype, shape = case
    return f"{kind}-{act}-{dtype}-{tuple(shape)}"


_SIMULATION = subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps(CASES)],
                               env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
atexit.register(_SIMULATION.kill)                   # deselected or interrupted: don't leave it


@pytest.fixture(scope="module")
def simulated():
    stdout, stderr = _SIMULATION.communicate(timeout=300)
    assert _SIMULATION.returncode == 0, stderr[-4000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_cuda_numba_kernel_under_simulator(simulated, case):
    errors = simulated[case_id(case)]
    assert max(errors) <= TOL[case[2]], errors
