"""Every docstring example in the library runs and prints what it shows.

Modules that need a GPU (CuPy) or that run a program on import are left out; the kernels'
own examples are checked in test_kernels_docs.py.
"""
import doctest
import importlib
import pkgutil

import pytest

import gpugrad

SKIP = {"gpugrad.__main__", "gpugrad.kernels.cuda", "gpugrad.kernels.cuda_numba"}


def _modules():
    names = ["gpugrad"]
    for info in pkgutil.walk_packages(gpugrad.__path__, "gpugrad."):
        if info.name not in SKIP and not info.name.startswith("gpugrad.kernels"):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("module", _modules())
def test_docstring_examples(module):
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {module}"


def test_public_functions_have_examples():
    missing = []
    for name in gpugrad.ops.__all__:
        fn = getattr(gpugrad.ops, name)
        if callable(fn) and ">>>" not in (fn.__doc__ or ""):
            missing.append(name)
    assert not missing, f"ops without a docstring example: {missing}"
