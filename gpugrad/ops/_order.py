"""NumPy's ``order=`` argument, parsed in one place for the ops, the Tensor methods and
``gpugrad.numpy``: 'C' (row-major), 'F' (column-major), 'A' ('F' for a Fortran-ordered
input, else 'C') and 'K' (the input's own memory order).

What NumPy 2 accepts, and nothing else: the four letters in either case, as ``str`` (or a
subclass, such as ``numpy.str_``) or ``bytes``; None, which means the function's own
default.  Any other string is NumPy's ValueError, any other type (an int, a bool, a
``bytearray``) its TypeError, with NumPy's messages.  Functions that make arrays from
nothing (``zeros``, ``eye``) take only 'C' and 'F'; ``reshape`` refuses 'K'.

>>> order_arg(None), order_arg("f"), order_arg(b"K"), order_arg(None, "K")
('C', 'F', 'K', 'K')
>>> try:
...     order_arg("CF")
... except ValueError as e:
...     print(e)
order must be one of 'C', 'F', 'A', or 'K' (got 'CF')
"""
from __future__ import annotations

_ORDERS = {}
for _o in "CFAK":
    for _k in (_o, _o.lower()):
        _ORDERS[_k] = _ORDERS[_k.encode()] = _o
del _o, _k


def order_arg(order, default="C", *, cf_only=False, what=None) -> str:
    """``order`` as 'C', 'F', 'A' or 'K' (None: ``default``).  ValueError for a string (or
    bytes) that names no order -- and, with ``cf_only``, for 'A' and 'K' -- TypeError for
    anything that is not a string, as NumPy's.  ``what`` ('reshape') refuses 'K' with
    NumPy's reshape message.

    >>> order_arg("a", cf_only=False), order_arg(None, "C", cf_only=True)
    ('A', 'C')
    """
    if order is None:
        o = default
    else:
        o = _ORDERS.get(order) if isinstance(order, (str, bytes)) else None
        if o is None:
            if not isinstance(order, (str, bytes)):
                raise TypeError(f"order must be str, not {type(order).__name__}")
            raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    if cf_only and o not in ("C", "F"):
        raise ValueError(f"only 'C' or 'F' order is permitted (got {order!r})")
    if what == "reshape" and o == "K":
        raise ValueError("order 'K' is not permitted for reshaping")
    return o
