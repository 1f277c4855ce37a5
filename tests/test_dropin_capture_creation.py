"""gpugrad.numpy's creation functions and random draws inside a gpugrad.compile step: recorded
as constants (or draws) so that each replay gives what the eager step gives; host data a
replay could not read again refuses with a CaptureError naming the function."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.capture_hooks import CaptureError


def _set(o, x):
    o[1:] = x[:2]
    return o * 2


CASES = {
    "zeros": lambda x: gnp.zeros(3) + x, "ones": lambda x: gnp.ones(3) * x,
    "empty": lambda x: gnp.empty(3) * 0 + x, "full": lambda x: gnp.full(3, 2.0) * x,
    "zeros_like": lambda x: gnp.zeros_like(x) + x, "ones_like": lambda x: gnp.ones_like(x) + x,
    "empty_like": lambda x: gnp.empty_like(x) * 0 + x,
    "full_like": lambda x: gnp.full_like(x, 3.0) + x,
    "array": lambda x: gnp.array([1.0, 2.0, 3.0]) + x,
    "asarray": lambda x: gnp.asarray([1.0, 2.0, 3.0]) + x,
    "arange": lambda x: gnp.arange(3.0) + x, "linspace": lambda x: gnp.linspace(0, 1, 3) + x,
    "logspace": lambda x: gnp.logspace(0, 1, 3) + x,
    "eye": lambda x: gnp.eye(3) @ x, "identity": lambda x: gnp.identity(3) @ x,
    "tri": lambda x: gnp.tri(3) @ x, "zeros_then_setitem": lambda x: _set(gnp.zeros(3), x),
    "fromfunction": lambda x: gnp.fromfunction(lambda i: i * 1.0, (3,)) + x,
    "frombuffer": lambda x: gnp.frombuffer(np.arange(3.0).tobytes()) + x,
    "meshgrid": lambda x: gnp.meshgrid(gnp.arange(3.0), gnp.arange(1.0))[0][0] + x,
    "indices": lambda x: gnp.indices((3,))[0] + x,
    "mgrid": lambda x: gnp.mgrid[0:3] + x, "ogrid": lambda x: gnp.ogrid[0:3] + x,
    "r_": lambda x: gnp.r_[0.0, 1.0, 2.0] + x, "c_": lambda x: gnp.c_[[0.0, 1.0, 2.0]][:, 0] + x,
    "diag_of_list": lambda x: gnp.diag([1.0, 2.0, 3.0]) @ x,
    "sum_of_list": lambda x: gnp.sum([1.0, 2.0]) * x,
}
XS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]
_RNG = None


@pytest.mark.parametrize("name", CASES)
def test_creation_in_compiled_step_matches_eager(name):
    f = CASES[name]
    expect = [f(gnp.array(v)).tolist() for v in XS]
    step = gg.compile(f)
    assert [step(gnp.array(v)).tolist() for v in XS] == expect


@pytest.mark.parametrize("draw", [
    lambda: gnp.random.rand(3), lambda: gnp.random.normal(0.0, 1.0, size=3),
    lambda: gnp.random.randint(0, 10, size=3), lambda: _RNG.standard_normal(3)])
def test_random_draws_in_compiled_step_follow_the_stream(draw):
    global _RNG

    def f(x):
        return draw() + x
    gnp.random.seed(1)
    _RNG = gnp.random.default_rng(5)
    expect = [f(gnp.array(v)).tolist() for v in XS]
    gnp.random.seed(1)
    _RNG = gnp.random.default_rng(5)
    step = gg.compile(f)
    assert [step(gnp.array(v)).tolist() for v in XS] == expect


@pytest.mark.parametrize("call, name", [
    (lambda x: gnp.asarray(np.arange(3.0)) + x, "array"),
    (lambda x: gnp.random.rand() + x, "random.rand"),
    (lambda x: gnp.random.normal(np.zeros(3)) + x, "random.normal"),
    (lambda x: gnp.frombuffer(np.arange(3.0)) + x, "frombuffer"),
    (lambda x: gnp.random.default_rng(5).standard_normal(3) + x, "random.standard_normal"),
])
def test_host_data_in_compiled_step_refuses_naming_the_function(call, name):
    with pytest.raises(CaptureError, match=name.replace(".", r"\.")):
        gg.compile(call)(gnp.array(XS[0]))
