"""`gpugrad bench`: a CI-sized run writes a well-formed JSON report (and a PNG when matplotlib
is installed) whose statistics, ratios and targets follow from its raw timings, whose
implementations were checked to compute the same steps, and bad flags are refused.  (That a
wrong implementation is caught is tests/test_bench_agreement.py's job.)"""
import argparse
import importlib.util
import json
import math

import numpy as np
import pytest

from gpugrad.tools import bench as bench

from gpugrad.tools.bench import workloads as bench_workloads

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    argv = ["--quick", "--workloads", "W2", "--steps", "3", "--out", str(out), "--name", "q"]
    if not HAS_MPL:
        argv.append("--no-plot")
    assert bench.main(argv) == 0
    with open(out / "q.json") as f:
        return out, json.load(f)


def _positive_finite(xs):
    return len(xs) > 0 and all(isinstance(x, float) and math.isfinite(x) and x > 0 for x in xs)


def test_quick_run_writes_the_json_report(quick_run):
    _, report = quick_run
    assert report["schema"] == "gpugrad-bench/1"
    for key in ("date", "command", "cpu_model", "devices", "versions", "threads", "settings",
                "results", "memory", "targets", "load_average_before"):
        assert key in report, key
    assert report["versions"]["numpy"] and report["versions"]["numba"]
    assert "numba" in report["threads"]
    [entry] = report["results"]
    assert (entry["workload"], entry["device"], entry["batch"]) == ("W2", "cpu", 64)
    assert entry["sizes"] == [64, 256, 256, 10] and entry["steps"] == 3
    from gpugrad.tools.bench.jax_peer import jax_available
    expected = {"gpugrad", "compiled", "numpy", "gemm"} | ({"torch"} if HAS_TORCH else set()) \
        | ({"jax"} if jax_available("cpu") else set())
    assert set(entry["impls"]) == expected
    for name, s in entry["impls"].items():
        t = s["times_s"]
        assert len(t) == 3 and _positive_finite(t), (name, t)
        # the statistics are those of the raw times, not merely ordered
        assert s["median_s"] == pytest.approx(float(np.median(t)), rel=1e-12), name
        assert s["p10_s"] == pytest.approx(float(np.percentile(t, 10)), rel=1e-12), name
        assert s["p90_s"] == pytest.approx(float(np.percentile(t, 90)), rel=1e-12), name
        assert s["samples_per_s"] == pytest.approx(64 / s["median_s"], rel=1e-12), name
    med = {n: s["median_s"] for n, s in entry["impls"].items()}
    expected_ratios = {f"{a}/{b}": med[a] / med[b] for a in med for b in ("torch", "gemm", "jax")
                       if b in med and a != b}
    assert entry["ratios"] == pytest.approx(expected_ratios, rel=1e-12)
    # before timing, every implementation ran 3 steps from the same start and agreed
    ag = entry["agreement"]
    assert (ag["reference"], ag["steps"], ag["agree"], ag["disagreements"]) == (
        "numpy", 3, True, [])
    assert set(ag["errors"]) == expected - {"numpy", "gemm"}
    for name, errs in ag["errors"].items():
        assert errs["loss"] <= ag["tolerances"]["loss"] and errs["update"] <= ag["tolerances"][
            "update"], (name, errs)
    targets = [t for t in report["targets"] if t["workload"] == "W2"
               and not t["ratio"].startswith("compiled/")]
    assert len(targets) == (1 if HAS_TORCH else 0), targets
    if HAS_TORCH:
        [target] = targets
        assert (target["limit"], target["ratio"]) == (1.0, "gpugrad/torch")
        assert target["value"] == entry["ratios"]["gpugrad/torch"]
        assert target["met"] is (target["value"] <= 1.0)


@pytest.mark.skipif(not HAS_MPL, reason="matplotlib is not installed")
def test_quick_run_writes_the_png(quick_run):
    out, report = quick_run
    png = out / "q.png"
    assert report["files"]["png"] == str(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_plot_writes_no_png(tmp_path):
    assert bench.main(["--quick", "--workloads", "W2", "--impls", "numpy", "gemm", "--steps", "1",
                       "--out", str(tmp_path), "--no-plot"]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].endswith("-quick.json"), files


def test_add_parser_registers_the_subcommand():
    parser = argparse.ArgumentParser(prog="gpugrad")
    bench.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "--workloads", "W1", "W2", "--devices", "cpu",
                              "--steps", "7"])
    assert args.run is bench.run
    assert (args.workloads, args.devices, args.steps, args.out) == (
        ["W1", "W2"], ["cpu"], 7, "bench/results")


@pytest.mark.parametrize("argv, message", [
    (["--steps", "0"], "expected --steps >= 1, got 0"),
    (["--layer-batch", "-3"], "expected --layer-batch >= 1, got -3"),
])
def test_bad_counts_are_refused(argv, message, tmp_path, capsys):
    assert bench.main(argv + ["--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"gpugrad bench: error: {message}\n"
    assert not list(tmp_path.iterdir())


def test_unknown_workload_is_refused(capsys):
    assert bench.main(["--workloads", "W9"]) == 2
    assert "invalid choice: 'W9'" in capsys.readouterr().err


def test_gpu_only_workload_on_the_cpu_needs_the_flag(tmp_path, capsys):
    from gpugrad import cuda
    if cuda.is_available():
        pytest.skip("a GPU is present")
    assert bench.main(["--workloads", "W3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "nothing to run" in err and "--all-on-cpu" in err


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    from gpugrad import cuda
    if cuda.is_available():
        pytest.skip("a GPU is present")
    assert bench.main(["--devices", "cuda", "--out", str(tmp_path)]) == 2
    assert "no CUDA GPU is available" in capsys.readouterr().err


def test_workloads_are_the_issue_s():
    w = bench_workloads.WORKLOADS
    assert (w["W1"].batch_for("cpu"), w["W1"].sizes, w["W1"].params) == (
        512, (1024, 2048, 2048, 10), 6316042)
    assert (w["W2"].batch_for("cpu"), w["W2"].sizes) == (64, (64, 256, 256, 10))
    assert (w["W3"].batch_for("cuda"), w["W3"].sizes) == (4096, (4096, 4096, 4096, 4096, 10))
    assert (w["W4"].batch_for("cuda"), w["W4"].sizes) == (1024, (1024, 1024, 1024, 10))
    assert w["W3"].devices == w["W4"].devices == ("cuda",)


def test_memory_probe_runs_in_a_fresh_process():
    from gpugrad.tools.bench import memory as bench_memory
    r = bench_memory.measure_memory("W2", "numpy", "cpu", timeout=120)
    assert "error" not in r, r
    assert r["peak_mib"] >= r["state_mib"] >= 0 and r["transient_mib"] >= 0
    assert r["model_data_mib"] > 0 and r["method"]


def test_targets_are_read_at_their_own_precision():
    """The float32 and TF32 targets of W3 are each read from the entry of that precision."""
    from gpugrad.tools import bench as bench

    def entry(precision, ratio):
        return {"workload": "W3", "device": "cuda", "precision": precision,
                "ratios": {"gpugrad/gemm": ratio, "gpugrad/torch": 1.0}}

    got = {t["target"]: t["value"] for t in bench.evaluate_targets(
        {"results": [entry("highest", 1.04), entry("high", 1.9)], "memory": []})}
    assert got["GPU W3 float32 gpugrad <= 1.05 x GEMM floor"] == 1.04
    assert got["GPU W3 TF32 gpugrad <= 1.15 x TF32 GEMM floor"] == 1.9
    only_tf32 = bench.evaluate_targets({"results": [entry("high", 1.1)], "memory": []})
    assert [t["target"] for t in only_tf32] == ["GPU W3 TF32 gpugrad <= 1.15 x TF32 GEMM floor"]


def test_precision_switch_restores_the_setting_and_rejects_unknown_values():
    from gpugrad import kernels
    from gpugrad.tools import bench as bench
    from gpugrad.tools.bench import precision as bench_precision
    with bench_precision._gpugrad("high"):
        assert kernels.get_matmul_precision() == "high"
    assert kernels.get_matmul_precision() == "highest"
    with pytest.raises(ValueError, match="expected a precision in"):
        bench_precision.at_precision({}, "cuda", "fast")
    assert bench.main(["--precision", "fast"]) == 2


def test_cpu_entries_are_float32_whatever_precision_is_asked():
    """TF32 does not exist on the CPU: its entries say "highest", so its targets still count."""
    from gpugrad.tools import bench as bench
    from gpugrad.tools.bench import workloads as bw
    e = bench.run_workload(bw.WORKLOADS["W2"], "cpu", steps=1, warmup=0, impls=["numpy", "gemm"],
                           precision="high")
    assert e["precision"] == "highest"
