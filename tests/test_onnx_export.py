"""gg.onnx.export: every activation an MLP or Sequential can hold, in float32 and float64,
run by onnxruntime (or onnx's reference evaluator where onnxruntime lacks a float64 kernel)
and compared with gpugrad's own outputs; a dynamic batch; the standardizer and softmax
options; clear errors for what cannot be exported; `gpugrad export` end to end."""
import os

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = {"float32": dict(rtol=1e-5, atol=2e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


def run_onnx(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def reference(model, x):
    return model.eval()(gg.tensor(x)).numpy()


def inputs(n, f, dtype, seed=0):
    # scaled so activations see their tails (softplus passes its threshold, gelu saturates)
    return (np.random.default_rng(seed).standard_normal((n, f)) * 4).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", nn.ACTIVATION_NAMES)
def test_mlp_matches_gpugrad(tmp_path, act, dtype):
    gg.manual_seed(1)
    model = nn.MLP([5, 7, 6, 3], activation=act, output_activation=act, dropout=0.2,
                   dtype=dtype)
    path = tmp_path / "m.onnx"
    proto = gg.onnx.export(model, path)
    assert [n.op_type for n in proto.graph.node].count("Gemm") == 3
    assert "Dropout" not in {n.op_type for n in proto.graph.node}
    x = inputs(11, 5, dtype)
    if act == "gelu" and dtype == "float64":
        # onnxruntime has no float64 Erf kernel; onnx's reference evaluator runs the graph
        # (its Erf rounds to float32, hence the looser tolerance)
        from onnx.reference import ReferenceEvaluator
        out = ReferenceEvaluator(str(path)).run(None, {"input": x})[0]
        np.testing.assert_allclose(out, reference(model, x), rtol=1e-6, atol=1e-6)
        return
    out = run_onnx(path, x)
    assert out.dtype == np.dtype(dtype) and out.shape == (11, 3)
    np.testing.assert_allclose(out, reference(model, x), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sequential_of_activation_modules(tmp_path, dtype):
    gg.manual_seed(2)
    inner = nn.Sequential(nn.Linear(6, 6, activation="leaky_relu", negative_slope=0.3),
                          nn.Softplus(beta=2.0, threshold=3.0))
    model = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 6),
                          nn.GELU("tanh"), inner, nn.Identity(), nn.Linear(6, 5), nn.SiLU(),
                          nn.Linear(5, 2, bias=False), nn.Tanh(), nn.Dropout(0.5), nn.Sigmoid())
    model.to(dtype)
    path = tmp_path / "s.onnx"
    gg.onnx.export(model, path)
    x = inputs(9, 4, dtype, seed=3)
    np.testing.assert_allclose(run_onnx(path, x), reference(model, x), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (0.5, 2.0), (2.0, 3.0)])
def test_softplus_both_sides_of_its_threshold(tmp_path, dtype, beta, threshold):
    layer = nn.Linear(3, 3, dtype=dtype)
    layer.load_state_dict({"weight": np.eye(3), "bias": np.zeros(3)})
    model = nn.Sequential(layer, nn.Softplus(beta=beta, threshold=threshold))
    path = tmp_path / "sp.onnx"
    gg.onnx.export(model, path)
    x = np.linspace(-60, 60, 240).reshape(-1, 3).astype(dtype)
    np.testing.assert_allclose(run_onnx(path, x), reference(model, x), **TOL[dtype])


def test_dynamic_batch_and_graph_signature(tmp_path):
    model = nn.MLP([3, 4, 2])
    path = tmp_path / "m.onnx"
    proto = gg.onnx.export(model, path)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 3]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 2]
    assert proto.opset_import[0].version == gg.onnx.DEFAULT_OPSET
    for n in (1, 17, 64):
        x = inputs(n, 3, "float32", seed=n)
        np.testing.assert_allclose(run_onnx(path, x), reference(model, x), **TOL["float32"])
    assert os.listdir(tmp_path) == ["m.onnx"]         # no temporary file left behind


@pytest.mark.parametrize("opset", [13, 21])
def test_other_opsets(tmp_path, opset):
    model = nn.MLP([3, 8, 2], activation="gelu")
    path = tmp_path / "m.onnx"
    assert gg.onnx.export(model, path, opset=opset).opset_import[0].version == opset
    x = inputs(5, 3, "float32")
    np.testing.assert_allclose(run_onnx(path, x), reference(model, x), **TOL["float32"])


def test_standardizer_softmax_and_dtype(tmp_path):
    from gpugrad.datasets import Standardizer

    gg.manual_seed(4)
    model = nn.MLP([4, 8, 3], dtype="float64")
    raw = inputs(20, 4, "float64") * 3 + 5
    st = Standardizer().fit(raw)
    path = tmp_path / "m.onnx"
    gg.onnx.export(model, path, standardizer=st, softmax=True, dtype="float32")
    out = run_onnx(path, raw.astype(np.float32))
    logits = reference(model, (raw - st.mean) / st.std)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    gg.onnx.export(model, path, standardizer=st.state_dict())      # a state dict works too
    np.testing.assert_allclose(run_onnx(path, raw), logits, **TOL["float64"])


class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


class Residual(nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


@pytest.mark.parametrize("model, fragment", [
    (nn.Sequential(nn.Linear(2, 2), Doubler()), "'1' (Doubler)"),
    (nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), Residual(nn.Linear(2, 2)))),
     "'1.1' (Residual)"),
    (nn.Sequential(nn.Flatten(), nn.Linear(2, 2)), "'0' (Flatten)"),
])
def test_unsupported_layers_are_named(tmp_path, model, fragment):
    with pytest.raises(ValueError, match="cannot export layer") as info:
        gg.onnx.export(model, tmp_path / "m.onnx")
    assert fragment in str(info.value)
    assert not os.listdir(tmp_path)


def test_bad_arguments(tmp_path):
    p = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=r"opset an int in \[13, "):
        gg.onnx.export(nn.MLP([2, 2]), p, opset=11)
    with pytest.raises(ValueError, match="no Linear layer"):
        gg.onnx.export(nn.Sequential(nn.ReLU()), p)
    mixed = nn.Sequential(nn.Linear(2, 2, dtype="float64"), nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"one parameter dtype, got \['float32', 'float64'\]"):
        gg.onnx.export(mixed, p)
    with pytest.raises(ValueError, match="expected dtype float32 or float64, got float16"):
        gg.onnx.export(nn.MLP([2, 2]), p, dtype="float16")
    with pytest.raises(ValueError, match="standardizer has 3 means"):
        gg.onnx.export(nn.MLP([2, 2]), p, standardizer={"mean": np.zeros(3), "std": np.ones(3)})
    with pytest.raises(TypeError, match="expected a gpugrad nn.Module"):
        gg.onnx.export(lambda x: x, p)


def test_cli_export(tmp_path, capsys):
    from gpugrad.tools.cli import main
    from gpugrad.tools.evaluate import load_run, predict

    run_dir = tmp_path / "run"
    assert main(["train", "--dataset", "synthetic", "--samples", "200", "--features", "5",
                 "--classes", "3", "--hidden", "8", "--activation", "gelu_tanh", "--epochs", "1",
                 "--quiet", "--no-plot", "--out", str(run_dir)]) == 0
    ckpt, onnx_path = str(run_dir / "best.npz"), str(tmp_path / "m.onnx")
    assert main(["export", "--checkpoint", ckpt, "--output", onnx_path, "--softmax"]) == 0
    assert "wrote" in capsys.readouterr().out
    run = load_run(ckpt)
    raw = inputs(13, 5, "float64") + 1.0                 # raw features: the standardizer is in
    logits = predict(run, raw)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(run_onnx(onnx_path, raw.astype(np.float32)), probs,
                               rtol=1e-4, atol=1e-6)
    assert main(["export", "--checkpoint", ckpt, "--output", str(tmp_path / "m.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gpugrad export: error: --output") and ".onnx, .pt or .pth" in err


def test_training_mode_dropout_warns_that_the_eval_graph_is_exported(tmp_path):
    model = nn.MLP([4, 8, 3], dropout=0.5)              # a new module is in training mode
    with pytest.warns(UserWarning, match=r"training mode with 1 active Dropout.*model\.eval"):
        gg.onnx.export(model, tmp_path / "m.onnx")
    x = inputs(5, 4, "float32")
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), reference(model, x), rtol=1e-5,
                               atol=1e-6)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # eval mode: nothing to say
        gg.onnx.export(model.eval(), tmp_path / "e.onnx")


def test_exported_file_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "m.onnx"
        gg.onnx.export(gg.nn.MLP([4, 8, 3]), str(path))
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]     # no temporary file left
