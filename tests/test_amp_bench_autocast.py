"""The bench's mixed-precision implementations (gpugrad/tools/bench/autocast_impls.py) and the
agreement check on them: a step must agree with float32 to the 16-bit tolerances AND show that
its products ran in 16 bits (its loss differs from float32's by more than float32 rounding, and
the low-precision casts / layers / bfloat16 GEMMs were counted running), so that an autocast
that silently did nothing fails."""
import numpy as np
import pytest

import gpugrad as gg


def _count_low_precision(monkeypatch, impls):
    """{name: [count]}: gpugrad autocast's casts to a 16-bit dtype (autocast_state._cast) and
    torch Linear outputs in a 16-bit dtype, per implementation."""
    from gpugrad import autocast_state
    counts = {n: [0] for n in impls}
    current = [None]
    cast = autocast_state._cast

    def counting_cast(t, dt):
        counts[current[0]][0] += 1
        return cast(t, dt)
    monkeypatch.setattr(autocast_state, "_cast", counting_cast)
    for n, im in impls.items():
        if n.startswith("torch"):
            torch = im.torch
            for m in im.model.modules():
                if isinstance(m, torch.nn.Linear):
                    m.register_forward_hook(lambda mod, inp, out, n=n: counts[n].__setitem__(
                        0, counts[n][0] + (out.dtype in (torch.bfloat16, torch.float16))))
    return counts, current


def test_bench_autocast_impls_run_a_step_on_the_cpu(monkeypatch):
    pytest.importorskip("torch")
    from gpugrad.tools.bench import TARGETS
    from gpugrad.tools.bench import autocast_impls as ai
    from gpugrad.tools.bench import workloads as bw
    wl = bw.WORKLOADS["W2"]
    assert "gpugrad-bf16" not in bw.impl_names(wl, "cpu")                  # only when named
    names = list(ai.AUTOCAST_IMPLS)
    assert bw.impl_names(wl, "cpu", names)[-4:] == names
    impls = bw.make_impls(wl, "cpu", names, batch=8)
    ref = bw.make_impls(wl, "cpu", ["numpy"], batch=8)["numpy"]
    counts, current = _count_low_precision(monkeypatch, impls)
    start = ref.params()
    ref.step()
    for n, im in impls.items():
        current[0] = n
        im.step()
        im.sync()
        err = abs(im.loss() - ref.loss())
        assert err <= ai.tolerances(n, 0, 0)[0] * ref.loss(), n
        assert err > 1e-6 * ref.loss(), n              # more than float32 rounding: 16 bits
        assert counts[n][0] >= 2, (n, counts[n])       # both layers' products ran in 16 bits
        moved = [float(np.linalg.norm(p - p0)) for p, p0 in zip(im.params(), start)]
        assert all(m > 0 for m in moved), n                                  # it stepped
    assert ai.peer_ratios({"gpugrad-bf16": 0.8, "torch-bf16": 1.0}) == {
        "gpugrad-bf16/torch-bf16": 0.8}
    assert any(t[3] == "gpugrad-bf16/torch-bf16" and t[2] == "W3" for t in TARGETS)


def test_check_agreement_refuses_a_mixed_precision_step_that_ran_in_float32(monkeypatch):
    pytest.importorskip("ml_dtypes")
    from gpugrad.tools.bench import autocast_impls as ai
    from gpugrad.tools.bench import workloads as bw
    from gpugrad.tools.bench.check import check_agreement
    wl = bw.WORKLOADS["W2"]
    names = ["gpugrad-bf16", "gpugrad-fp16"]
    good = check_agreement(wl, "cpu", names, steps=2, batch=8)
    assert good["agree"], good["disagreements"]

    def float32_step(self):                      # the same step with autocast switched off
        with gg.autocast(dtype=self.dtype, enabled=False):
            loss = self.ce(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        self._loss = loss
    monkeypatch.setattr(ai.GpugradAutocast, "step", float32_step)
    bad = check_agreement(wl, "cpu", names, steps=2, batch=8)
    assert not bad["agree"] and len(bad["disagreements"]) == 2
    assert all("did not run in 16 bits" in d for d in bad["disagreements"])


@pytest.mark.cuda
def test_bench_bf16_step_on_cuda_runs_bf16_gemms(monkeypatch):
    pytest.importorskip("ml_dtypes")
    from gpugrad.ops import bf16_cuda
    from gpugrad.tools.bench import workloads as bw
    ran = []
    forward = bf16_cuda.Bf16Linear.forward
    monkeypatch.setattr(bf16_cuda.Bf16Linear, "forward",
                        lambda self, *a, **k: ran.append(1) or forward(self, *a, **k))
    wl = bw.WORKLOADS["W2"]
    im = bw.make_impls(wl, "cuda", ["gpugrad-bf16"], batch=8)["gpugrad-bf16"]
    ref = bw.make_impls(wl, "cuda", ["numpy"], batch=8)["numpy"]
    im.step()
    ref.step()
    im.sync()
    assert len(ran) >= 2                                     # every layer: a bfloat16 GEMM
    assert 1e-6 * ref.loss() < abs(im.loss() - ref.loss()) <= 1e-2 * ref.loss()
