"""`gpugrad bench` times only implementations that compute the same thing: before timing, each
runs a few steps from the same start and its losses and parameter updates (the layer: output and
gradients) must match the reference, or the run exits 1 naming the one that disagreed.

The breakages below are the bugs these checks exist for (a training step that never updates, a
wrong momentum, gradients left to accumulate, a layer without its bias or its ReLU mask); each
must be caught, and the correct implementations must pass. Sizes are CI-sized (W2, a few steps;
the layer at a batch of 8)."""
import importlib.util
import json

import numpy as np
import pytest

from gpugrad.tools import bench as bench

from gpugrad.tools.bench import check as bench_check

from gpugrad.tools.bench import workloads as bw

HAS_TORCH = importlib.util.find_spec("torch") is not None
W2, LAYER = bw.WORKLOADS["W2"], bw.WORKLOADS["layer"]
MLP_IMPLS = ["gpugrad", "compiled", "numpy"] + (["torch"] if HAS_TORCH else []) \
    + (["jax"] if importlib.util.find_spec("jax") is not None else [])


def _no_step(self):                       # forward + backward, but the optimizer never steps
    loss = self.ce(self.model(self.x), self.y)
    loss.backward()
    self.opt.zero_grad()
    self._loss = loss


def _no_zero_grad(self):                  # gradients accumulate from step to step
    loss = self.ce(self.model(self.x), self.y)
    loss.backward()
    self.opt.step()
    self._loss = loss


# --------------------------------------------------------------------------- the MLP step

def test_implementations_agree_over_several_steps():
    r = bench.check_agreement(W2, "cpu", steps=3)
    assert (r["agree"], r["disagreements"], r["reference"], r["steps"]) == (True, [], "numpy", 3)
    assert set(r["errors"]) == set(MLP_IMPLS) - {"numpy"}
    for name, errs in r["errors"].items():
        assert errs["loss"] <= bench_check.LOSS_RTOL and errs["update"] <= bench_check.UPDATE_RTOL, name


def test_the_reference_trains():
    """The numpy reference's own steps move every parameter and lower the loss (else an
    implementation that also does nothing would agree with it)."""
    im = bw.make_impls(W2, "cpu", ["numpy"])["numpy"]
    start, losses = im.params(), []
    for _ in range(3):
        im.step()
        losses.append(im.loss())
    assert losses[0] > losses[1] > losses[2]
    assert all((a != b).any() for a, b in zip(im.params(), start))


@pytest.mark.parametrize("breakage", [_no_step, _no_zero_grad], ids=["no-step", "no-zero-grad"])
def test_a_broken_gpugrad_step_is_caught(monkeypatch, breakage):
    monkeypatch.setattr(bw.GpugradMLP, "step", breakage)
    r = bench.check_agreement(W2, "cpu", ["gpugrad", "numpy"], steps=3)
    assert r["agree"] is False
    [msg] = r["disagreements"]
    assert msg.startswith("gpugrad disagrees with numpy on W2 (cpu):"), msg
    assert r["errors"]["gpugrad"]["update"] > 10 * bench_check.UPDATE_RTOL


def test_a_wrong_momentum_is_caught(monkeypatch):
    init = bw.GpugradMLP.__init__

    def init_without_momentum(self, *a, **k):
        init(self, *a, **k)
        for g in self.opt.param_groups:
            g["momentum"] = 0.0
    monkeypatch.setattr(bw.GpugradMLP, "__init__", init_without_momentum)
    r = bench.check_agreement(W2, "cpu", ["gpugrad", "numpy"], steps=3)
    assert not r["agree"] and "update of" in r["disagreements"][0]


def test_a_single_step_would_not_catch_it(monkeypatch):
    """Why several steps: with only one, the loss is computed before any update."""
    monkeypatch.setattr(bw.GpugradMLP, "step", _no_step)
    assert bench.check_agreement(W2, "cpu", ["gpugrad", "numpy"], steps=1)["errors"][
        "gpugrad"]["loss"] == 0.0
    r3 = bench.check_agreement(W2, "cpu", ["gpugrad", "numpy"], steps=3)
    assert r3["errors"]["gpugrad"]["loss"] > bench_check.LOSS_RTOL


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_a_broken_torch_step_is_named(monkeypatch):
    monkeypatch.setattr(bw.TorchMLP, "step", _no_step)
    r = bench.check_agreement(W2, "cpu", steps=3)
    assert [m.split()[0] for m in r["disagreements"]] == ["torch"]


def test_a_broken_reference_is_caught(monkeypatch):
    """The reference checks itself: a numpy step that never updates is a failure even when
    it is the only implementation named."""
    monkeypatch.setattr(bw.NumpyMLP, "step", lambda self: setattr(self, "_loss", 2.3))
    r = bench.check_agreement(W2, "cpu", ["numpy"], steps=3)
    assert not r["agree"] and r["disagreements"][0].startswith("numpy (the reference) is broken")


def test_bench_exits_1_and_names_the_implementation(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(bw.GpugradMLP, "step", _no_step)
    code = bench.main(["--quick", "--workloads", "W2", "--impls", "gpugrad", "numpy",
                       "--steps", "1", "--no-plot", "--out", str(tmp_path), "--name", "bad"])
    out, err = capsys.readouterr()
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("gpugrad bench: error: gpugrad disagrees with numpy on W2 (cpu):")
    assert "DISAGREES: gpugrad" in out
    report = json.loads((tmp_path / "bad.json").read_text())     # the evidence is kept
    assert report["results"][0]["agreement"]["agree"] is False


def test_check_steps_0_skips_the_check(monkeypatch, tmp_path):
    monkeypatch.setattr(bw.GpugradMLP, "step", _no_step)
    assert bench.main(["--quick", "--workloads", "W2", "--impls", "gpugrad", "--steps", "1",
                       "--check-steps", "0", "--no-plot", "--out", str(tmp_path),
                       "--name", "q"]) == 0
    assert json.loads((tmp_path / "q.json").read_text())["results"][0]["agreement"] is None


# --------------------------------------------------------------------------- the layer

@pytest.fixture(scope="module")
def layer_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("layer")
    code = bench.main(["--quick", "--workloads", "layer", "--layer-batch", "8", "--steps", "1",
                       "--no-plot", "--out", str(out), "--name", "layer"])
    return code, json.loads((out / "layer.json").read_text())


def test_layer_workload_runs_and_fused_unfused_torch_agree(layer_run):
    code, report = layer_run
    assert code == 0
    [entry] = report["results"]
    assert (entry["workload"], entry["batch"]) == ("layer", 8)
    expected = {"fused", "unfused"} | ({"torch"} if HAS_TORCH else set())
    assert set(entry["impls"]) == expected | {"gemm"}
    ag = entry["agreement"]
    assert ag["agree"] is True and ag["reference"] == "float64"
    assert set(ag["errors"]) == expected
    for name, errs in ag["errors"].items():
        assert set(errs) == {"y", "gx", "gW", "gb"}
        assert all(errs[k] <= bench_check.LAYER_RTOL[k] for k in errs), (name, errs)
    assert set(entry["non_gemm_s"]) == expected


def test_layer_results_are_the_right_arrays():
    im = bw.make_impls(LAYER, "cpu", ["fused"], batch=8)["fused"]
    im.step()
    r = im.results()
    assert {k: v.shape for k, v in r.items()} == {"y": (8, 4096), "gx": (8, 4096),
                                                  "gW": (4096, 4096), "gb": (4096,)}
    assert (r["y"] >= 0).all() and (r["y"] == 0).any() and (r["y"] > 0).any()


@pytest.mark.parametrize("impl, forward", [
    ("fused", lambda self: self.gg.linear(self.x, self.W, self.b * 0, activation="relu")),
    ("unfused", lambda self: self.x @ self.W + self.b),
], ids=["fused-without-bias", "unfused-without-relu"])
def test_a_wrong_layer_is_caught(monkeypatch, impl, forward):
    cls = {"fused": bw.FusedLayer, "unfused": bw.UnfusedLayer}[impl]
    monkeypatch.setattr(cls, "forward", forward)
    r = bench.check_agreement(LAYER, "cpu", ["fused", "unfused"], batch=8)
    assert not r["agree"]
    assert [m.split()[0] for m in r["disagreements"]] == [impl]


def test_a_wrong_layer_gradient_is_caught(monkeypatch):
    """Forward right, backward wrong: dW scaled (e.g. a lost factor in the fused epilogue)."""
    step = bw.FusedLayer.step

    def bad_step(self):
        step(self)
        self.grads = (self.grads[0], self.grads[1] * 2, self.grads[2])
    monkeypatch.setattr(bw.FusedLayer, "step", bad_step)
    r = bench.check_agreement(LAYER, "cpu", ["fused"], batch=8)
    assert not r["agree"] and "gW off by" in r["disagreements"][0]
    assert r["errors"]["fused"]["y"] <= bench_check.LAYER_RTOL["y"]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_the_jax_peer_computes_the_same_steps_without_aliasing_the_shared_data():
    """JAX's jit step (both precisions) agrees with the NumPy reference step by step, also when
    it runs after the reference, which updates its own copy of the weights in place."""
    ims = bw.make_impls(W2, "cpu", ["numpy", "jax", "jax-tf32"])
    for _ in range(3):
        for im in ims.values():
            im.step()
            im.sync()
        ref = ims["numpy"].params()
        for name in ("jax", "jax-tf32"):
            got = ims[name].params()
            assert all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(got, ref)), name
            assert abs(ims[name].loss() - ims["numpy"].loss()) < 1e-5
