"""The wheel ships kernels/ as gpugrad.kernels (with its .cu sources) and never as a top-level
module ``kernels`` (PyPI has an unrelated package of that name)."""
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools (the build backend) is not installed in this environment")
    import setuptools
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"pyproject.toml needs setuptools>=77 to build; this environment has "
                    f"{setuptools.__version__}")
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (whl,) = out.glob("gpugrad-*.whl")
    return zipfile.ZipFile(whl).namelist()


def test_kernels_ship_inside_gpugrad(wheel_names):
    for name in ("gpugrad/kernels/__init__.py", "gpugrad/kernels/cpu.py",
                 "gpugrad/kernels/reference.py", "gpugrad/kernels/linear_act.cu"):
        assert name in wheel_names
    assert not [n for n in wheel_names if n.split("/")[0] == "kernels"]


def test_every_subpackage_is_in_the_wheel(wheel_names):
    packages = {str(p.parent.relative_to(ROOT)) for p in (ROOT / "gpugrad").rglob("__init__.py")}
    for pkg in packages:
        assert f"{pkg}/__init__.py" in wheel_names, pkg
    cu = {p.name for p in (ROOT / "kernels").glob("*.cu")}
    assert cu and all(f"gpugrad/kernels/{name}" in wheel_names for name in cu)


def test_wheel_carries_the_license(wheel_names):
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in wheel_names), wheel_names


def test_declared_floors_are_the_ones_ci_tests():
    """pyproject's numpy/numba floors equal the versions .ci/run installs for its second run."""
    import re
    toml = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"^dependencies = \[(.*?)\]", toml, re.M).group(1)
    floors = dict(re.findall(r'"([a-z]+)>=([0-9.]+)"', deps))
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "lowest.txt").read_text().split())
    assert set(floors) == set(pins) == {"numpy", "numba"}
    for name, floor in floors.items():
        assert pins[name].startswith(floor + "."), (name, floor, pins[name])
    assert ".ci/lowest.txt" in (ROOT / ".ci" / "run").read_text()
    assert 'license = "MIT"' in toml and (ROOT / "LICENSE").read_text().startswith("MIT License")
