"""The non-graph fallback: NumPy (or CuPy) functions that have no differentiable gpugrad
version run on the tensors' raw arrays when no input is part of a recorded graph.

A function qualifies when it is called through NumPy's dispatch (``numpy.save(f, t)``,
``numpy.histogram(t)``, scikit-learn calling ``numpy.may_share_memory``) or through a
``gpugrad.numpy`` name gpugrad does not implement (``gnp.interp``, ``gnp.fft.fft``).  Inside
a recorded graph (an input tensor requires grad while grad mode is on) it raises TypeError:
NumPy would compute without the graph and the gradient would silently be lost.

Results come back as NumPy gives them, with each array of a supported dtype wrapped as a
Tensor (no graph) and NumPy scalars left as NumPy scalars.

>>> import numpy, gpugrad as gg
>>> counts, edges = numpy.histogram(gg.tensor([0.0, 1.0, 1.0]), bins=2)
>>> counts.tolist(), type(counts).__name__
([1, 2], 'Tensor')
"""
from __future__ import annotations

import numpy as _np

from .. import backend, capture_hooks, dtypes
from ..autocast_state import _state as _amp
from ..ops._fast import in_graph
from ..ops.decompositions import no_low_precision
from ..array_subclasses import own_arithmetic, plain
from ..backend import is_cupy_array
from ..tensor import Tensor
from ..zero_d import stands_for_scalar

__all__ = ["call", "call_named", "numpy_function", "wrap_result", "tensors_in", "unwrap",
           "for_non_numeric"]


def tensors_in(obj):
    """Every Tensor inside ``obj`` (nested lists, tuples and dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors_in(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors_in(v)


def unwrap(obj, swap=None):
    """``obj`` with every Tensor replaced by its raw array (containers rebuilt); ``swap`` maps
    the ``id`` of a tensor to the array that stands for it instead."""
    if isinstance(obj, Tensor):
        if swap is not None and id(obj) in swap:
            return swap[id(obj)]
        d = obj.data
        # a 0-d tensor standing for NumPy's scalar passes as that scalar (np.resize(a, n)
        # takes an int, not a 0-d array)
        return d[()] if type(d) is _np.ndarray and stands_for_scalar(obj) else d
    if isinstance(obj, list):
        return [unwrap(v, swap) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(unwrap(v, swap) for v in obj)
    if isinstance(obj, dict):
        return {k: unwrap(v, swap) for k, v in obj.items()}
    return obj


def _widened(obj):
    """``obj`` with each 16-bit float Tensor cast to float32 (containers rebuilt): under
    autocast a linear algebra function runs in float32, as PyTorch's CPU autocast has it."""
    if isinstance(obj, Tensor):
        return obj.astype(_np.float32) if dtypes.is_low_precision(obj.dtype) else obj
    if isinstance(obj, list):
        return [_widened(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_widened(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _widened(v) for k, v in obj.items()}
    return obj


def wrap_result(r):
    """NumPy's answer with arrays of supported dtypes as Tensors; scalars stay scalars, and
    so do NumPy's subclasses with arithmetic of their own (``numpy.matrix``, masked arrays:
    see :mod:`gpugrad.array_subclasses`); other subclasses (``memmap``) as their plain array."""
    if isinstance(r, tuple):
        items = [wrap_result(v) for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, list):
        return [wrap_result(v) for v in r]
    if (isinstance(r, _np.ndarray) or is_cupy_array(r)) and r.dtype in dtypes.SUPPORTED \
            and not own_arithmetic(r):
        return Tensor._make(plain(r))
    return r


def _graph_error(name):
    return TypeError(
        f"{name} is not supported on gpugrad tensors in a recorded graph (it has no "
        f"differentiable gpugrad version, and NumPy would drop the gradient); compute it "
        f"under gpugrad.no_grad(), or convert explicitly with .detach().numpy() (drops the "
        f"gradient)")


def _cupy_version(name):
    """CuPy's function of NumPy's dotted public ``name`` (``fft.fft``), or None."""
    obj = backend.Device("cuda", 0).xp
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def call(func, args, kwargs, name):
    """``func(*args, **kwargs)`` on raw arrays when no tensor in them is in a recorded graph.

    ``func`` is NumPy's function; ``name`` its public dotted name under ``numpy``
    (``"histogram"``, ``"fft.fft"``) used for CuPy's twin and in errors.  Tensors on a GPU
    run CuPy's twin (TypeError when CuPy has none).

    >>> import numpy, gpugrad as gg
    >>> call(numpy.bincount, (gg.tensor([0, 2, 2]),), {}, "bincount").tolist()
    [1, 0, 2]
    """
    ts = list(tensors_in((args, kwargs)))
    shown = f"numpy.{name}"
    if name.startswith("linalg."):  # NumPy answers bfloat16 in float64 and refuses float16
        if any(dtypes.is_low_precision(t.dtype) for t in ts) and _amp.dtype is not None:
            args, kwargs = _widened(args), _widened(kwargs)   # autocast: a float32 op
            ts = list(tensors_in((args, kwargs)))
        for t in ts:
            no_low_precision(t, shown)
    if any(in_graph(t) for t in ts):
        raise _graph_error(shown)
    if any(is_cupy_array(t.data) for t in ts):
        func = _cupy_version(name)
        if func is None:
            raise TypeError(f"{shown} has no CuPy version for tensors on a GPU; move them "
                            f"with .cpu() first")
    if capture_hooks._on and capture_hooks.active() is not None:
        if ts:
            return _recorded(func, args, kwargs, ts, _low_precision_input(name, args, kwargs))
        return _constant(func, args, kwargs, shown)
    written = _written(name, args, kwargs)
    if written:
        return _call_writing(func, args, kwargs, written)
    low = _low_precision_input(name, args, kwargs)
    if low is not None:
        return wrap_result(_narrowed(func(*unwrap(args, low[1]), **unwrap(kwargs, low[1])),
                                     low[0]))
    return wrap_result(func(*unwrap(args), **unwrap(kwargs)))


# NumPy's functions that compute on float values: given 16-bit floats they run on float32
# copies and round back once.  NumPy adds float16 in float16 in its scans (nancumsum of 30000
# ones stalls at 2048), and takes ml_dtypes' bfloat16 for a non-float (its nan-functions
# skip no NaN: nanvar, nanprod, nancumsum were NaN; i0, unwrap answer float64).
_FLOAT_COMPUTING = frozenset((
    "nanvar", "nanstd", "nancumsum", "nancumprod", "nanprod", "nanmax", "nanmin",
    "nanargmax", "nanargmin", "nanmedian", "nanpercentile", "nanquantile", "i0", "unwrap",
    "quantile", "percentile", "median", "geomspace",
    "vander", "matvec", "vecmat", "polydiv", "polyval", "polyfit", "trapezoid", "histogram",
    "histogram2d", "histogramdd", "histogram_bin_edges", "gradient", "convolve", "correlate"))


_AMP_FLOAT32 = frozenset(("nanvar", "nanstd", "nanprod", "nancumsum"))  # (var, std, ...)


def _low_precision_input(name, args, kwargs):
    """``(dtype, swap)`` when ``name`` computes on floats and every float array among its
    arguments is of one 16-bit dtype (float16 or bfloat16): ``swap`` maps each such tensor
    to a float32 copy.  None otherwise (a wider float among them sets NumPy's own dtype)."""
    if name not in _FLOAT_COMPUTING:
        return None
    found = {_np.dtype(a.dtype) for a in _leaves((args, kwargs))
             if hasattr(a, "dtype") and dtypes.is_inexact(a.dtype)}
    if len(found) != 1 or not dtypes.is_low_precision(next(iter(found))):
        return None
    if any(isinstance(a, _np.ndarray) and a.dtype in found for a in _leaves((args, kwargs))):
        return None  # a raw 16-bit array: NumPy's own answer
    low = _np.dtype(_np.float32) if _amp.dtype is not None and name in _AMP_FLOAT32 else \
        found.pop()   # (autocast: the twins of its float32 ops answer in float32)
    return low, {id(t): t.data.astype(_np.float32) for t in tensors_in((args, kwargs))
                 if t.dtype.kind != "c" and dtypes.is_low_precision(t.dtype)}


def _narrowed(r, dtype):
    """NumPy's answer ``r`` computed on float32 copies, its float32 arrays rounded to the
    inputs' 16-bit ``dtype`` (their dtype had NumPy computed on float16 itself)."""
    if isinstance(r, tuple):
        items = [_narrowed(v, dtype) for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, list):
        return [_narrowed(v, dtype) for v in r]
    if getattr(r, "dtype", None) == _np.float32:
        return r.astype(dtype)
    return r


# NumPy's functions that write into their first argument and reach the fallback with a
# tensor there (``ufunc.at`` too: see _written); put, place, putmask, copyto and
# fill_diagonal of a tensor are gpugrad.numpy's own (_writes.py)
_WRITE_FIRST = frozenset(("put_along_axis",))


def _written(name, args, kwargs):
    """The tensors NumPy's function ``name`` writes into: the first argument of an in-place
    function (``put_along_axis``, ``add.at``, ...) and those given as ``out=``."""
    out = kwargs.get("out")
    found = list(out) if isinstance(out, (tuple, list)) else [out]
    if args and (name in _WRITE_FIRST or name.endswith(".at")):
        found.append(args[0])
    return [t for t in found if isinstance(t, Tensor)]


def _call_writing(func, args, kwargs, written):
    """:func:`call` of a function that writes into the tensors ``written``: NumPy writes into
    copies of their arrays, which are then written back through ``Tensor.__setitem__``, so
    each tensor's version moves on (a node that saved it raises at backward instead of
    reading the new values as the old), a view writes into its base, and an error leaves the
    tensors as they were (NumPy's ``put`` may have written part).  Where NumPy returns the
    array it wrote into, the answer is that tensor."""
    copies = {id(t): t.data.copy() for t in written}
    r = func(*unwrap(args, copies), **unwrap(kwargs, copies))
    for t in written:
        t[...] = Tensor._make(copies[id(t)])
    for t in written:
        if r is copies[id(t)]:
            return t
    return wrap_result(r)


# functions that read files: a replay of a captured step could not read them again
_READS_FILES = frozenset(("loadtxt", "genfromtxt", "fromfile", "load", "fromregex", "memmap"))


def _constant(func, args, kwargs, shown):
    """:func:`call` without tensors in a step ``gpugrad.compile`` records: an answer made
    from static values (numbers, lists, bytes) is a constant a replay makes anew; host
    arrays (mutable data) and files refuse with a CaptureError naming the function."""
    if shown.rsplit(".", 1)[-1] in _READS_FILES or any(
            isinstance(a, _np.ndarray) or is_cupy_array(a) for a in _leaves((args, kwargs))):
        raise capture_hooks.CaptureError(
            f"{shown} reads host data (a NumPy array or a file) inside a step gpugrad.compile "
            f"is recording: a replay would reuse the values it read now; call it outside the "
            f"step and pass the result to the compiled step as an input")
    r = wrap_result(func(*args, **kwargs))
    for t in r if isinstance(r, (tuple, list)) else (r,):
        if isinstance(t, Tensor):
            kept = t.data.copy()
            capture_hooks.constant(kept.copy, t.data)
    return r


def _leaves(obj):
    """The values inside nested lists, tuples and dicts ``obj``."""
    if isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _leaves(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    else:
        yield obj


def _recorded(func, args, kwargs, ts, low):
    """:func:`call` in a step ``gpugrad.compile`` records: graph nodes (no gradient) that a
    replay computes again from its own tensors; scalar answers come back as 0-d tensors.
    ``low`` (from :func:`_low_precision_input`): the recorded call widens the 16-bit arrays to
    float32 and rounds the answer back once, as the eager call does."""
    from ..ops.search import values_call

    slot = {id(t): i for i, t in enumerate(ts)}

    def fn(xp, *arrays):
        if low is not None:
            arrays = tuple(a.astype(_np.float32) if a.dtype == low[0] else a for a in arrays)
        r = func(*_put(args, arrays, slot), **_put(kwargs, arrays, slot))
        if low is not None:
            r = _narrowed(r, low[0])
        return tuple(r) if isinstance(r, (tuple, list)) else r
    return values_call(fn, *ts)


def _put(obj, arrays, slot):
    """``obj`` with each tensor replaced by ``arrays[slot[id(tensor)]]`` (lists, tuples and
    dicts rebuilt; named tuples kept as they are)."""
    if isinstance(obj, Tensor):
        return arrays[slot[id(obj)]]
    if isinstance(obj, list):
        return [_put(v, arrays, slot) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_put(v, arrays, slot) for v in obj)
    if isinstance(obj, dict):
        return {k: _put(v, arrays, slot) for k, v in obj.items()}
    return obj


def numpy_function(name):
    """NumPy's public object at dotted ``name`` (``"fft.fft"``), or None."""
    obj = _np
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def call_named(name, args, kwargs):
    """:func:`call` for NumPy's function at dotted ``name``.

    >>> call_named("interp", (0.5, [0, 1], [0, 10]), {})
    np.float64(5.0)
    """
    func = numpy_function(name)
    if func is None or not callable(func):
        raise AttributeError(f"numpy has no function {name!r}")
    return call(func, args, kwargs, name)


from ._non_numeric import for_non_numeric  # noqa: E402 (it calls call, above)
