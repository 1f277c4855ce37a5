"""The examples in gpugrad.kernels' docstrings run and print what they show."""
import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["gpugrad.kernels", "gpugrad.kernels.activations",
                                    "gpugrad.kernels.cuda_sources", "gpugrad.kernels.cublaslt_plan"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result


def test_every_public_function_has_an_example():
    kernels = importlib.import_module("gpugrad.kernels")
    for name in kernels.__all__:
        obj = getattr(kernels, name)
        if callable(obj):
            assert ">>>" in (obj.__doc__ or ""), name
