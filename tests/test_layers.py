"""The package tree keeps the layers of ../shared/DESIGN.md: engine (backend, tensor,
autograd, ops, kernels, ...) < training (nn, optim, amp, distributed, capture, data,
datasets, io, viz) < front-ends (numpy, array_api, interop) < tools (gpugrad.tools: cli,
train, evaluate, export, onnx, bench).  No module imports one from a layer above its own,
at the top of the file or inside a function."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TRAINING = {"nn", "optim", "amp", "distributed", "capture", "data", "datasets", "io", "viz",
            "viz_collapse", "viz_layout", "viz_render"}
FRONT_ENDS = {"numpy", "array_api", "interop"}
TOOLS = {"tools", "train", "__main__"}      # train.py: the public name of gpugrad.tools.train
NAMES = ["engine", "training", "front-ends", "tools"]


def layer(module):
    """0 engine, 1 training, 2 front-ends, 3 tools; None outside gpugrad or for the package."""
    parts = module.split(".")
    if parts[0] != "gpugrad" or len(parts) == 1:
        return None
    top = parts[1]
    return 3 if top in TOOLS else 2 if top in FRONT_ENDS else 1 if top in TRAINING else 0


def module_name(path):
    rel = path.relative_to(ROOT)
    parts = (["gpugrad", "kernels"] + list(rel.parts[1:]) if rel.parts[0] == "kernels"
             else list(rel.parts))
    parts[-1] = parts[-1][:-3]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path, me):
    """(line, module) of every import in the file, relative ones resolved."""
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
            m = ".".join(base + ([node.module] if node.module else []))
            yield node.lineno, m
            for a in node.names:
                yield node.lineno, f"{m}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name


def upward_imports():
    found = []
    files = list((ROOT / "gpugrad").rglob("*.py")) + list((ROOT / "kernels").glob("*.py"))
    for path in files:
        me = module_name(path)
        mine = layer(me)
        if mine is None:
            continue
        for line, target in imports(path, me):
            theirs = layer(target)
            if theirs is not None and theirs > mine:
                found.append(f"{path.relative_to(ROOT)}:{line} ({NAMES[mine]}) imports "
                             f"{target} ({NAMES[theirs]})")
                break
    return found


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


@pytest.mark.parametrize("module,expected", [
    ("gpugrad.autograd", 0), ("gpugrad.kernels.cpu", 0), ("gpugrad.optim.sgd", 1),
    ("gpugrad.numpy.linalg", 2), ("gpugrad.tools.train.config", 3), ("numpy", None)])
def test_layers_are_named_as_the_design_names_them(module, expected):
    assert layer(module) == expected


def test_the_check_sees_an_upward_import():
    """A module of the engine importing a tool is reported (so the test above can fail)."""
    fake = ROOT / "gpugrad" / "_layer_probe.py"
    fake.write_text("def f():\n    from .tools import cli\n")
    try:
        assert any("_layer_probe.py:2 (engine) imports gpugrad.tools" in v
                   for v in upward_imports())
    finally:
        fake.unlink()
