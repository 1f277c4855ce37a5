"""gg.amp.GradScaler: skips exactly the overflowing steps and moves the scale as PyTorch's
GradScaler does on the same gradient sequence; state_dict; misuse errors; the device path
(a skipped step undone by a flag, no host read) run on NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.amp import GradScaler, grad_scaler

# gradients of the (unscaled) loss at each step: inf/nan at steps 2, 3 and 6
def _grad_sequence(rng, n=12):
    seq = []
    for k in range(n):
        g = rng.standard_normal(5).astype(np.float32)
        if k in (2, 6):
            g[1] = np.inf
        if k == 3:
            g[4] = np.nan
        seq.append(g)
    return seq


def _run_gpugrad(seq, masked=False, **kw):
    p = gg.nn.Parameter(gg.ones(5))
    opt = gg.optim.SGD([p], lr=0.1, momentum=0.9)
    scaler = GradScaler(**kw)
    scales, results = [], []
    for g in seq:
        opt.zero_grad()
        loss = scaler.scale((p * gg.tensor(g)).sum())   # d loss / d p = scale * g
        loss.backward()
        if masked:   # the CUDA path on NumPy arrays: the flag stays on the "device"
            scaler.unscale_(opt)
            found = scaler._found[id(opt)][0]
            scaler._found[id(opt)] = (found, grad_scaler._STEPPED)
            grad_scaler._masked_step(opt, found)
            results.append(None)
        else:
            results.append(scaler.step(opt))
        scaler.update()
        scales.append(scaler.get_scale())
    return p.numpy(), scales, results, scaler


KW = dict(init_scale=2.0 ** 10, growth_interval=3)


def test_skips_exactly_the_overflowing_steps(rng):
    seq = _grad_sequence(rng)
    p, scales, _, _ = _run_gpugrad(seq, **KW)
    # the same run by hand: SGD with momentum over the finite steps only, the scale halving
    # after each overflow and doubling after 3 clean steps in a row
    w, buf, first = np.ones(5, np.float32), None, True
    s, clean, want_scales = 2.0 ** 10, 0, []
    for g in seq:
        if np.isfinite(g).all():
            gs = (g * np.float32(s)) * np.float32(1 / s)
            buf = gs if first else np.float32(0.9) * buf + gs
            first = False
            w = w - np.float32(0.1) * buf
            clean += 1
            if clean == 3:
                s, clean = s * 2, 0
        else:
            s, clean = s * 0.5, 0
        want_scales.append(s)
    assert scales == want_scales
    np.testing.assert_allclose(p, w, rtol=1e-6, atol=1e-6)


@pytest.mark.torch
def test_matches_torch_grad_scaler(rng):
    torch = pytest.importorskip("torch")
    seq = _grad_sequence(rng)
    p, scales, results, scaler = _run_gpugrad(seq, **KW)
    tp = torch.nn.Parameter(torch.ones(5))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    ts = torch.amp.GradScaler("cpu", **KW)
    tscales, tresults = [], []
    for g in seq:
        topt.zero_grad()
        ts.scale((tp * torch.tensor(g)).sum()).backward()
        tresults.append(ts.step(topt))
        ts.update()
        tscales.append(ts.get_scale())
    assert scales == tscales
    assert results == tresults          # None on each skipped step, as torch returns
    # (atol: one rounding of a value cancelled to ~0.03; torch fuses a multiply-add there)
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert scaler.state_dict() == ts.state_dict()


def test_device_path_masks_the_skipped_steps(rng):
    seq = _grad_sequence(rng)
    p_sync, scales_sync, _, _ = _run_gpugrad(seq, **KW)
    p_masked, scales_masked, _, _ = _run_gpugrad(seq, masked=True, **KW)
    assert scales_masked == scales_sync
    np.testing.assert_allclose(p_masked, p_sync, rtol=1e-6)


def test_unscale_then_step_and_misuse_errors():
    p = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([p], lr=1.0)
    scaler = GradScaler(init_scale=8.0)
    scaler.scale((p * 3).sum()).backward()
    assert p.grad.tolist() == [24.0, 24.0]
    scaler.unscale_(opt)
    assert p.grad.tolist() == [3.0, 3.0]
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.step(opt)
    scaler.update()
    assert p.tolist() == [-2.0, -2.0]
    with pytest.raises(RuntimeError, match="Closure"):
        scaler.step(opt, closure=lambda: None)
    with pytest.raises(ValueError, match="growth_factor"):
        GradScaler(growth_factor=1.0)


def test_state_dict_round_trip_and_disabled():
    a = GradScaler(init_scale=32.0, growth_interval=7)
    a.scale(gg.ones(1))
    b = GradScaler()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == {"scale": 32.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                              "growth_interval": 7, "_growth_tracker": 0}
    off = GradScaler(enabled=False)
    x = gg.ones(2)
    assert off.scale(x) is x and off.state_dict() == {} and off.get_scale() == 1.0


# ------------------------------------------------- CUDA: the skip happens inside the kernels
SCALED_OPTIMIZERS = {
    "sgd-dampened": lambda ps: gg.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.3),
    "adam": lambda ps: gg.optim.Adam(ps, lr=0.05),
    "adamw-amsgrad": lambda ps: gg.optim.AdamW(ps, lr=0.05, amsgrad=True),
}


def _run_scaled(device, make, seq):
    w = gg.nn.Parameter(gg.ones(5, device=device))
    b = gg.nn.Parameter(gg.zeros(3, device=device))
    opt = make([w, b])
    scaler = GradScaler(**KW)
    with np.errstate(invalid="ignore"):                # inf * 0 in the overflowing steps
        for g in seq:
            opt.zero_grad()
            loss = (w * gg.tensor(g, device=device)).sum() + (b * float(g[0])).sum()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    return [w, b], opt, scaler


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(SCALED_OPTIMIZERS))
def test_cuda_skipped_steps_leave_weights_buffers_and_counts_as_the_cpu(name, rng,
                                                                         monkeypatch):
    """On CUDA the found-inf flag stays on the device and goes into the fused kernels; the
    step counts Adam's bias corrections (and SGD's first step) depend on are kept there too.
    A skipped first step included, the result is the CPU's (which skips on the host)."""
    from conftest import to_numpy

    def no_masked_step(*a, **k):
        raise AssertionError("SGD/Adam must skip inside their kernels, not by undoing")

    monkeypatch.setattr(grad_scaler, "_masked_step", no_masked_step)
    seq = _grad_sequence(rng)
    seq[0] = seq[0].copy()
    seq[0][0] = np.inf                                 # the very first step is skipped too
    make = SCALED_OPTIMIZERS[name]
    cpu_params, cpu_opt, cpu_scaler = _run_scaled("cpu", make, seq)
    gpu_params, gpu_opt, gpu_scaler = _run_scaled("cuda", make, seq)
    assert gpu_scaler.get_scale() == cpu_scaler.get_scale()
    for pc, pg in zip(cpu_params, gpu_params):
        np.testing.assert_allclose(to_numpy(pg), to_numpy(pc), rtol=1e-6, atol=1e-7)
        for key, value in cpu_opt.state[pc].items():
            got = gpu_opt.state[pg][key]
            if key == "step":                          # a count on the device, not advanced
                assert int(to_numpy(got).reshape(())) == value == 8      # 12 - 4 skipped
            else:
                np.testing.assert_allclose(to_numpy(got), to_numpy(value), rtol=1e-6,
                                           atol=1e-7)
    sd = gpu_opt.state_dict()                          # loads back (on the CPU too)
    cpu_opt.load_state_dict(sd)
    assert all(st.get("step", 8) == 8 for st in cpu_opt.state.values())


# ------------------------------------------------- 16-bit gradients (parameters kept in 16 bits)
def test_unscale_refuses_float16_gradients_and_changes_none():
    """As PyTorch ("Attempting to unscale FP16 gradients"): a float16 gradient divided by
    the scale in float16 flushes to zero below 6e-8 (the very underflow loss scaling exists
    to avoid; a scale past 2**24 turns the whole gradient to 0)."""
    a = gg.nn.Parameter(gg.ones(2))
    h = gg.nn.Parameter(gg.ones(2, dtype="float16"))
    opt = gg.optim.SGD([a, h], lr=0.1)
    scaler = GradScaler(init_scale=2.0 ** 25)
    scaler.scale((a * 1e-6).sum() + (h.astype("float32") * 1e-6).sum()).backward()
    before = (a.grad.numpy().copy(), h.grad.numpy().copy())
    with pytest.raises(ValueError, match="float16"):
        scaler.step(opt)
    np.testing.assert_array_equal(a.grad.numpy(), before[0])   # nothing half-unscaled
    np.testing.assert_array_equal(h.grad.numpy(), before[1])
    assert a.tolist() == [1.0, 1.0]


def test_unscale_of_bfloat16_gradients_rounds_once():
    """A bfloat16 gradient times the float32 1/scale, rounded once to bfloat16 (PyTorch's
    unscale computes in float32): not times 1/scale first rounded to bfloat16."""
    pytest.importorskip("ml_dtypes")
    bf = gg.dtypes.as_dtype("bfloat16")
    g = (np.random.default_rng(0).standard_normal(256) * 3).astype(bf)
    p = gg.nn.Parameter(gg.zeros(256, dtype="bfloat16"))

    class Opt:  # unscale_ reads only param_groups (gpugrad's optimizers take no bfloat16)
        param_groups = [{"params": [p]}]
    opt = Opt()
    scaler = GradScaler(init_scale=3.0)
    scaler.scale(gg.tensor(1.0))                   # the scale's arrays exist
    p.grad = gg.tensor(g.copy())
    scaler.unscale_(opt)
    inv = np.float32(1.0 / np.float64(3.0))
    want = (g.astype(np.float32) * inv).astype(bf)
    np.testing.assert_array_equal(p.grad.numpy().astype(np.float32), want.astype(np.float32))


def test_step_without_scale_raises_instead_of_dividing_unscaled_gradients():
    """As PyTorch: unscale_/step/update before any scale() (the loss went through a plain
    backward) raise; they must not divide the unscaled gradients by 65536."""
    p = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([p], lr=1.0)
    scaler = GradScaler()
    (p * 3).sum().backward()
    for call in (lambda: scaler.unscale_(opt), lambda: scaler.step(opt), scaler.update):
        with pytest.raises(RuntimeError, match="scale"):
            call()
    assert p.grad.tolist() == [3.0, 3.0] and p.tolist() == [1.0, 1.0]


def test_update_new_scale_must_be_one_element():
    p = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([p], lr=1.0)
    scaler = GradScaler(init_scale=8.0)
    scaler.scale(p.sum()).backward()
    scaler.step(opt)
    with pytest.raises(ValueError, match="one element"):
        scaler.update(gg.tensor([4.0, 2.0]))
    scaler.update(gg.tensor([4.0]))
    assert scaler.get_scale() == 4.0


@pytest.mark.torch
@pytest.mark.parametrize("backoff,growth", [(0.9, 1.1), (0.3, 3.0), (0.7, 1.7)])
def test_factors_that_float32_does_not_hold_move_the_scale_as_torch(rng, backoff, growth):
    """PyTorch multiplies the float32 scale by the factor in double and rounds once."""
    torch = pytest.importorskip("torch")
    kw = dict(init_scale=1000.0, growth_interval=1, backoff_factor=backoff,
              growth_factor=growth)
    seq = _grad_sequence(rng)
    _, scales, _, scaler = _run_gpugrad(seq, **kw)
    tp = torch.nn.Parameter(torch.ones(5))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    ts = torch.amp.GradScaler("cpu", **kw)
    tscales = []
    for g in seq:
        topt.zero_grad()
        ts.scale((tp * torch.tensor(g)).sum()).backward()
        ts.step(topt)
        ts.update()
        tscales.append(ts.get_scale())
    assert scales == tscales
    assert scaler.state_dict() == ts.state_dict()


def test_growth_past_float32_max_keeps_the_scale():
    p = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([p], lr=0.0)
    big = float(np.finfo(np.float32).max) / 1.5
    scaler = GradScaler(init_scale=big, growth_factor=2.0, growth_interval=1)
    scaler.scale((p * 0).sum()).backward()
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == float(np.float32(big)) and scaler._get_growth_tracker() == 0


def test_step_with_no_gradient_raises_as_torch_and_counts_no_clean_step():
    """PyTorch: "No inf checks were recorded for this optimizer." -- a step whose optimizer
    holds no gradient checked nothing, so it must not count towards growing the scale."""
    p = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([p], lr=0.1)
    scaler = GradScaler(init_scale=4.0, growth_interval=1)
    scaler.scale((p * 2).sum())                  # no backward: p.grad is None
    with pytest.raises(RuntimeError, match="No inf checks were recorded for this optimizer"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="No inf checks were recorded prior to update"):
        scaler.update()
    assert scaler.get_scale() == 4.0 and p.tolist() == [1.0, 1.0]
    scaler = GradScaler(init_scale=4.0, growth_interval=1)
    other = gg.optim.SGD([gg.nn.Parameter(gg.ones(1))], lr=0.1)   # two optimizers, one
    scaler.scale((p * 2).sum()).backward()                       # with gradients
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="No inf checks were recorded for this optimizer"):
        scaler.step(other)
    scaler.update()                               # the checked optimizer counts
    assert scaler.get_scale() == 8.0
