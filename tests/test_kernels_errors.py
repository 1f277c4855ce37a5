"""Bad input to gpugrad.kernels raises a clear error naming what was expected and what came,
before anything is written; the dispatch surface never imports cupy."""
import subprocess
import sys

import numpy as np
import pytest

from gpugrad import kernels


def arrays(n=4, k=3, m=2, dtype=np.float64):
    return np.ones((n, k), dtype), np.ones((k, m), dtype), np.ones(m, dtype)


def test_unknown_activation_lists_valid_ones():
    x, W, b = arrays()
    with pytest.raises(ValueError, match="unknown activation 'swish'.*identity, relu, leaky_relu, "
                                         "gelu, gelu_tanh, silu, sigmoid, tanh"):
        kernels.linear_act_forward(x, W, b, "swish")
    for call in (lambda: kernels.act_forward(x, "Relu"),
                 lambda: kernels.act_backward(x, x, x, "elu"),
                 lambda: kernels.needs_preactivation("softplus")):
        with pytest.raises(ValueError, match="unknown activation"):
            call()


def test_shape_mismatches_name_both_shapes():
    x, W, b = arrays()
    with pytest.raises(ValueError, match=r"x of shape \(4, 3\) does not match W of shape \(4, 2\)"):
        kernels.linear_act_forward(x, np.ones((4, 2)), b)
    with pytest.raises(ValueError, match=r"expected b of shape \(2,\).*got \(3,\)"):
        kernels.linear_act_forward(x, W, np.ones(3))
    with pytest.raises(ValueError, match=r"expected 2-D x.*got x of shape \(3,\)"):
        kernels.linear_act_forward(np.ones(3), W, b)
    y, _ = kernels.linear_act_forward(x, W, b, "relu")
    with pytest.raises(ValueError, match=r"expected dy of shape \(4, 2\), got \(4, 3\)"):
        kernels.linear_act_backward(x, x, W, y, None, "relu")
    with pytest.raises(ValueError, match=r"expected grad of shape \(5,\), got \(4,\)"):
        kernels.sgd_update(np.ones(5), np.ones(4), None, lr=0.1)
    with pytest.raises(ValueError, match=r"expected out of shape \(4, 3\), got \(3, 4\)"):
        kernels.act_forward(x, "tanh", out=np.empty((3, 4)))


def test_dtype_mismatches_are_type_errors():
    x, W, b = arrays()
    with pytest.raises(TypeError, match="expected x and W of one dtype, got float64 and float32"):
        kernels.linear_act_forward(x, W.astype(np.float32), b)
    with pytest.raises(TypeError, match="expected b of dtype float64"):
        kernels.linear_act_forward(x, W, b.astype(np.float32))
    with pytest.raises(TypeError, match="floating dtype, got x of dtype int64"):
        kernels.linear_act_forward(x.astype(np.int64), W.astype(np.int64), None)
    with pytest.raises(TypeError, match="expected exp_avg of dtype float64"):
        kernels.adam_update(np.ones(3), np.ones(3), np.ones(3, np.float32), np.ones(3), step=1, lr=1)


def test_missing_saved_arrays_are_named():
    x, W, b = arrays()
    y, z = kernels.linear_act_forward(x, W, b, "gelu")
    with pytest.raises(ValueError, match="'gelu' needs z \\(the pre-activation\\), got None"):
        kernels.linear_act_backward(np.ones_like(y), x, W, y, None, "gelu")
    with pytest.raises(ValueError, match="'sigmoid' needs y"):
        kernels.act_backward(y, None, z, "sigmoid")


def test_optimizer_option_errors_leave_param_untouched():
    p = np.ones(3)
    with pytest.raises(ValueError, match="momentum=0.9 needs a momentum_buf, got None"):
        kernels.sgd_update(p, np.ones(3), None, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        kernels.sgd_update(p, np.ones(3), np.zeros(3), lr=0.1, momentum=0.9, dampening=0.1,
                           nesterov=True)
    with pytest.raises(ValueError, match="expected step to be an int >= 1.*got 0"):
        kernels.adam_update(p, np.ones(3), np.zeros(3), np.zeros(3), step=0, lr=0.1)
    with pytest.raises(ValueError, match="amsgrad=True needs max_exp_avg_sq"):
        kernels.adam_update(p, np.ones(3), np.zeros(3), np.zeros(3), step=1, lr=0.1, amsgrad=True)
    with pytest.raises(ValueError, match="expected 0 <= beta2 < 1, got 1.5"):
        kernels.adam_update(p, np.ones(3), np.zeros(3), np.zeros(3), step=1, lr=0.1, beta2=1.5)
    np.testing.assert_array_equal(p, np.ones(3))


def test_negative_leaky_slope_and_bad_precision_rejected():
    x, W, b = arrays()
    with pytest.raises(ValueError, match="negative_slope must be >= 0.*got -0.1"):
        kernels.linear_act_forward(x, W, b, "leaky_relu", negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"one of \('highest', 'high'\), got 'medium'"):
        kernels.set_matmul_precision("medium")
    kernels.set_matmul_precision("high")
    assert kernels.get_matmul_precision() == "high"
    kernels.set_matmul_precision("highest")
    assert kernels.get_matmul_precision() == "highest"


def test_mixed_devices_rejected_without_copy():
    class FakeCupy(np.ndarray):                       # looks like a cupy array to the dispatcher
        pass
    FakeCupy.__module__ = "cupy._core.core"
    x, W, b = arrays()
    with pytest.raises(TypeError, match="arrays on different devices \\(got numpy, cupy"):
        kernels.linear_act_forward(x, W.view(FakeCupy), b)


def test_import_does_not_import_cupy_or_numba_cuda():
    # load the kernels package on its own (not through gpugrad/__init__), use it on NumPy arrays
    code = ("import importlib.util, pathlib, sys, numpy as np\n"
            f"init = pathlib.Path({kernels.__file__!r})\n"
            "spec = importlib.util.spec_from_file_location(\n"
            "    'isolated_kernels', init, submodule_search_locations=[str(init.parent)])\n"
            "k = importlib.util.module_from_spec(spec); sys.modules[spec.name] = k\n"
            "spec.loader.exec_module(k)\n"
            "k.linear_act_forward(np.ones((2, 3)), np.ones((3, 4)), None, 'gelu')\n"
            "bad = [m for m in sys.modules if m.startswith(('cupy', 'numba.cuda'))]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)
