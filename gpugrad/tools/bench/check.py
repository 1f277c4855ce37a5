"""The agreement check of ``gpugrad bench``: before a workload is timed, fresh copies of its
implementations run from the same start and must compute the same step (a time is worth
nothing if the step it times is wrong).

For an MLP, every implementation runs a few steps against the hand-written NumPy backprop:
each step's loss, and each parameter's change after the steps (the change, not the value: a
missing optimizer step moves a parameter by ~1e-3 of its size but gets its change 100%
wrong).  For the layer, one forward + backward against a float64 computation.
"""
from __future__ import annotations

import math

import numpy as np

from gpugrad.tools.bench import workloads as bw

__all__ = ["check_agreement", "LOSS_RTOL", "UPDATE_RTOL", "LAYER_RTOL"]

# An MLP implementation agrees with the reference (the hand-written NumPy/CuPy backprop, float32)
# when every step's loss matches to LOSS_RTOL and, after the k steps, every parameter's update
# p_k - p_0 matches the reference's to UPDATE_RTOL (norm-relative). The update, not the
# parameter, is compared: a missing or wrong optimizer step changes p_k by only ~1e-3 of |p|,
# but its update by ~100%. Float32 differences measured on W1/W2 (CPU): losses 1e-7, updates
# 2e-3 at most (torch; rounding of p_k - p_0 where |update| << |p|).
LOSS_RTOL, UPDATE_RTOL = 1e-4, 1e-2
# The layer: output and gradients against a float64 reference, norm-relative. A gradient may
# differ where a pre-activation within rounding of 0 takes the other side of the ReLU (one such
# element moves dW or db by ~1e-3 of its norm), hence the looser gradient tolerance.
LAYER_RTOL = {"y": 1e-5, "gx": 3e-3, "gW": 3e-3, "gb": 3e-3}


def _nan_inf(v: float) -> float:
    return math.inf if math.isnan(v) else v


def _rel(a, ref) -> float:
    """||a - ref|| / ||ref||; inf for NaN or for a nonzero ``a`` against a zero ``ref``."""
    num, den = float(np.linalg.norm(a - ref)), float(np.linalg.norm(ref))
    return _nan_inf(num / den if den > 0 else (0.0 if num == 0 else math.inf))


def check_agreement(wl, device: str, impls=None, steps: int = 3, batch=None) -> dict | None:
    """Run fresh copies of the implementations of ``wl`` (those named in ``impls``, default all
    available; never ``gemm``, which computes no step) from the same weights and batch, and
    compare them with a reference: for an MLP, ``steps`` steps of each against the hand-written
    ``numpy`` one (built here even when not timed): every loss and every parameter's update;
    for the layer, one forward + backward of each against a float64 computation: output, dx,
    dW and db. Returns ``{"reference", "steps", "errors": {impl: {what: relative error}},
    "tolerances", "disagreements": [one message per failing implementation], "agree"}``, or
    None when nothing is left to compare.

    >>> r = check_agreement(bw.WORKLOADS["W2"], "cpu", ["gpugrad", "numpy"])   # doctest: +SKIP
    >>> r["agree"], r["disagreements"]                                          # doctest: +SKIP
    (True, [])
    """
    names = [n for n in bw.impl_names(wl, device, impls)
             if n != "gemm" and (not impls or n in impls)]
    where = f"{wl.name} ({device})"
    if wl.kind == "layer":
        if not names:
            return None
        return _check_layer(wl, device, names, batch, where)
    if not names:
        return None
    names = [n for n in names if n != "numpy"]
    built = bw.make_impls(wl, device, ["numpy"] + names, batch=batch)
    ref = built["numpy"]
    start = ref.params()
    losses = {n: [] for n in built}
    for _ in range(steps):
        for n, im in built.items():
            im.step()
            im.sync()
            losses[n].append(im.loss())
    final = {n: im.params() for n, im in built.items()}
    del built
    out = {"reference": "numpy", "steps": steps, "errors": {}, "disagreements": [],
           "tolerances": {"loss": LOSS_RTOL, "update": UPDATE_RTOL}}
    ref_moves = [float(np.linalg.norm(r - p0)) for r, p0 in zip(final["numpy"], start)]
    bad_ref = [i for i, m in enumerate(ref_moves) if not m > 0]
    if bad_ref or not all(math.isfinite(v) for v in losses["numpy"]):
        out["disagreements"].append(
            f"numpy (the reference) is broken on {where}: after {steps} steps, parameters "
            f"{[_param_name(i) for i in bad_ref]} did not change; losses {losses['numpy']}")
    from gpugrad.tools.bench.autocast_impls import MIN_DIFFERENCE, ran_in_16_bits, tolerances
    for n in names:
        loss_tol, upd_tol = tolerances(n, LOSS_RTOL, UPDATE_RTOL)   # 16-bit ones: looser
        if (loss_tol, upd_tol) != (LOSS_RTOL, UPDATE_RTOL):
            out["tolerances"][n] = {"loss": loss_tol, "update": upd_tol}
        loss_err = [_nan_inf(abs(a - r) / max(abs(r), 1e-30))
                    for a, r in zip(losses[n], losses["numpy"])]
        upd_err = [_rel(a - p0, r - p0) if a.shape == r.shape else math.inf
                   for a, r, p0 in zip(final[n], final["numpy"], start)]
        if len(final[n]) != len(start):
            upd_err.append(math.inf)
        errs = {"loss": max(loss_err, default=0.0), "update": max(upd_err, default=0.0)}
        out["errors"][n] = errs
        why = []
        if not errs["loss"] <= loss_tol:
            i = int(np.argmax(loss_err))
            why.append(f"loss of step {i + 1} {losses[n][i]:.7g}, expected {losses['numpy'][i]:.7g}"
                       f" (relative error {loss_err[i]:.1e} > {loss_tol:g})")
        if not errs["update"] <= upd_tol:
            i = int(np.argmax(upd_err))
            why.append(f"update of {_param_name(i)} after {steps} steps off by {upd_err[i]:.1e} "
                       f"of its norm (> {upd_tol:g})")
        if not ran_in_16_bits(n, errs["loss"], errs["update"]):   # autocast did nothing
            why.append(f"losses and updates within float32 rounding of the reference ("
                       f"{errs['loss']:.1e} <= {MIN_DIFFERENCE[0]:g}, {errs['update']:.1e} <= "
                       f"{MIN_DIFFERENCE[1]:g}): its products did not run in 16 bits")
        if why:
            out["disagreements"].append(f"{n} disagrees with numpy on {where}: " + "; ".join(why))
    out["agree"] = not out["disagreements"]
    return out


def _param_name(i: int) -> str:
    return f"{'Wb'[i % 2]}{i // 2}"


def _check_layer(wl, device, names, batch, where) -> dict:
    built = bw.make_impls(wl, device, names, batch=batch)
    results = {}
    for n, im in built.items():
        im.step()
        im.sync()
        results[n] = im.results()
    del built
    xp = bw.xp_for(device)                  # the float64 reference, on the device
    x, _, ((W, b),) = bw.make_data(wl, device, batch=batch)
    gy = bw.layer_upstream_grad(x.shape[0], W.shape[1])
    x, W, b, gy = (xp.asarray(a, dtype=xp.float64) for a in (x, W, b, gy))
    z = x @ W + b
    gz = gy * (z > 0)
    ref = {k: bw.to_numpy(v) for k, v in (("y", xp.maximum(z, 0)), ("gx", gz @ W.T),
                                          ("gW", x.T @ gz), ("gb", gz.sum(axis=0)))}
    out = {"reference": "float64", "steps": 1, "errors": {}, "disagreements": [],
           "tolerances": dict(LAYER_RTOL)}
    for n, r in results.items():
        errs = {k: _rel(r[k].astype(np.float64), ref[k]) if r[k].shape == ref[k].shape
                else math.inf for k in ref}
        out["errors"][n] = errs
        why = [f"{k} off by {e:.1e} of its norm (> {LAYER_RTOL[k]:g})"
               + ("" if results[n][k].shape == ref[k].shape else
                  f" (shape {results[n][k].shape}, expected {ref[k].shape})")
               for k, e in errs.items() if not e <= LAYER_RTOL[k]]
        if why:
            out["disagreements"].append(f"{n} disagrees with the float64 reference on {where}: "
                                        + "; ".join(why))
    out["agree"] = not out["disagreements"]
    return out
