"""gpugrad.kernels on CuPy arrays (cuda.py) against kernels.reference.

Every test carries the ``cuda`` marker, so where CUDA is unusable each one skips on its own with
conftest's reason (CuPy missing, failing to import, no GPU), as the other CUDA tests do."""
import numpy as np
import pytest

from gpugrad import backend, kernels
from gpugrad.kernels import reference

pytestmark = pytest.mark.cuda
cupy = backend._import_cupy()          # None without CuPy: then every test here skips

ACTS = kernels.ACTIVATIONS
DTYPES = [np.float32, np.float64]
SHAPES = [(1, 1, 1), (7, 129, 7), (129, 7, 129)]
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def assert_close(actual, expected, tol=None):
    actual, expected = cupy.asnumpy(actual), cupy.asnumpy(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    tol = TOL[expected.dtype] if tol is None else tol
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def layer(seed, shape, dtype):
    rng = np.random.default_rng(seed)
    n, k, m = shape
    return (cupy.asarray(rng.standard_normal((n, k)).astype(dtype)),
            cupy.asarray((rng.standard_normal((k, m)) * k ** -0.5).astype(dtype)),
            cupy.asarray(rng.standard_normal(m).astype(dtype)),
            cupy.asarray(rng.standard_normal((n, m)).astype(dtype)))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("how", ["cublas", "custom"])
def test_linear_matches_reference(act, dtype, shape, how, monkeypatch):
    from gpugrad.kernels import cuda
    monkeypatch.setattr(cuda, "choose", lambda *args: how)
    x, W, b, dy = layer(0, shape, dtype)
    y, z = kernels.linear_act_forward(x, W, b, act, 0.2)
    y_ref, z_ref = reference.linear_act_forward(x, W, b, act, 0.2)
    assert_close(y, y_ref)
    if z_ref is not None:
        assert_close(z, z_ref)
    dy_before = dy.copy()
    for g, g_ref in zip(kernels.linear_act_backward(dy, x, W, y, z, act, 0.2),
                        reference.linear_act_backward(dy, x, W, y_ref, z_ref, act, 0.2)):
        assert_close(g, g_ref)
    assert_close(dy, dy_before)


@pytest.mark.parametrize("act", ["identity", "gelu"])
def test_tf32_and_autotuner(act):
    from gpugrad.kernels import cuda
    x, W, b, _ = layer(1, (129, 257, 65), np.float32)
    y_ref, _ = reference.linear_act_forward(x, W, b, act)
    kernels.set_matmul_precision("high")
    try:
        assert cuda.choose((129, 257, 65), np.float32, act, "high") == "cublas"
        y, z = kernels.linear_act_forward(x, W, b, act)
        assert_close(y, y_ref, tol=1e-2)                          # TF32: 10-bit mantissa
    finally:
        kernels.set_matmul_precision("highest")
    cuda._CHOICES.clear()
    choice = cuda.choose((129, 257, 65), np.float32, act)
    assert choice in ("cublas", "custom")
    assert cuda.choose((200, 257, 65), np.float32, act) == choice            # same bucket (256)
    assert len(cuda._CHOICES) == 1


def test_autotuner_survives_candidates_that_fail(monkeypatch):
    from gpugrad.kernels import cuda

    def broken(*args, **kwargs):
        raise RuntimeError("no launch")

    monkeypatch.setattr(cuda, "_custom_linear", broken)
    cuda._CHOICES.clear()
    assert cuda.choose((17, 9, 5), np.float32, "relu") == "cublas"
    monkeypatch.setattr(cuda, "_cublas_linear", broken)
    cuda._CHOICES.clear()
    assert cuda.choose((17, 9, 5), np.float32, "relu") == "cublas"          # nothing ran: cuBLAS
    cuda._CHOICES.clear()


def test_custom_gemm_launches_past_the_old_grid_y_limit():
    """4,194,305 rows needed 65,537 row tiles on gridDim.y (limit 65,535); rows are on x now."""
    from gpugrad.kernels import cuda
    M, K, N = 4_194_305, 2, 3
    free = cupy.cuda.runtime.memGetInfo()[0]
    if free < 4 * M * (K + 2 * N) * 2:
        pytest.skip("not enough GPU memory")
    x = cupy.ones((M, K), np.float32)
    x[-1] = 2.0
    W = cupy.ones((K, N), np.float32)
    y = cupy.full((M, N), np.nan, np.float32)
    cuda._custom_linear(x, W, None, kernels.activations.CODE["relu"], 0.01, y, None)
    assert float(y[0, 0]) == 2.0 and float(y[-1, -1]) == 4.0
    assert not bool(cupy.isnan(y).any())


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_act_forward_backward(act, dtype):
    x, _, _, dy = layer(2, (7, 3, 129), dtype)
    z = dy * 3
    y = kernels.act_forward(z, act)
    assert_close(y, reference.act_forward(z, act))
    assert_close(kernels.act_backward(dy, y, z, act), reference.act_backward(dy, y, z, act))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [dict(lr=0.1), dict(lr=0.05, momentum=0.9, weight_decay=0.1),
                                     dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)])
def test_sgd_matches_reference(dtype, options):
    p0, g0, _, _ = layer(3, (1, 1001, 1), dtype)
    p, p_ref = p0.ravel().copy(), p0.ravel().copy()
    buf, buf_ref = cupy.zeros_like(p), cupy.zeros_like(p)
    for step in range(1, 4):
        g = g0.ravel() * step
        kernels.sgd_update(p, g, buf, first_step=step == 1, **options)
        reference.sgd_update(p_ref, g, buf_ref, first_step=step == 1, **options)
    assert_close(p, p_ref)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1, decoupled=True),
                                     dict(lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True)])
def test_adam_matches_reference(dtype, options):
    p0, g0, _, _ = layer(4, (1, 1001, 1), dtype)
    state = [p0.ravel().copy()] + [cupy.zeros_like(p0.ravel()) for _ in range(3)]
    state_ref = [a.copy() for a in state]
    for step in range(1, 4):
        g = g0.ravel() * step
        kernels.adam_update(state[0], g, state[1], state[2], step=step, max_exp_avg_sq=state[3],
                            **options)
        reference.adam_update(state_ref[0], g, state_ref[1], state_ref[2], step=step,
                              max_exp_avg_sq=state_ref[3], **options)
    for a, e in zip(state[:3], state_ref[:3]):
        assert_close(a, e)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_target_check_is_deferred_poisons_the_loss_and_raises_at_the_next_sync(loss):
    """No host sync in the loss: the bad target makes the loss NaN at once, and the error
    comes at the next read of a value (here ``item()``), naming the bad target."""
    import gpugrad as gg
    from gpugrad import device_checks
    x = gg.tensor(np.zeros((3, 4), np.float32), device="cuda", requires_grad=True)
    t = gg.tensor([0, 9, 1], device="cuda")
    out = getattr(gg, loss)(x, t)                           # no error yet, no sync
    assert device_checks.pending() == 1
    with pytest.raises(IndexError, match=r"\[0, 4\).*got 9"):
        out.item()
    assert device_checks.pending() == 0
    assert np.isnan(out.numpy())                            # the result was poisoned
    good = getattr(gg, loss)(x, gg.tensor([0, -100, 3], device="cuda"))
    assert np.isfinite(good.item())


CE_CASES = [  # (n, c, label_smoothing, ignore some rows, special logits)
    (1, 1, 0.0, False, None), (7, 3, 0.0, True, None), (33, 300, 0.1, True, None),
    (5, 5000, 0.25, False, None), (6, 4, 0.1, True, "neg_inf"), (6, 4, 0.0, False, "pos_inf"),
    (4, 3, 0.1, False, "nan"), (3, 4, 0.0, True, "all_neg_inf"), (0, 4, 0.1, False, None),
]


@pytest.mark.parametrize("case", CE_CASES, ids=lambda c: f"{c[0]}x{c[1]}-eps{c[2]}-{c[4]}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_cross_entropy_matches_the_cpu_path(case, dtype, reduction):
    """The CUDA kernels (kernels/cross_entropy.cu) give the array path's loss and gradient,
    edge values included (-inf masks, +inf ties, NaN rows, ignored rows, C > block size)."""
    import gpugrad as gg
    n, c, eps, ignore, special = case
    rng = np.random.default_rng(n * 1000 + c)
    x = rng.standard_normal((n, c)) * 3
    if special == "neg_inf" and n:
        x[:, 0] = -np.inf
    if special == "pos_inf" and n:
        x[0, :2] = np.inf
    if special == "nan" and n:
        x[1, 1] = np.nan
    if special == "all_neg_inf" and n:
        x[0, :] = -np.inf
    t = rng.integers(0, c, n)
    if ignore and n:
        t[::3] = -100
    if special in ("neg_inf", "all_neg_inf") and n:
        t = np.where(t == 0, 1 % c, t)
    results = []
    for device in ("cpu", "cuda"):
        xt = gg.tensor(x.astype(dtype), device=device, requires_grad=True)
        loss = gg.cross_entropy(xt, gg.tensor(t, device=device), reduction=reduction,
                                label_smoothing=eps)
        loss.sum().backward() if reduction == "none" else loss.backward()
        results.append((loss.numpy().astype(np.float64), xt.grad.numpy().astype(np.float64)))
    (l_cpu, g_cpu), (l_gpu, g_gpu) = results
    tol = {np.float16: 2e-3, np.float32: 1e-5, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=tol, atol=tol, equal_nan=True)
    np.testing.assert_allclose(g_gpu, g_cpu, rtol=tol, atol=tol, equal_nan=True)


def test_fused_cross_entropy_second_order_matches_the_cpu():
    import gpugrad as gg
    x = np.random.default_rng(5).standard_normal((4, 6))
    t = np.array([0, 5, -100, 2])
    hs = []
    for device in ("cpu", "cuda"):
        f = lambda z: gg.cross_entropy(z, gg.tensor(t, device=device), label_smoothing=0.2)  # noqa: E731
        hs.append(gg.hessian(f)(gg.tensor(x, device=device)).numpy())
    np.testing.assert_allclose(hs[1], hs[0], rtol=1e-10, atol=1e-12)


def test_fused_cross_entropy_bad_target_is_nan_then_raises_and_resets():
    import gpugrad as gg
    from gpugrad import device_checks
    x = gg.tensor(np.zeros((3, 4), np.float32), device="cuda", requires_grad=True)
    out = gg.cross_entropy(x, gg.tensor([0, 4, -7], device="cuda"), reduction="none")
    assert device_checks.pending() >= 1
    with pytest.raises(IndexError, match=r"cross_entropy: target values must be in \[0, 4\).*got (4|-7)"):
        out.numpy()
    got = out.numpy()
    assert np.isfinite(got[0]) and np.isnan(got[1:]).all()
    ok = gg.cross_entropy(x, gg.tensor([0, 3, 1], device="cuda"))
    assert np.isfinite(ok.item())                            # the status was reset


def test_bias_gradient_of_a_million_rows_is_accurate_in_float32():
    """db sums a column over the whole batch: accumulated in double, rounded once."""
    rng = np.random.default_rng(11)
    dy = rng.standard_normal((1 << 20, 3)).astype(np.float32) + 0.5
    x = np.ones((dy.shape[0], 1), np.float32)
    W = np.ones((1, 3), np.float32)
    _, _, db = kernels.linear_act_backward(cupy.asarray(dy), cupy.asarray(x), cupy.asarray(W),
                                           cupy.asarray(dy), None, "identity")
    exact = dy.astype(np.float64).sum(axis=0)
    np.testing.assert_allclose(cupy.asnumpy(db), exact, rtol=2e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("precision", ["highest", "high"])
@pytest.mark.parametrize("layout", ["CC", "FC", "CF", "FF"])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 7, 3), (64, 1, 33), (1, 130, 257), (129, 65, 1)])
def test_direct_gemm_matches_matmul_for_every_layout(dtype, precision, layout, shape):
    """kernels.cuda._gemm (one cublasGemmEx; GPUGRAD_DIRECT_GEMM=0 turns it off) against
    cupy.matmul for C- and F-contiguous operands (x.T and W.T in backward are F-contiguous)."""
    from gpugrad.kernels import cuda
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    a = cupy.asarray(rng.standard_normal((m, k)).astype(dtype))
    b = cupy.asarray(rng.standard_normal((k, n)).astype(dtype))
    if layout[0] == "F":
        a = cupy.asfortranarray(a)
    if layout[1] == "F":
        b = cupy.asfortranarray(b)
    out = cupy.full((m, n), np.nan, dtype)
    assert cuda._gemm(a, b, out, precision) is out
    expected = cupy.asnumpy(a).astype(np.float64) @ cupy.asnumpy(b).astype(np.float64)
    tol = 5e-3 if (precision == "high" and dtype == np.float32) else TOL[np.dtype(dtype)]
    assert_close(out.astype(np.float64), cupy.asarray(expected), tol=tol)


def test_direct_gemm_declines_what_it_cannot_do():
    from gpugrad.kernels import cuda
    a = cupy.ones((4, 6), np.float32)
    assert cuda._gemm(a[:, ::2], cupy.ones((3, 2), np.float32), cupy.empty((4, 2), np.float32),
                      "highest") is None                         # strided: not contiguous
    assert cuda._gemm(a, cupy.ones((6, 2), np.float64), cupy.empty((4, 2), np.float32),
                      "highest") is None                         # mixed dtypes
    assert cuda._gemm(a[:0], cupy.ones((6, 2), np.float32), cupy.empty((0, 2), np.float32),
                      "highest") is None                         # empty: cupy.matmul's job


# ------------------------------------------------------------------ cuBLASLt epilogues (nvmath)
# kernels/cublaslt.py, forced on (GPUGRAD_CUBLASLT is off by default). Each test skips where
# nvmath-python is not installed (the cublaslt12 / cublaslt13 extras bring it). A path that should have
# run through cuBLASLt but fell back fails the test, naming the planning/run failure: on a GPU
# that is the finding to act on (a fallback is silent in production).

LT_SHAPES = [(1, 1, 1), (7, 129, 7), (129, 7, 129), (33, 65, 17), (3, 5, 1), (1000, 3, 11)]
LT_TOL = {("float32", "highest"): 1e-5, ("float32", "high"): 1e-2,
          ("float64", "highest"): 1e-12, ("float64", "high"): 1e-12}


@pytest.fixture
def lt(monkeypatch):
    pytest.importorskip("nvmath.linalg.advanced")
    from gpugrad.kernels import cublaslt
    previous = cublaslt.set_enabled(True), kernels.get_matmul_precision()
    cublaslt.PLANS.clear()
    cublaslt.STATS.clear()
    yield cublaslt                     # tests set the matmul precision: restored here
    cublaslt.set_enabled(previous[0])
    kernels.set_matmul_precision(previous[1])
    cublaslt.PLANS.clear()
    cublaslt.set_nvmath()


def _ran(cublaslt, op, expected):
    """The latest ``op`` ran ``expected`` (an epilogue name, or None: fell back)."""
    got, reason = cublaslt.LAST.get(op, (None, "not called"))
    assert got == expected, (f"{op}: expected {expected}, got {got} ({reason}); "
                             f"plan failures: {cublaslt.PLANS.failures()}")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("precision", ["highest", "high"])
@pytest.mark.parametrize("shape", LT_SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_cublaslt_linear_matches_reference(lt, act, dtype, precision, shape, bias):
    x, W, b, dy = layer(10, shape, dtype)
    b = b if bias else None
    tol = LT_TOL[np.dtype(dtype).name, precision]
    kernels.set_matmul_precision(precision)
    y, z = kernels.linear_act_forward(x, W, b, act, 0.2)
    _ran(lt, "forward", lt.forward_epilogue(act, bias, dtype, precision).epilogue)
    grads = kernels.linear_act_backward(dy, x, W, y, z, act, 0.2)
    wanted = lt.weight_grad_epilogue(act, (True, True, bias), dtype, precision, shape[0])
    if bias:
        _ran(lt, "weight_grad", wanted.epilogue)
    y_ref, z_ref = reference.linear_act_forward(x, W, b, act, 0.2)
    assert_close(y, y_ref, tol)
    assert y.flags.c_contiguous
    if z_ref is not None:
        assert_close(z, z_ref, tol)
    expected = reference.linear_act_backward(dy, x, W, y_ref, z_ref, act, 0.2,
                                             (True, True, bias))
    for g, g_ref in zip(grads, expected):
        if g_ref is not None:
            assert_close(g, g_ref, tol)


@pytest.mark.parametrize("shape", [(129, 65, 33), (64, 256, 128)])
def test_cublaslt_gelu_tanh_epilogues_accuracy_in_float32(lt, monkeypatch, shape):
    """cuBLASLt's GELU / DGELU (gelu_tanh only) at float32 "highest", forced on: how far from
    gpugrad's gelu_tanh they are. The default policy uses them at "high" only; this bound is the
    one the docs claim (and the printed numbers are the evidence for changing the policy)."""
    monkeypatch.setattr(lt, "_GELU_POLICY", "1")
    kernels.set_matmul_precision("highest")
    x0, W1, b1, _ = layer(11, (shape[0], shape[1], shape[2]), np.float32)
    _, W2, _, dz2 = layer(12, (shape[0], shape[2], 9), np.float32)
    y, z = kernels.linear_act_forward(x0, W1, b1, "gelu_tanh")
    _ran(lt, "forward", "GELU_AUX_BIAS")
    y_ref, z_ref = reference.linear_act_forward(x0, W1, b1, "gelu_tanh")
    got = lt.input_grad(dz2, W2, y)
    _ran(lt, "input_grad", "DGELU")                  # float32 "highest": db left to the caller
    dz_ref = reference.act_backward(dz2 @ W2.T, y_ref, z_ref, "gelu_tanh")
    errors = {name: float(cupy.abs(a - e).max() / max(1.0, float(cupy.abs(e).max())))
              for name, a, e in (("y", y, y_ref), ("z", z, z_ref), ("dz", got[0], dz_ref))}
    print(f"cuBLASLt gelu_tanh epilogues, float32 highest, {shape}: {errors}")
    assert max(errors.values()) < 1e-3, errors


@pytest.mark.parametrize("act", ["relu", "gelu_tanh", "identity"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(33, 65, 17), (64, 32, 24)])
def test_cublaslt_forward_and_the_fallback_backward_interoperate(lt, act, dtype, shape):
    """A cuBLASLt forward's (y, z) -- z a row-strided view of cuBLASLt's aux when out % 8 != 0
    -- through cuda.py's fused backward, and a cuda.py forward through the cuBLASLt backward."""
    x, W, b, dy = layer(13, shape, dtype)
    kernels.set_matmul_precision("high")
    y, z = kernels.linear_act_forward(x, W, b, act)
    _ran(lt, "forward", lt.forward_epilogue(act, True, dtype, "high").epilogue)
    lt.set_enabled(False)
    mixed = kernels.linear_act_backward(dy, x, W, y, z, act)
    y2, z2 = kernels.linear_act_forward(x, W, b, act)
    lt.set_enabled(True)
    mixed2 = kernels.linear_act_backward(dy, x, W, y2, z2, act)
    tol = LT_TOL[np.dtype(dtype).name, "high"]
    y_ref, z_ref = reference.linear_act_forward(x, W, b, act)
    for grads in (mixed, mixed2):
        for g, g_ref in zip(grads, reference.linear_act_backward(dy, x, W, y_ref, z_ref, act)):
            assert_close(g, g_ref, tol)


@pytest.mark.parametrize("prev_act", ["relu", "gelu_tanh"])
@pytest.mark.parametrize("dtype,precision", [(np.float32, "highest"), (np.float32, "high"),
                                             (np.float64, "highest")])
@pytest.mark.parametrize("shape", [(7, 9, 13), (129, 33, 65), (256, 128, 64)])
def test_cublaslt_input_grad_finishes_the_previous_layer(lt, prev_act, dtype, precision, shape):
    """Layer 1 act(x0 W1 + b1) = x1 through cuBLASLt, then layer 2's input-gradient GEMM with
    layer 1's DRELU(_BGRAD) / DGELU(_BGRAD): dz1 = (dz2 W2^T) act'(z1), db1 = dz1.sum(0)."""
    n, k, m = shape
    x0, W1, b1, _ = layer(14, (n, 17, k), dtype)
    _, W2, _, dz2 = layer(15, (n, k, m), dtype)
    kernels.set_matmul_precision(precision)
    x1, _ = kernels.linear_act_forward(x0, W1, b1, prev_act)
    got = lt.input_grad(dz2, W2, x1, precision)
    wanted = lt.input_grad_epilogue(prev_act, True, dtype, precision, m).epilogue
    if wanted is None:
        assert got is None
        return
    _ran(lt, "input_grad", wanted)
    y1_ref, z1_ref = reference.linear_act_forward(x0, W1, b1, prev_act)
    dz1_ref = reference.act_backward(dz2 @ W2.T, y1_ref, z1_ref, prev_act)
    tol = LT_TOL[np.dtype(dtype).name, precision]
    assert_close(got[0], dz1_ref, tol)
    if wanted.endswith("_BGRAD"):
        assert_close(got[1], dz1_ref.sum(axis=0), tol)
    else:
        assert got[1] is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_cublaslt_weight_grad_writes_into_dW_out(lt, dtype):
    x, W, b, dy = layer(16, (129, 33, 65), dtype)
    dW_out = cupy.full(W.shape, np.nan, dtype)
    kernels.set_matmul_precision("high")
    dx, dW, db = kernels.linear_act_backward(dy, x, W, dy, None, "identity", dW_out=dW_out)
    _ran(lt, "weight_grad", "BGRADA")
    assert dW is dW_out
    tol = LT_TOL[np.dtype(dtype).name, "high"]
    for g, g_ref in zip((dx, dW, db), reference.linear_act_backward(dy, x, W, dy, None, "identity")):
        assert_close(g, g_ref, tol)


def test_cublaslt_falls_back_when_nvmath_fails_to_plan(lt):
    import types

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("no algorithm for this problem")

    from nvmath.linalg import ComputeType
    from nvmath.linalg.advanced import MatmulEpilog, MatmulOptions
    lt.set_nvmath(types.SimpleNamespace(Matmul=Broken, MatmulOptions=MatmulOptions,
                                        MatmulEpilog=MatmulEpilog, ComputeType=ComputeType))
    x, W, b, _ = layer(17, (33, 65, 17), np.float32)
    y, _ = kernels.linear_act_forward(x, W, b, "relu")
    _ran(lt, "forward", None)
    assert "no algorithm" in lt.LAST["forward"][1]
    assert_close(y, reference.linear_act_forward(x, W, b, "relu")[0])


def test_cublaslt_plans_once_per_shape(lt):
    x, W, b, _ = layer(18, (64, 32, 16), np.float32)
    for _ in range(3):
        kernels.linear_act_forward(x * 2, W, b, "relu")
    _ran(lt, "forward", "RELU_AUX_BIAS")
    assert len(lt.PLANS) == 1 and lt.STATS["forward", "RELU_AUX_BIAS"] == 3


def test_cublaslt_relu_propagates_nan_like_the_reference(lt):
    """gpugrad's relu keeps NaN (where(z < 0, 0, z)); an epilogue computing max(z, 0) would
    hide it. A failure here is a semantic difference the default-on decision must weigh."""
    x, W, b, _ = layer(19, (8, 16, 24), np.float32)
    x[3, 5] = np.nan
    y, _ = kernels.linear_act_forward(x, W, b, "relu")
    _ran(lt, "forward", "RELU_AUX_BIAS")
    y_ref, _ = reference.linear_act_forward(x, W, b, "relu")
    np.testing.assert_array_equal(cupy.asnumpy(cupy.isnan(y)), cupy.asnumpy(cupy.isnan(y_ref)))


@pytest.mark.parametrize("act", ["relu", "gelu_tanh", "identity"])
def test_cublaslt_mlp_training_step_matches_the_default_path(lt, act):
    """gg.linear end to end (autograd, the saved y / z): two layers' gradients with cuBLASLt
    on equal those with it off."""
    import gpugrad as gg
    rng = np.random.default_rng(20)
    arrays = [rng.standard_normal(s).astype(np.float32) * 0.2
              for s in ((37, 24), (24, 40), (40,), (40, 10), (10,))]
    grads = []
    kernels.set_matmul_precision("high")
    for on in (True, False):
        lt.set_enabled(on)
        x, W1, b1, W2, b2 = (gg.tensor(a, device="cuda", requires_grad=i > 0)
                             for i, a in enumerate(arrays))
        h = gg.linear(x, W1, b1, activation=act)
        out = gg.linear(h, W2, b2)
        (out * out).sum().backward()
        grads.append([t.grad.numpy() for t in (W1, b1, W2, b2)])
    lt.set_enabled(True)
    for a, e in zip(*grads):
        np.testing.assert_allclose(a, e, rtol=2e-2, atol=2e-2 * max(1.0, float(np.abs(e).max())))
