"""GPU checks of features the CPU suite reaches only through stand-ins: float16 autocast with
GradScaler against float32 training, gg.compile's CUDA-graph replay against the eager step
(and its speed next to PyTorch eager, W4), the FFT ops on CuPy against NumPy and torch.fft,
and the optimizer's all-or-nothing step on CUDA.

    python bench/gpu_feature_check.py [--out results.json] [--steps N]

Prints one line per check and writes every number to ``--out``; exit status 1 when a check
fails.  Needs a CUDA GPU with CuPy; PyTorch is optional (its comparisons are skipped).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback

import numpy as np

import gpugrad as gg

RESULTS = {}


def check(name):
    def wrap(fn):
        t0 = time.perf_counter()
        try:
            info = fn() or {}
            RESULTS[name] = {"ok": bool(info.pop("ok", True)), **info}
        except Exception as e:  # a check that raises is a failed check, and the next one runs
            RESULTS[name] = {"ok": False, "error": f"{type(e).__name__}: {e}",
                             "traceback": traceback.format_exc()[-3000:]}
        RESULTS[name]["seconds"] = round(time.perf_counter() - t0, 3)
        shown = {k: v for k, v in RESULTS[name].items() if k != "traceback"}
        print(f"{name}: {shown}", flush=True)
        return fn
    return wrap


def _sync():
    import cupy
    cupy.cuda.runtime.deviceSynchronize()


def _data(batch, sizes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch)
    return gg.tensor(x, device="cuda"), gg.tensor(y, device="cuda")


def _model(sizes, seed=0):
    gg.manual_seed(seed)
    return gg.nn.MLP(sizes).to("cuda")


def amp_fp16_tracks_fp32(steps):
    sizes = [256, 512, 512, 10]
    x, y = _data(512, sizes)
    curves = {}
    for mode in ("fp32", "fp16"):
        model = _model(sizes)
        opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        scaler = gg.amp.GradScaler() if mode == "fp16" else None
        losses = []
        for _ in range(steps):
            if scaler is None:
                loss = gg.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
            else:
                with gg.autocast(dtype="float16"):
                    logits = model(x)
                    loss = gg.cross_entropy(logits, y)
                assert logits.dtype == np.float16 and loss.dtype == np.float32
                scaler.scale(loss).backward()
                assert model[0].weight.grad.dtype == np.float32
                scaler.step(opt)
                scaler.update()
            opt.zero_grad()
            losses.append(loss)
        curves[mode] = np.array([float(v.item()) for v in losses])
    w = max(1, steps // 10)
    a = curves["fp32"][: steps // w * w].reshape(-1, w).mean(1)
    b = curves["fp16"][: steps // w * w].reshape(-1, w).mean(1)
    rel = float(np.max(np.abs(a - b) / (np.abs(a) + 1e-2)))
    return {"ok": rel < 0.05 and b[-1] < b[0], "max_window_rel_diff": rel,
            "fp32_first_last": [float(a[0]), float(a[-1])],
            "fp16_first_last": [float(b[0]), float(b[-1])]}


def grad_scaler_skips_inf():
    p = gg.nn.Parameter(gg.ones(4, device="cuda"))
    opt = gg.optim.SGD([p], lr=0.1)
    scaler = gg.amp.GradScaler(init_scale=8.0)
    before = p.data.copy()
    (p * gg.tensor([1.0, float("inf"), 1.0, 1.0], device="cuda")).sum().backward()
    scaler.step(opt)
    scaler.update()
    unchanged = bool((p.data == before).all())
    return {"ok": unchanged and float(scaler.get_scale()) == 4.0,
            "params_unchanged": unchanged, "scale_after": float(scaler.get_scale())}


def compile_matches_eager_and_speed(steps):
    sizes = [1024, 1024, 1024, 10]
    x, y = _data(1024, sizes)
    out = {}
    params = {}
    for mode in ("eager", "compiled"):
        model = _model(sizes)
        opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(xb, yb):
            loss = gg.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss

        fn = gg.compile(step) if mode == "compiled" else step
        for _ in range(10):
            fn(x, y)
        _sync()
        params[mode] = [p.data.get() for p in model.parameters()]
        t0 = time.perf_counter()
        for _ in range(steps):
            fn(x, y)
        _sync()
        out[f"{mode}_ms_per_step"] = (time.perf_counter() - t0) / steps * 1e3
    diff = max(float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + 1e-30))
               for a, b in zip(params["eager"], params["compiled"]))
    out["max_rel_param_diff_after_10_steps"] = diff
    try:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                                  torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                                  torch.nn.Linear(1024, 10)).cuda()
        topt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        tx = torch.as_tensor(x.data.get(), device="cuda")
        ty = torch.as_tensor(y.data.get(), device="cuda")

        def tstep():
            loss = torch.nn.functional.cross_entropy(net(tx), ty)
            loss.backward()
            topt.step()
            topt.zero_grad()
        for _ in range(10):
            tstep()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            tstep()
        torch.cuda.synchronize()
        out["torch_eager_ms_per_step"] = (time.perf_counter() - t0) / steps * 1e3
        out["compiled_over_torch"] = out["compiled_ms_per_step"] / out["torch_eager_ms_per_step"]
        out["eager_over_torch"] = out["eager_ms_per_step"] / out["torch_eager_ms_per_step"]
    except ImportError:
        pass
    out["ok"] = diff < 1e-4
    return out


def fft_on_cupy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((8, 33))
    t = gg.tensor(a, device="cuda", requires_grad=True)
    errs = {}
    for name, ref in (("rfft", np.fft.rfft), ("fft", np.fft.fft), ("ihfft", np.fft.ihfft)):
        got = getattr(gg.fft, name)(t, norm="ortho").data.get()
        errs[name] = float(np.max(np.abs(got - ref(a, norm="ortho"))))
    y = gg.fft.irfft(gg.fft.rfft(t), n=33)
    (y * y).sum().backward()
    g = t.grad.data.get()
    ok = max(errs.values()) < 1e-12 and np.allclose(g, 2 * a, atol=1e-10)
    try:
        import torch
        tt = torch.tensor(a, device="cuda", requires_grad=True)
        torch.fft.rfft(tt, norm="ortho").abs().pow(2).sum().backward()
        t.grad = None
        (gg.abs(gg.fft.rfft(t, norm="ortho")) ** 2).sum().backward()
        errs["grad_vs_torch"] = float(np.max(np.abs(t.grad.data.get() - tt.grad.cpu().numpy())))
        ok = ok and errs["grad_vs_torch"] < 1e-10
    except ImportError:
        pass
    return {"ok": ok, **errs}


def optimizer_step_all_or_nothing():
    a = gg.nn.Parameter(gg.ones(3, device="cuda"))
    b = gg.nn.Parameter(gg.ones(2, device="cuda"))
    opt = gg.optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad = gg.ones(3, device="cuda")
    b.grad = gg.ones(5, device="cuda")       # wrong shape in the second group
    try:
        opt.step()
        raised = False
    except (RuntimeError, ValueError):
        raised = True
    return {"ok": raised and bool((a.data == 1).all()), "raised": raised}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    if not gg.cuda.is_available():
        print("no CUDA GPU with CuPy here", file=sys.stderr)
        return 2
    check("amp_fp16_tracks_fp32")(lambda: amp_fp16_tracks_fp32(args.steps))
    check("grad_scaler_skips_inf")(grad_scaler_skips_inf)
    check("compile_cuda_graph_w4")(lambda: compile_matches_eager_and_speed(args.steps))
    check("fft_on_cupy")(fft_on_cupy)
    check("optimizer_step_all_or_nothing")(optimizer_step_all_or_nothing)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(RESULTS, f, indent=1)
    failed = [k for k, v in RESULTS.items() if not v["ok"]]
    print("FAILED: " + ", ".join(failed) if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
