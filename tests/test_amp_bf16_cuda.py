"""autocast bfloat16 on CUDA (kernels/cublas_bf16.py, gpugrad/ops/bf16_cuda.py) without a GPU:
the GEMM layouts cuBLAS is given, checked by running them through the NumPy reference of the
device calls (kernels/bf16_host.py, which reads memory by pointer and leading dimension as
cuBLAS does) on many operand layouts; the cast against ml_dtypes; the self-check guard; the
autocast ops on the ``cuda`` device (a real GPU, or the NumPy-backed CuPy stand-in under
GPUGRAD_FAKE_CUDA=1): devices, capture and create_graph refusals, float16 parameters."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.kernels import cublas_bf16 as kb
from gpugrad.kernels.bf16_host import HostDevice, bf16_bits

ml_dtypes = pytest.importorskip("ml_dtypes")


def _rounded(x):
    return x.astype(ml_dtypes.bfloat16).astype(np.float64)


def _layouts(rng, m, k, n):
    """(a, b) float32 operands of one product in many memory layouts."""
    a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
    wide_a = np.zeros((m, k + 3), np.float32)
    wide_a[:, :k] = a                                          # rows with a gap: ld > k
    return [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)),
            (a.T.copy().T, b.T.copy().T), (wide_a[:, :k], b), (a, b[:, ::1]),
            (a[::2] if m > 1 else a, b), (a[:, ::2], b[::2]), (a[::-1], b)]


@pytest.mark.parametrize("m, k, n", [(5, 7, 3), (1, 4, 6), (6, 1, 2), (3, 5, 1), (1, 1, 1)])
def test_gemm_layouts_match_numpy(host, m, k, n):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    for a, b in _layouts(rng, m, k, n):
        got = kb.matmul_bits(_same_layout(bf16_bits(a), a), _same_layout(bf16_bits(b), b))
        np.testing.assert_allclose(got, _rounded(a) @ _rounded(b), rtol=1e-5, atol=1e-5)


def _same_layout(bits, like):
    """bfloat16 ``bits`` in the memory layout of float32 array ``like``: the same element
    strides and offset within a uint16 copy of ``like``'s base."""
    base = like
    while base.base is not None:
        base = base.base
    store = np.zeros(base.size, np.uint16)
    offset = (like.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // 4
    view = np.lib.stride_tricks.as_strided(store[offset:], like.shape,
                                           tuple(s // 4 * 2 for s in like.strides))
    view[...] = bits
    return view


def test_layout_arguments_for_known_cases():
    # C-contiguous a (4, 3) @ b (3, 5): out^T = b^T a^T, both op N, ld = row lengths
    assert kb.gemm_layout((4, 3), (3, 1), (3, 5), (5, 1)) == (0, 0, 5, 4, 3, 5, 3, 5)
    # transposed views: op T with ld = the column length
    assert kb.gemm_layout((4, 3), (1, 4), (3, 5), (1, 3)) == (1, 1, 5, 4, 3, 3, 4, 5)
    assert kb.gemm_layout((4, 3), (6, 1), (3, 5), (8, 1))[5:7] == (8, 6)   # padded rows
    assert kb.gemm_layout((4, 3), (6, 2), (3, 5), (5, 1)) is None          # a copy is needed
    with pytest.raises(ValueError, match="expected a \\(M, K\\) and b \\(K, N\\)"):
        kb.gemm_layout((4, 3), (3, 1), (2, 5), (5, 1))


@pytest.mark.parametrize("sa, sb", [((2, 3, 4, 5), (5, 6)), ((4, 5), (3, 5, 6)),
                                    ((2, 1, 4, 5), (3, 5, 6)), ((3, 4, 5), (3, 5, 6))])
def test_batched_products_match_numpy(host, sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = rng.standard_normal(sa).astype(np.float32), rng.standard_normal(sb).astype(np.float32)
    got = kb.matmul_bits(kb.to_bf16_bits(a), kb.to_bf16_bits(b))
    np.testing.assert_allclose(got, _rounded(a) @ _rounded(b), rtol=1e-5, atol=1e-5)
    kinds = {c[0] for c in host.calls[-1:]}
    assert kinds == ({"gemm"} if len(sb) == 2 else {"gemm_batched"})   # a's batch folded
    # transposed stacks (op T in every matrix of the batch)
    got_t = kb.matmul_bits(kb.to_bf16_bits(b).swapaxes(-1, -2), kb.to_bf16_bits(a).swapaxes(-1, -2))
    np.testing.assert_allclose(got_t, np.swapaxes(_rounded(a) @ _rounded(b), -1, -2),
                               rtol=1e-5, atol=1e-5)


def test_bad_operands_are_refused(host):
    a = kb.to_bf16_bits(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(3 != 4\)"):
        kb.matmul_bits(a, kb.to_bf16_bits(np.ones((4, 2), np.float32)))
    with pytest.raises(TypeError, match="uint16 bfloat16 bits"):
        kb.matmul_bits(np.ones((2, 3), np.float32), a.T)
    with pytest.raises(ValueError, match="C-contiguous float32 array of shape \\(2, 2\\)"):
        kb.matmul_bits(a, a.T, out=np.empty((2, 2), np.float64))
    with pytest.raises(TypeError, match="float16/float32/float64"):
        kb.to_bf16_bits(np.ones(2, np.int32))


def test_cast_matches_ml_dtypes(host):
    special = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0x7F800000,
                        0xFF800000, 0x7F7FFFFF, 0x00000001, 0x80000001, 0x3F808000, 0x3F818000,
                        0x3F807FFF, 0x00800000, 0], np.uint32).view(np.float32)
    x = np.concatenate([special, np.random.default_rng(0).standard_normal(10000).astype(
        np.float32) * np.float32(1e3)])
    with np.errstate(invalid="ignore"):
        want = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    np.testing.assert_array_equal(bf16_bits(x), want)
    np.testing.assert_array_equal(kb.to_bf16_bits(x), want)
    d = np.random.default_rng(1).standard_normal(5000) * 1e3    # float64: rounded once
    np.testing.assert_array_equal(kb.to_bf16_bits(d), d.astype(ml_dtypes.bfloat16).view(np.uint16))


def _short_k(self, ta, tb, m, n, k, *rest):          # a binding that drops one product term
    HostDevice.gemm(self, ta, tb, m, n, k - 1, *rest)


def _swapped_ld(self, ta, tb, m, n, k, A, lda, B, ldb, C, ldc):   # lda and ldb exchanged
    HostDevice.gemm(self, ta, tb, m, n, k, A, ldb, B, lda, C, ldc)


def test_self_check_catches_a_broken_binding():
    ops = type("Broken", (HostDevice,), {"gemm": _short_k})(np)
    prev = kb.use_device_ops(ops)
    try:
        a = kb.to_bf16_bits(np.ones((4, 4), np.float32))
        for _ in range(2):                      # remembered: every later product raises too
            with pytest.raises(RuntimeError, match="bfloat16 GEMM self-check on cuda:0 failed"):
                kb.matmul_bits(a, a)
        assert isinstance(kb._checked[0], RuntimeError)
    finally:
        kb.use_device_ops(prev)


def test_self_check_refuses_a_binding_cublas_rejects():
    """lda/ldb exchanged: cuBLAS's INVALID_VALUE comes through as it is, each time (not a
    verdict: nothing computed a wrong number), and no product is ever returned."""
    ops = type("Broken", (HostDevice,), {"gemm": _swapped_ld})(np)
    prev = kb.use_device_ops(ops)
    try:
        a = kb.to_bf16_bits(np.ones((4, 4), np.float32))
        for _ in range(2):
            with pytest.raises(ValueError, match="CUBLAS_STATUS_INVALID_VALUE") as info:
                kb.matmul_bits(a, a)
            assert "self-check on cuda:0" in "".join(getattr(info.value, "__notes__", []))
        assert 0 not in kb._checked
    finally:
        kb.use_device_ops(prev)


def test_self_check_passes_on_the_reference(host):
    kb.matmul_bits(kb.to_bf16_bits(np.ones((2, 2), np.float32)),
                   kb.to_bf16_bits(np.ones((2, 2), np.float32)))
    assert kb._checked == {0: None}
    ops = [c[1:3] for c in host.calls if c[0] == "gemm"]
    assert {(0, 0), (1, 1), (1, 0), (0, 1)} <= set(ops)       # N/N, T/T and both mixed
    strides = [c[9][:2] for c in host.calls if c[0] == "gemm_batched"]
    assert (0, 64 * 96) in strides               # (b, a): a stride-0 (broadcast) b batch


# --------------------------------------------------------------- the ops, on the cuda device

@pytest.mark.cuda
def test_autocast_products_on_cuda_are_float32_sums_of_bf16_products():
    rng = np.random.default_rng(3)
    xs, ws = rng.standard_normal((6, 20)).astype(np.float32), \
        rng.standard_normal((20, 7)).astype(np.float32)
    bs = rng.standard_normal(7).astype(np.float32)
    x = gg.tensor(xs, device="cuda", requires_grad=True)
    W = gg.tensor(ws, device="cuda", requires_grad=True)
    b = gg.tensor(bs, device="cuda", requires_grad=True)
    with gg.autocast(dtype="bfloat16"):
        y = gg.linear(x, W, b, activation="relu")
        m = x @ W
        t = gg.tensordot(x, W, axes=1)
        e = gg.einsum("ij,jk->ik", x, W)
        v = x[0] @ W                                                    # 1-D operand
    ref = _rounded(xs) @ _rounded(ws)
    scale = np.abs(_rounded(xs)) @ np.abs(_rounded(ws))
    for out, want, tol in ((m, ref, scale), (t, ref, scale), (e, ref, scale),
                           (v, ref[0], scale[0]), (y, np.maximum(ref + bs, 0), scale + 1)):
        assert out.dtype == np.float32 and out.device.type == "cuda"
        np.testing.assert_array_less(np.abs(out.numpy() - want), 1e-5 * tol)
    g = rng.standard_normal((6, 7)).astype(np.float32)
    (y * gg.tensor(g, device="cuda")).sum().backward()
    gz = _rounded(g * (ref + bs > 0))
    assert W.grad.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(W.grad.numpy(), _rounded(xs).T @ gz, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.grad.numpy(), gz @ _rounded(ws).T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b.grad.numpy(), (g * (ref + bs > 0)).sum(0), rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
def test_autocast_bf16_matmul_gradients_and_weight_copy_reuse():
    rng = np.random.default_rng(4)
    a = gg.tensor(rng.standard_normal((2, 3, 5)).astype(np.float32), device="cuda",
                  requires_grad=True)
    w = gg.tensor(rng.standard_normal((5, 4)).astype(np.float32), device="cuda",
                  requires_grad=True)
    with gg.autocast(dtype="bfloat16"):
        from gpugrad.autocast_state import low_copy
        first = low_copy(w, "bfloat16", make=kb.to_bf16_bits)
        assert low_copy(w, "bfloat16", make=kb.to_bf16_bits) is first   # reused in the region
        out = a @ w
    out.sum().backward()
    ra, rw = _rounded(a.numpy()), _rounded(w.numpy())
    np.testing.assert_allclose(out.numpy(), ra @ rw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), ra.reshape(-1, 5).T @ np.ones((6, 4)), rtol=1e-5)
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 3, 4)) @ rw.T, rtol=1e-5)
    with pytest.raises(RuntimeError, match=r"not differentiable.*autocast bfloat16 on CUDA.*"
                                           r"gg\.autocast\(enabled=False\)"):
        with gg.autocast(dtype="bfloat16"):
            y = (a @ w).sum()
        y.backward(create_graph=True)


@pytest.mark.cuda
def test_bf16_work_of_a_cuda1_tensor_runs_on_cuda1():
    """cuda:0 current, everything on cuda:1: the parameter's cached bits, the casts, the GEMMs
    (the tests' CuPy stand-in refuses an array of a device that is not current)."""
    if gg.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices (the CuPy stand-in has two)")
    rng = np.random.default_rng(5)
    xs, ws = rng.standard_normal((4, 6)).astype(np.float32), \
        rng.standard_normal((6, 3)).astype(np.float32)
    x = gg.tensor(xs, device="cuda:1", requires_grad=True)
    W = gg.tensor(ws, device="cuda:1", requires_grad=True)
    ops = kb.device_ops()
    start = len(getattr(ops, "calls", []))
    from gpugrad.autocast_state import low_copy
    with gg.autocast(dtype="bfloat16"):
        assert low_copy(W, "bfloat16", make=kb.to_bf16_bits).device.id == 1
        outs = [x @ W, gg.linear(x, W, activation="relu"), x @ (W * 1)]
    sum(o.sum() for o in outs).backward()
    for o, want in zip(outs, (_rounded(xs) @ _rounded(ws),
                              np.maximum(_rounded(xs) @ _rounded(ws), 0), None)):
        assert o.device.index == 1
        if want is not None:
            np.testing.assert_allclose(o.numpy(), want, rtol=1e-5, atol=1e-5)
    assert x.grad.device.index == 1 and W.grad.device.index == 1
    if isinstance(ops, HostDevice):                        # each GEMM on cuda:1 too
        assert {c[-1] for c in ops.calls[start:]} == {1}


@pytest.mark.cuda
def test_compile_refuses_autocast_bf16_on_cuda_clearly():
    from gpugrad.amp import precision_setup
    from gpugrad.capture import CaptureError, training_step
    rng = np.random.default_rng(6)
    model = gg.nn.Sequential(gg.nn.Linear(8, 16, activation="relu"), gg.nn.Linear(16, 4))
    model.to("cuda")
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    x = gg.tensor(rng.standard_normal((32, 8)).astype(np.float32), device="cuda")
    y = gg.tensor(rng.integers(0, 4, 32), device="cuda")
    step = training_step(model, gg.nn.CrossEntropyLoss(), opt, precision_setup("bf16", "cuda"))
    with pytest.raises(CaptureError, match="autocast bfloat16 on CUDA cannot be captured yet; "
                                           "use float16 autocast or run the step uncompiled"):
        step(x, y)

    @gg.compile
    def einsum_step(a):
        with gg.autocast(dtype="bfloat16"):
            return gg.einsum("ij,jk->ik", a, a.T).sum()
    with pytest.raises(CaptureError, match="cannot be captured yet"):
        einsum_step(x)
    with gg.autocast(dtype="bfloat16"):                    # uncompiled: it runs
        assert np.isfinite(gg.cross_entropy(model(x), y).item())


def test_train_refuses_compile_with_bf16_on_cuda():
    from gpugrad.tools.train.config import TrainConfig
    with pytest.raises(ValueError, match="^--compile cannot be combined with --precision bf16 "
                                         "on CUDA: .*use --precision fp16 or drop --compile$"):
        TrainConfig(precision="bf16", device="cuda", compile=True).validate()
    TrainConfig(precision="bf16", device="cpu", compile=True).validate()
    TrainConfig(precision="fp16", device="cuda", compile=True).validate()
    TrainConfig(precision="bf16", device="cuda", compile=False).validate()


@pytest.mark.cuda
def test_float16_parameters_under_bf16_autocast_on_cuda():
    """The optimizer's float16 gradient buffer is not handed to the float32 GEMM as out=:
    the float32 dW comes back and the engine casts it."""
    rng = np.random.default_rng(7)
    lin = gg.nn.Linear(6, 3).to("cuda")
    for p in lin.parameters():
        p.data = p.data.astype(np.float16)
    opt = gg.optim.SGD(lin.parameters(), lr=0.1)
    xs = rng.standard_normal((4, 6)).astype(np.float16)
    with gg.autocast(dtype="bfloat16"):
        y = lin(gg.tensor(xs, device="cuda"))
    y.sum().backward()
    assert lin.weight.grad.dtype == np.float16 and lin.bias.grad.dtype == np.float16
    W = lin.weight.numpy()
    want = _rounded(xs.astype(np.float32)).T @ np.ones((4, 3))         # (in, out)
    got = lin.weight.grad.numpy().astype(np.float64)
    np.testing.assert_allclose(got if W.shape == (6, 3) else got.T, want, rtol=2e-3)
    opt.step()
    assert lin.weight.dtype == np.float16 and np.all(np.isfinite(lin.weight.numpy()))


@pytest.mark.cuda
def test_einsum_rounding_under_bf16_autocast_is_twice_differentiable():
    xs = np.array([0.5, -1.25, 2.0, 3.0078125], np.float32)    # 3.0078125: not a bf16 value
    x = gg.tensor(xs, device="cuda", requires_grad=True)
    with gg.autocast(dtype="bfloat16"):
        y = gg.einsum("i,i->", x, x * x)                        # sum of x**3, operands rounded
    from gpugrad import autograd
    (g,) = autograd.grad(y, [x], create_graph=True)
    r, r2 = _rounded(xs), _rounded(xs * xs)          # the rounding passes gradients through
    np.testing.assert_allclose(g.numpy(), r2 + 2 * xs * r, rtol=1e-6)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * xs + 2 * r, rtol=1e-6)


def test_precision_bf16_is_allowed_on_cuda():
    from gpugrad.amp import precision_setup
    p = precision_setup("bf16", "cuda")
    assert p.dtype.name == "bfloat16" and p.scaler is None


@pytest.mark.parametrize("module", ["gpugrad.kernels.cublas_bf16", "gpugrad.kernels.bf16_host",
                                    "gpugrad.kernels.bf16_linear",
                                    "gpugrad.kernels.bf16_selfcheck"])
def test_docstring_examples(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
