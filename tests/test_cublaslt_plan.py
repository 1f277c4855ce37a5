"""kernels/cublaslt.py on the CPU: the planning layer (which epilogue for which activation and
needs, compute types, aux shapes, plan keys and cache, fallbacks) and, on NumPy arrays through a
NumPy stand-in for nvmath-python (fake_nvmath.py), the execution layer's operand views, result
and aux layouts against kernels.reference.  cuBLASLt itself: tests/test_kernels_cuda.py."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import fake_nvmath
from gpugrad import kernels
from gpugrad.kernels import cublaslt, reference

ACTS = kernels.ACTIVATIONS


@pytest.fixture
def fake():
    fake_nvmath.reset_counters()
    cublaslt.set_nvmath(fake_nvmath)
    cublaslt.STATS.clear()
    yield fake_nvmath.counters
    cublaslt.set_nvmath()
    cublaslt.STATS.clear()
    fake_nvmath.reset_counters()


def aligned(a):
    """A C-contiguous copy of ``a`` at a 256-byte aligned address (as CuPy's pool gives): NumPy's
    own alignment varies, and the alignment is part of a plan's key."""
    raw = np.empty(a.nbytes + 256, np.uint8)
    start = -raw.ctypes.data % 256
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def layer(seed, shape, dtype, bias=True):
    rng = np.random.default_rng(seed)
    n, k, m = shape
    return (aligned(rng.standard_normal((n, k)).astype(dtype)),
            aligned((rng.standard_normal((k, m)) * k ** -0.5).astype(dtype)),
            aligned(rng.standard_normal(m).astype(dtype)) if bias else None,
            aligned(rng.standard_normal((n, m)).astype(dtype)))


TOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def close(actual, expected):
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    tol = TOL[expected.dtype]
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * max(1.0, np.abs(expected).max()))


# ------------------------------------------------------------------------------------- selection

def test_importing_it_imports_neither_cupy_nor_nvmath_and_it_is_off_by_default():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUGRAD_CUBLASLT")}
    code = ("import sys; from gpugrad.kernels import cublaslt; "
            "assert not any(m == 'cupy' or m.startswith(('cupy.', 'nvmath')) for m in sys.modules); "
            "print(cublaslt.enabled())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    env["GPUGRAD_CUBLASLT"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


def test_set_enabled_returns_the_previous_setting():
    before = cublaslt.set_enabled(True)
    try:
        assert cublaslt.enabled() and cublaslt.set_enabled(False) is True
        assert not cublaslt.enabled()
    finally:
        cublaslt.set_enabled(before)


# -------------------------------------------------------------------------------------- epilogues

FORWARD = {  # (act, has_bias) -> epilogue at float32 "high" (gelu_tanh allowed there)
    ("relu", True): "RELU_AUX_BIAS", ("relu", False): "RELU_AUX",
    ("gelu_tanh", True): "GELU_AUX_BIAS", ("gelu_tanh", False): "GELU_AUX",
    ("identity", True): "BIAS", ("identity", False): None,
}


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("has_bias", [True, False])
def test_forward_epilogue_per_activation(act, has_bias):
    d = cublaslt.forward_epilogue(act, has_bias, np.float32, "high")
    assert d.epilogue == FORWARD.get((act, has_bias))
    assert d.fused == (d.epilogue is not None)
    if not d.fused:
        assert d.reason                                   # every fallback says why
    if act == "gelu":
        assert "tanh approximation" in d.reason           # erf gelu never takes cuBLASLt's GELU


def test_forward_epilogue_gelu_tanh_policy_dtype_and_precision():
    f = cublaslt.forward_epilogue
    assert f("gelu_tanh", True, np.float32, "highest").epilogue is None
    assert f("gelu_tanh", True, np.float64, "high").epilogue is None
    assert f("gelu_tanh", True, np.float32, "highest", gelu_policy="1").epilogue == "GELU_AUX_BIAS"
    assert f("gelu_tanh", True, np.float32, "high", gelu_policy="0").epilogue is None
    assert f("relu", True, np.float64, "highest").epilogue == "RELU_AUX_BIAS"
    assert f("relu", True, np.float16, "high").epilogue is None
    with pytest.raises(ValueError, match="unknown activation"):
        f("swish", True, np.float32)


@pytest.mark.parametrize("act", ACTS)
def test_weight_grad_epilogue_is_bgrada_for_the_identity_layer_only(act):
    d = cublaslt.weight_grad_epilogue(act, (True, True, True), np.float64, "highest", 32)
    assert d.epilogue == ("BGRADA" if act == "identity" else None)


def test_weight_grad_epilogue_needs_dtype_precision_and_rows():
    w = cublaslt.weight_grad_epilogue
    assert w("identity", (True, True, True), np.float32, "high", 32).epilogue == "BGRADA"
    assert w("identity", (False, True, True), np.float32, "high", 32).epilogue == "BGRADA"
    assert "double" in w("identity", (True, True, True), np.float32, "highest", 32).reason
    assert w("identity", (True, False, True), np.float64, "high", 32).epilogue is None
    assert w("identity", (True, True, False), np.float64, "high", 32).epilogue is None
    assert w("identity", (True, True, True), np.float64, "high", 1).epilogue is None


def test_input_grad_epilogue_per_previous_activation_and_needs():
    g = cublaslt.input_grad_epilogue
    assert g("relu", True, np.float64, "highest", 8).epilogue == "DRELU_BGRAD"
    assert g("relu", False, np.float64, "highest", 8).epilogue == "DRELU"
    assert g("relu", True, np.float32, "highest", 8).epilogue == "DRELU"       # db: in double
    assert g("relu", True, np.float32, "high", 8).epilogue == "DRELU_BGRAD"
    assert g("gelu_tanh", True, np.float32, "high", 8).epilogue == "DGELU_BGRAD"
    assert g("gelu_tanh", True, np.float32, "highest", 8).epilogue is None
    assert g("gelu_tanh", False, np.float32, "highest", 8, gelu_policy="1").epilogue == "DGELU"
    assert g("relu", True, np.float64, "highest", 1).epilogue is None          # K == 1
    for act in ("gelu", "silu", "leaky_relu", "sigmoid", "tanh", "identity"):
        assert g(act, True, np.float32, "high", 8).epilogue is None


def test_compute_types():
    assert cublaslt.compute_type(np.float32, "highest") == "COMPUTE_32F"
    assert cublaslt.compute_type(np.float32, "high") == "COMPUTE_32F_FAST_TF32"
    assert cublaslt.compute_type(np.float64, "highest") == "COMPUTE_64F"
    assert cublaslt.compute_type("float64", "high") == "COMPUTE_64F"


def test_compute_type_and_epilogue_names_exist_in_nvmath():
    pytest.importorskip("nvmath")
    from nvmath.linalg import ComputeType
    from nvmath.linalg.advanced import MatmulEpilog
    for key in [("float32", "highest"), ("float32", "high"), ("float64", "high")]:
        ComputeType[cublaslt.compute_type(*key)]
    names = set()
    for act in ACTS:
        for has_bias in (True, False):
            names.add(cublaslt.forward_epilogue(act, has_bias, "float32", "high").epilogue)
            names.add(cublaslt.input_grad_epilogue(act, has_bias, "float32", "high", 8).epilogue)
            names.add(cublaslt.input_grad_epilogue(act, has_bias, "float64", "high", 8).epilogue)
    names.add(cublaslt.weight_grad_epilogue("identity", (1, 1, 1), "float32", "high", 8).epilogue)
    for name in names - {None}:
        MatmulEpilog[name]


# ---------------------------------------------------------------------------- layout arithmetic

@pytest.mark.parametrize("M", [1, 5, 8, 9, 127, 128, 129, 4096])
@pytest.mark.parametrize("N", [1, 3])
def test_aux_shapes_match_nvmath(M, N):
    assert cublaslt.aux_shape("relu_aux", M, N) == fake_nvmath.relu_aux_shape(M, N)
    assert cublaslt.aux_shape("gelu_aux", M, N) == fake_nvmath.gelu_aux_shape(M, N)
    pytest.importorskip("nvmath")
    from nvmath.linalg._internal import epilog_protocol as ep
    assert cublaslt.aux_shape("relu_aux", M, N) == ep.relu_aux_mm_shape(M, N)
    assert cublaslt.aux_shape("gelu_aux", M, N) == ep.gelu_aux_mm_shape(M, N)


def column_major(buffer, rows, cols, ld):
    """The (rows, cols) column-major matrix with leading dimension ld in a flat buffer."""
    return np.array([[buffer[r + c * ld] for c in range(cols)] for r in range(rows)])


@pytest.mark.parametrize("shape", [(4, 3, 5), (1, 2, 1), (6, 1, 7)])
def test_row_major_layer_is_the_transposed_column_major_product(shape):
    """gemm_dims: y (n, m) C-contiguous is D = W^T x^T (m x n, ld m) column-major; W (k, m)
    C-contiguous is the column-major W^T (m x k, ld m), x the column-major x^T (k x n, ld k);
    dW (k, m) is D = dy^T x (m x k); dx (n, k) is D = W dz^T (k x n)."""
    n, k, m = shape
    rng = np.random.default_rng(0)
    x, W, dy = rng.random((n, k)), rng.random((k, m)), rng.random((n, m))
    M, N, K = cublaslt.gemm_dims("forward", n, k, m)
    A, B = column_major(W.ravel(), M, K, M), column_major(x.ravel(), K, N, K)
    np.testing.assert_allclose(column_major((x @ W).ravel(), M, N, M), A @ B)
    assert W.T.flags.f_contiguous and x.T.flags.f_contiguous
    M, N, K = cublaslt.gemm_dims("weight_grad", n, k, m)
    np.testing.assert_allclose(column_major((x.T @ dy).ravel(), M, N, M), dy.T @ x)
    assert (M, N, K) == (m, k, n)
    M, N, K = cublaslt.gemm_dims("input_grad", n, k, m)
    np.testing.assert_allclose(column_major((dy @ W.T).ravel(), M, N, M), W @ dy.T)
    assert (M, N, K) == (k, n, m)


@pytest.mark.parametrize("m", [1, 7, 8, 13])
def test_gelu_aux_as_z_is_a_row_strided_view(m):
    """z = aux[:m].T: (n, m) with a row stride of round_up(m, 8) elements, no copy."""
    n = 3
    rows, cols = cublaslt.aux_shape("gelu_aux", m, n)
    aux = np.zeros((rows, cols), np.float32, order="F")
    pre = np.arange(n * m, dtype=np.float32).reshape(n, m)
    aux[:m] = pre.T
    z = aux[:m].T
    assert z.shape == (n, m) and np.shares_memory(z, aux)
    assert z.strides == (rows * 4, 4)
    assert z.flags.c_contiguous == (m % 8 == 0 or n == 1)
    np.testing.assert_array_equal(z, pre)


def test_alignment():
    assert [cublaslt.alignment(p) for p in (0, 1, 4, 12, 16, 4096, 256 + 32)] == \
        [256, 1, 4, 4, 16, 256, 32]


# ------------------------------------------------------------------------------- keys and cache

def test_plan_key_separates_everything_a_plan_depends_on():
    lay = (((4, 3), (12, 4), 256), ((3, 5), (4, 12), 256))
    base = ("forward", "RELU_AUX_BIAS", "float32", "highest", 0, lay)
    key = cublaslt.plan_key(*base)
    assert key == cublaslt.plan_key(*base) and hash(key) == hash(cublaslt.plan_key(*base))
    variants = [("weight_grad",) + base[1:], base[:1] + ("RELU_AUX",) + base[2:],
                base[:2] + ("float64",) + base[3:], base[:3] + ("high",) + base[4:],
                base[:4] + (1,) + base[5:],
                base[:5] + ((((4, 3), (12, 4), 16),) + lay[1:],),        # alignment
                base[:5] + ((((4, 3), (4, 16), 256),) + lay[1:],),       # strides
                base[:5] + ((((5, 3), (12, 4), 256),) + lay[1:],)]       # shape
    keys = {cublaslt.plan_key(*v) for v in variants} | {cublaslt.plan_key(*base, inplace=True)}
    assert key not in keys and len(keys) == len(variants) + 1
    assert cublaslt.plan_key("forward", "BIAS", np.dtype(np.float32), "high", 0, lay) == \
        cublaslt.plan_key("forward", "BIAS", "float32", "high", 0, lay)


def test_layout_of_numpy_arrays():
    a = np.zeros((4, 6), np.float32)
    shape, strides, align = cublaslt.layout_of(a[:, 1:])
    assert shape == (4, 5) and strides == (24, 4) and align == cublaslt.alignment(a.ctypes.data + 4)


class Plan:
    freed = 0

    def free(self):
        Plan.freed += 1


def test_plan_cache_builds_once_remembers_failures_and_evicts_lru():
    cache = cublaslt.PlanCache(capacity=2)
    built = []

    def build(tag):
        def make():
            built.append(tag)
            return Plan()
        return make

    Plan.freed = 0
    p1 = cache.get("k1", build(1))
    assert cache.get("k1", build(1)) is p1 and built == [1]

    def broken():
        built.append("x")
        raise RuntimeError("no algorithm")

    assert cache.get("bad", broken) is None
    assert cache.get("bad", broken) is None and built.count("x") == 1     # not planned again
    assert cache.failure("bad") == "RuntimeError: no algorithm"
    assert cache.failures() == {"bad": "RuntimeError: no algorithm"}
    cache.get("k1", build(1))                                             # k1 most recent
    cache.get("k2", build(2))                                             # evicts "bad"
    assert len(cache) == 2 and cache.failure("bad") is None and Plan.freed == 0
    cache.get("k3", build(3))                                             # evicts k1
    assert Plan.freed == 1 and cache.get("k1", build(1)) is not p1
    cache.fail("k3", "launch failed")
    assert cache.failure("k3") == "launch failed" and cache.get("k3", build(3)) is None
    cache.clear()
    assert len(cache) == 0


# ------------------------------------------------------------------------------------- fallbacks

def test_nvmath_missing_falls_back_and_says_why():
    cublaslt.set_nvmath(error="nvmath-python unavailable (ImportError: no module)")
    cublaslt.STATS.clear()
    try:
        x, W, b, _ = layer(0, (4, 3, 5), np.float32)
        assert cublaslt.linear_forward(x, W, b, "relu") is None
        assert cublaslt.STATS["forward", "fallback"] == 1
        assert "ImportError" in cublaslt.LAST["forward"][1]
        assert cublaslt.nvmath_status().startswith("nvmath-python unavailable")
    finally:
        cublaslt.set_nvmath()
        cublaslt.STATS.clear()


def test_no_epilogue_falls_back_before_touching_nvmath(fake):
    x, W, b, dy = layer(0, (4, 3, 5), np.float32)
    for act in ("gelu", "silu", "sigmoid", "tanh", "leaky_relu"):
        assert cublaslt.linear_forward(x, W, b, act, "high") is None
    assert cublaslt.linear_forward(x, W, None, "identity") is None
    assert cublaslt.linear_forward(x[:0], W, b, "relu") is None
    assert cublaslt.linear_backward(dy, x, W, None, None, "relu", (True, True, True), "high") is None
    assert fake.created == 0


def test_plan_failure_falls_back_once_then_never_replans(fake):
    fake.fail_plan = RuntimeError("CUBLAS_STATUS_NOT_SUPPORTED")
    x, W, b, _ = layer(1, (6, 4, 5), np.float32)
    assert cublaslt.linear_forward(x, W, b, "relu") is None
    assert cublaslt.linear_forward(x, W, b, "relu") is None
    assert fake.created == 1
    assert "NOT_SUPPORTED" in cublaslt.LAST["forward"][1]
    assert list(cublaslt.PLANS.failures().values()) == ["RuntimeError: CUBLAS_STATUS_NOT_SUPPORTED"]


def test_execute_failure_falls_back_and_marks_the_key(fake):
    x, W, b, _ = layer(1, (6, 4, 5), np.float32)
    assert cublaslt.linear_forward(x, W, b, "relu") is not None
    fake.fail_execute = RuntimeError("illegal address")
    assert cublaslt.linear_forward(x, W, b, "relu") is None
    fake.fail_execute = None
    assert cublaslt.linear_forward(x, W, b, "relu") is None              # remembered as failed
    assert fake.executed == 1


def test_misaligned_bias_falls_back(fake):
    x, W, _, _ = layer(2, (6, 4, 5), np.float32)
    flat = np.zeros(6, np.float32)
    assert cublaslt.linear_forward(x, W, flat[1:], "relu") is None
    assert "aligned" in cublaslt.LAST["forward"][1] and fake.created == 0


# ---------------------------------------------------------------- execution on the NumPy stand-in

SHAPES = [(1, 1, 1), (7, 129, 7), (129, 7, 129), (33, 65, 17), (2, 3, 8)]


@pytest.mark.parametrize("act", ["relu", "gelu_tanh", "identity"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_matches_reference(fake, act, dtype, shape, bias):
    x, W, b, _ = layer(3, shape, dtype, bias)
    precision = "high" if act == "gelu_tanh" and dtype == np.float32 else "highest"
    got = cublaslt.linear_forward(x, W, b, act, precision)
    want = cublaslt.forward_epilogue(act, bias, dtype, precision).epilogue
    if want is None:
        assert got is None
        return
    y, z = got
    y_ref, z_ref = reference.linear_act_forward(x, W, b, act)
    close(y, y_ref)
    assert y.flags.c_contiguous
    assert cublaslt.LAST["forward"] == (want, "")
    entry = cublaslt.aux_of(y)
    if act == "identity":
        assert z is None and entry is None
    elif act == "relu":
        assert z is None and entry[:2] == ("relu", "relu_aux")
        assert entry[2].shape == cublaslt.aux_shape("relu_aux", shape[2], shape[0])
    else:
        close(z, z_ref)
        assert entry[:2] == ("gelu_tanh", "gelu_aux") and np.shares_memory(z, entry[2])
        # z goes to any backward: the reference's here (cuda.py makes it contiguous)
        dy = np.ones_like(y)
        for g, g_ref in zip(reference.linear_act_backward(dy, x, W, None, z, act),
                            reference.linear_act_backward(dy, x, W, None, z_ref, act)):
            close(g, g_ref)


def test_plans_are_reused_across_calls_and_operands_released(fake):
    x, W, b, _ = layer(4, (9, 5, 6), np.float32)
    for seed in range(3):
        x2, W2, b2, _ = layer(seed, (9, 5, 6), np.float32)
        y, _ = cublaslt.linear_forward(x2, W2, b2, "relu")
        close(y, reference.linear_act_forward(x2, W2, b2, "relu")[0])
    assert fake.created == 1 and fake.planned == 1 and fake.executed == 3
    (plan,) = [p for p in cublaslt.PLANS._entries().values()]
    assert plan.released and all(o is None for o in plan.operands)       # x, W not kept alive
    cublaslt.linear_forward(x, W, b, "relu", "high")                      # precision: new plan
    cublaslt.linear_forward(x.astype(np.float64), W.astype(np.float64), b.astype(np.float64), "relu")
    cublaslt.linear_forward(x[:8], W, b, "relu")                          # batch: new plan
    assert fake.created == 4


def test_aux_registry_drops_with_y(fake):
    x, W, b, _ = layer(5, (4, 3, 5), np.float32)
    y, _ = cublaslt.linear_forward(x, W, b, "relu")
    assert cublaslt.aux_of(y) is not None and cublaslt.aux_of(y.copy()) is None
    n_before = len(cublaslt._AUX)
    del y
    gc.collect()
    assert len(cublaslt._AUX) == n_before - 1


@pytest.mark.parametrize("dtype,precision", [(np.float64, "highest"), (np.float32, "high")])
@pytest.mark.parametrize("shape", SHAPES[1:])
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True)])
@pytest.mark.parametrize("into", [False, True])
def test_identity_backward_bias_grad_from_bgrada(fake, dtype, precision, shape, needs, into):
    x, W, b, dy = layer(6, shape, dtype)
    dW_out = np.full(W.shape, np.nan, dtype) if into else None
    got = cublaslt.linear_backward(dy, x, W, None, None, "identity", needs, precision, dW_out)
    assert got is not None and cublaslt.LAST["weight_grad"] == ("BGRADA", "")
    dx, dW, db = got
    dx_ref, dW_ref, db_ref = reference.linear_act_backward(dy, x, W, None, None, "identity")
    close(dW, dW_ref)
    close(db, db_ref)
    assert dW.flags.c_contiguous and (dW is dW_out if into else True)
    assert (dx is None) if not needs[0] else close(dx, dx_ref) is None


@pytest.mark.parametrize("prev_act", ["relu", "gelu_tanh"])
@pytest.mark.parametrize("dtype,precision", [(np.float64, "highest"), (np.float32, "high"),
                                             (np.float32, "highest")])
@pytest.mark.parametrize("shape", [(7, 9, 13), (33, 16, 5), (2, 3, 2)])
@pytest.mark.parametrize("need_db", [True, False])
def test_input_grad_finishes_the_previous_layer(fake, prev_act, dtype, precision, shape, need_db):
    """Two layers: x0 -> act(x0 W1 + b1) = x1 -> x1 W2 (+ b2); given dz2, one GEMM gives the
    first layer's dz1 = (dz2 W2^T) act'(z1) and db1."""
    n, k, m = shape
    x0, W1, b1, _ = layer(7, (n, 5, k), dtype)
    _, W2, _, dz2 = layer(8, (n, k, m), dtype)
    first = cublaslt.linear_forward(x0, W1, b1, prev_act, precision)
    if first is None:
        assert prev_act == "gelu_tanh" and precision == "highest"
        return
    x1, z1 = first
    got = cublaslt.input_grad(dz2, W2, x1, precision, need_db)
    assert got is not None
    dz1, db1 = got
    _, z1_ref = reference.linear_act_forward(x0, W1, b1, prev_act)
    y1_ref = reference.linear_act_forward(x0, W1, b1, prev_act)[0]
    dz1_ref = reference.act_backward(dz2 @ W2.T, y1_ref, z1_ref, prev_act)
    close(dz1, dz1_ref)
    assert dz1.flags.c_contiguous
    if need_db and cublaslt.bias_grad_epilogue_allowed(dtype, precision):
        close(db1, dz1_ref.sum(axis=0))
    else:
        assert db1 is None                                     # the caller sums it (in double)


def test_input_grad_declines_without_aux_or_with_k_1(fake):
    x, W, b, dz = layer(9, (5, 4, 3), np.float64)
    assert cublaslt.input_grad(dz, W, x) is None                           # x: no cuBLASLt y
    assert "no cuBLASLt aux" in cublaslt.LAST["input_grad"][1]
    y, _ = cublaslt.linear_forward(x, W, b, "relu")
    assert cublaslt.input_grad(np.ones((5, 1)), np.ones((3, 1)), y) is None  # K == 1
    assert cublaslt.input_grad(np.ones((5, 2)), np.ones((4, 2)), y) is None  # W not y's width
