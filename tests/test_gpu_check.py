"""The GPU check's harness, on the CPU: bench/gpu_check.sh parses its arguments and plans its
phases (``--dry-run`` runs nothing), and bench/gpu_kernel_check.py runs its checks through the
CPU kernels (``--dry-cpu``) with no failure.  The GPU run itself is ``bash bench/gpu_check.sh``
on a machine with one."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu_check.sh"
KERNEL_CHECK = ROOT / "bench" / "gpu_kernel_check.py"
PHASES = ["env", "tests", "kernels", "bench", "train", "sanitize"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def sh(*args, cwd=ROOT):
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60)


def test_script_parses():
    out = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_help_names_every_option_and_phase():
    out = sh("--help")
    assert out.returncode == 0, out.stderr
    for word in ["--quick", "--out", "--phases", "--budget", "--python", "--dry-run", *PHASES]:
        assert word in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown argument '--bogus'"),
    (["--phases", "env nope"], "unknown phase 'nope'"),
    (["--phases", " "], "--phases is empty"),
    (["--budget", "10s"], "--budget expects whole seconds"),
    (["--budget", "0"], "positive number of seconds"),
    (["--out"], "--out needs a value"),
    (["--out", "--quick"], "--out needs a value, got the option '--quick'"),
])
def test_bad_arguments_exit_2_with_one_line(args, message):
    out = sh("--dry-run", *args)                    # --dry-run first: never a real run by mistake
    assert out.returncode == 2
    assert message in out.stderr and out.stderr.count("\n") == 1
    assert out.stdout == ""


def test_dry_run_plans_every_phase_in_order_and_runs_nothing(tmp_path):
    out_dir = tmp_path / "results"
    out = sh("--dry-run", "--out", str(out_dir), "--python", "py3")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    starts = [text.index(f"[{p}] limit") for p in PHASES]
    assert starts == sorted(starts)
    for command in [
        "nvidia-smi --query-gpu=",
        "py3 -m pip install --no-build-isolation --no-deps -e .",
        "py3 -m pytest -q -p no:cacheprovider -n 8 --timeout 60 -rfE --tb=short "
        "tests/test_kernels_cuda.py",
        "py3 -m pytest -q -p no:cacheprovider -m cuda",
        f"py3 bench/gpu_kernel_check.py --json {out_dir}/kernels.json",
        "py3 -m gpugrad bench --workloads W3 W4 layer --devices cuda --no-memory --no-plot",
        "py3 -m gpugrad train --device cuda --dataset synthetic --samples 1000000 --features 1024 "
        "--hidden 4096 4096 --classes 100 --epochs 2",
        "py3 bench/train_peer_torch.py --device cuda --samples 1000000",
        "--tool memcheck", "--tool racecheck", "py3 bench/gpu_sanitize.py",
    ]:
        assert command in text, command
    assert "--quick" not in text
    assert not out_dir.exists()                              # nothing created, nothing run


def test_dry_run_quick_subset_and_limits_within_the_budget(tmp_path):
    out = sh("--dry-run", "--quick", "--phases", "train kernels", "--budget", "100",
             "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "[env]" not in text and "[bench]" not in text and "[sanitize]" not in text
    assert text.index("[kernels]") < text.index("[train]")  # the script's order, not the caller's
    assert "bench/gpu_kernel_check.py --quick" in text
    assert "--samples 200000" in text
    limits = [int(line.split("limit ")[1].rstrip("s")) for line in text.splitlines()
              if "] limit " in line]
    assert limits == [40, 60]        # kernels leaves train its typical time: the budget


def test_relative_out_is_taken_from_the_callers_folder(tmp_path):
    out = sh("--dry-run", "--phases", "kernels", "--out", "here", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"--json {tmp_path}/here/kernels.json" in out.stdout


def test_kernel_check_dry_cpu_passes_and_skips_only():
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, str(KERNEL_CHECK), "--dry-cpu", "--quick", "--seed", "7"],
                         cwd=ROOT, capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    statuses = [line.split()[0] for line in out.stdout.splitlines()
                if line.startswith(("PASS", "FAIL", "SKIP"))]
    assert statuses.count("PASS") > 200 and "FAIL" not in statuses
    for family in ("linear", "act", "dz_db", "sgd", "adam", "cross_entropy op"):
        assert any(line.startswith("PASS") and f"  {family} " in line
                   for line in out.stdout.splitlines()), family
    for gpu_only in ("cross_entropy kernels", "host sync", "4,194,305 rows", "2**31"):
        assert any(line.startswith("SKIP") and gpu_only in line
                   for line in out.stdout.splitlines()), gpu_only
    assert "kernel check summary: PASS=" in out.stdout and "FAIL=0" in out.stdout


def test_kernel_check_reports_a_wrong_kernel_as_fail(tmp_path):
    """The harness catches a wrong answer: relu's CPU kernel replaced by identity."""
    wrapper = tmp_path / "broken.py"
    wrapper.write_text(
        "import runpy, sys\n"
        "from gpugrad.kernels import cpu\n"
        "real = cpu.act_forward\n"
        "cpu.act_forward = lambda z, act, out=None, negative_slope=0.01: real(\n"
        "    z, 'identity' if act == 'relu' else act, out, negative_slope)\n"
        f"sys.argv = [{str(KERNEL_CHECK)!r}, '--dry-cpu', '--quick', '--seed', '3']\n"
        f"runpy.run_path({str(KERNEL_CHECK)!r}, run_name='__main__')\n")
    out = subprocess.run([sys.executable, str(wrapper)], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 1
    fails = [line for line in out.stdout.splitlines() if line.startswith("FAIL")]
    assert fails and all(" relu " in line for line in fails)
