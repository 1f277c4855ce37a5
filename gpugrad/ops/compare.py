"""Comparisons, logical and bitwise ops: elementwise, with no gradient (bool or integer
results), so their nodes never join the graph.

>>> import gpugrad as gg
>>> gg.less(gg.tensor([1.0, 3.0]), 2.0).tolist()
[True, False]
"""
from __future__ import annotations

from ..autograd import Function
from ._util import operand, xp_of


class _NoGrad(Function):
    differentiable = False
    # never a graph node (no gradient), so nothing to refuse under create_graph; their
    # forwards take Tensors, so backward formulas may call them through the Tensor namespace
    twice_differentiable = True


def _make_nograd(name, fwd):
    cls = type(name.title().replace("_", ""), (_NoGrad,), {
        "forward": lambda self, *a: fwd(xp_of(next(v for v in a if hasattr(v, "shape"))),
                                        *a)})

    def fn(*args):
        first = next((a for a in args if hasattr(a, "shape")), None)
        return cls.apply(*(operand(a, first) for a in args))
    fn.__name__ = name
    extra = ", 2" * (fwd.__code__.co_argcount - 2)
    fn.__doc__ = (f"Elementwise {name} (no gradient).\n\n>>> import gpugrad as gg\n"
                  f">>> gg.{name}(gg.tensor([1, 2]){extra}).shape\n(2,)\n")
    return fn


_NOGRAD = {
    "equal": lambda xp, a, b: xp.equal(a, b),
    "not_equal": lambda xp, a, b: xp.not_equal(a, b),
    "less": lambda xp, a, b: xp.less(a, b),
    "less_equal": lambda xp, a, b: xp.less_equal(a, b),
    "greater": lambda xp, a, b: xp.greater(a, b),
    "greater_equal": lambda xp, a, b: xp.greater_equal(a, b),
    "logical_and": lambda xp, a, b: xp.logical_and(a, b),
    "logical_or": lambda xp, a, b: xp.logical_or(a, b),
    "logical_xor": lambda xp, a, b: xp.logical_xor(a, b),
    "logical_not": lambda xp, a: xp.logical_not(a),
    "floor_divide": lambda xp, a, b: xp.floor_divide(a, b),
    "bitwise_and": lambda xp, a, b: xp.bitwise_and(a, b),
    "bitwise_or": lambda xp, a, b: xp.bitwise_or(a, b),
    "bitwise_xor": lambda xp, a, b: xp.bitwise_xor(a, b),
    "invert": lambda xp, a: xp.invert(a),
    "isfinite": lambda xp, a: xp.isfinite(a),
    "isnan": lambda xp, a: xp.isnan(a),
    "isinf": lambda xp, a: xp.isinf(a),
}
globals().update({n: _make_nograd(n, f) for n, f in _NOGRAD.items()})

__all__ = list(_NOGRAD)
