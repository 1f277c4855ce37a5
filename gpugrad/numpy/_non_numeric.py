"""``gpugrad.numpy``'s functions answering with NumPy's own result where they have nothing
differentiable to offer: :func:`for_non_numeric` wraps a function so that a non-numeric
argument or dtype (strings, objects, datetimes, records), a NumPy subclass with arithmetic
of its own (``numpy.matrix``, masked arrays), or -- outside a recorded graph -- an argument
it does not implement (:class:`~gpugrad.numpy._core.Unsupported`) takes NumPy's function
through the non-graph fallback (:func:`gpugrad.numpy._fallback.call`).
"""
from __future__ import annotations

from ..ops._fast import in_graph
from ._fallback import call, tensors_in

__all__ = ["for_non_numeric"]


def for_non_numeric(fn, numpy_fn, name):
    """``fn`` (a ``gpugrad.numpy`` function), answering with NumPy's ``numpy_fn`` through
    :func:`call` when ``fn`` meets a non-numeric value or dtype (strings, objects, datetimes:
    :class:`~gpugrad.numpy._core.NonNumericError`), and, when no input is in a recorded
    graph, an argument it does not implement (:class:`~gpugrad.numpy._core.Unsupported`;
    inside a graph that error stands).  The result is marked ``_non_numeric``.

    The wrapper has ``fn``'s own parameters and defaults (made once, from its signature), so
    a call costs one frame more than ``fn``'s, not the packing of ``*args, **kwargs``; the
    fallback passes NumPy the arguments that differ from ``fn``'s defaults.

    >>> import numpy
    >>> from gpugrad.numpy import _math
    >>> f = for_non_numeric(_math.add.__wrapped__, numpy.add, "add")
    >>> f(numpy.array(["a"]), "b")
    array(['ab'], dtype='<U2')
    """
    from ._core import NonNumericError

    f = _forwarding(fn, numpy_fn, name, NonNumericError)
    f.__name__, f.__qualname__, f.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    f.__module__, f.__wrapped__, f._non_numeric = fn.__module__, fn, True
    f.__dict__.update({k: v for k, v in fn.__dict__.items() if k not in f.__dict__})
    return f


def _forwarding(fn, numpy_fn, name, error):
    """The wrapper of :func:`for_non_numeric`: generated with ``fn``'s parameters where
    ``fn`` is a plain Python function, else taking ``*args, **kwargs``."""
    import inspect

    try:
        sig = inspect.signature(fn, follow_wrapped=False)
    except (TypeError, ValueError):
        sig = None
    from ._core import Unsupported

    if sig is None or not hasattr(fn, "__defaults__"):
        def f(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except error:
                return call(numpy_fn, args, kwargs, name)
            except Unsupported as exc:
                return _outside_graph(exc, numpy_fn, args, kwargs, name)
        return f
    params = list(sig.parameters.values())
    head = sig.replace(parameters=[p.replace(
        annotation=p.empty, default=p.empty if p.default is p.empty else None)
        for p in params], return_annotation=sig.empty)
    passed = ", ".join(("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD
                        else f"{p.name}=" if p.kind is p.KEYWORD_ONLY else "") + p.name
                       for p in params)
    src = (f"def f{head}:\n    try:\n        return fn({passed})\n"
           f"    except error:\n        return fallback(locals())\n"
           f"    except unsupported as exc:\n        return unsupported_fallback(exc, locals())\n")
    scope = {"fn": fn, "error": error, "unsupported": Unsupported,
             "fallback": lambda given: call(numpy_fn, *_as_given(params, given), name),
             "unsupported_fallback": lambda exc, given: _outside_graph(
                 exc, numpy_fn, *_as_given(params, given), name)}
    code = _CODE.get(src)
    if code is None:  # (compiled once per parameter list: many functions share one)
        code = _CODE[src] = compile(src, "<gpugrad.numpy wrapper>", "exec")
    exec(code, scope)
    f = scope["f"]
    f.__defaults__, f.__kwdefaults__ = fn.__defaults__, dict(fn.__kwdefaults__ or {}) or None
    return f


_CODE = {}  # wrapper source -> its compiled code


def _outside_graph(exc, numpy_fn, args, kwargs, name):
    """NumPy's answer (:func:`call`) to a call that ``gpugrad.numpy.<name>`` refused with
    ``exc`` (an argument it has no differentiable version of), when no tensor among the
    arguments is in a recorded graph; inside one ``exc`` is raised, naming the argument."""
    if any(in_graph(t) for t in tensors_in((args, kwargs))):
        raise exc
    return call(numpy_fn, args, kwargs, name)


def _as_given(params, values):
    """``(args, kwargs)`` for NumPy's function from a wrapper's parameter ``values``: the
    positional ones up to the last that is not its default, the keyword-only ones that are
    not their defaults, and the variadic ones as they came."""
    args, kwargs, pending = [], {}, []
    for p in params:
        v = values[p.name]
        if p.kind is p.VAR_POSITIONAL:
            args += pending + list(v) if v else []
            pending = []
        elif p.kind is p.VAR_KEYWORD:
            kwargs.update(v)
        elif p.kind is p.KEYWORD_ONLY:
            if v is not p.default:
                kwargs[p.name] = v
        elif p.default is not p.empty and v is p.default:
            pending.append(v)
        else:
            args += pending + [v]
            pending = []
    return args, kwargs
