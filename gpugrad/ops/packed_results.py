"""Ops with several results as one graph node: :class:`_Packed` packs them into one answer
along the last axis, and :func:`_unpack` slices them apart for the public function (a
differentiable slice).  The matrix decompositions (decompositions.py: eigh, svd, qr,
slogdet; eig.py) are built on it.

>>> import gpugrad as gg
>>> a = gg.tensor([[2.0, 0.0], [0.0, 3.0]], requires_grad=True)
>>> w, v = gg.eigh(a)                 # one Eigh node; w and v are slices of its answer
>>> (w * gg.tensor([1.0, 10.0])).sum().backward(); a.grad.tolist()
[[1.0, 0.0], [0.0, 10.0]]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._util import cast_grad, xp_of


def _cast(g, dtype):
    """``g`` in the input's dtype; of a real input the real part (a real matrix with complex
    eigenvalues gets a complex formula's gradient), never NumPy's ComplexWarning cast."""
    return g if g.dtype == dtype else cast_grad(g, dtype)


class _Packed(Function):
    """forward: ``compute`` gives several arrays, packed along the last axis (the one answer);
    backward: the packed gradient and the packed answer are split, and ``vjp`` gets both.

    The answer is saved as returned, so under ``create_graph`` its parts are Tensors that
    this node produced: ``vjp``, written in terms of the results (w, v; u, s, vh; q, r) and,
    with ``keep_input``, the input, then records a graph that leads back through this node,
    and the gradient can be differentiated again (any order).  A ``vjp`` must therefore use
    every result's gradient, even for an op that shows only some results (eigvalsh,
    svdvals): at second order the hidden results get gradients too."""

    saves_output = True
    twice_differentiable = True
    keep_input = False

    def forward(self, x, **kw):
        xp = xp_of(x)
        outs = self.compute(xp, x, **kw)
        batch = x.shape[:-2]
        self.shapes, self.dtype = [o.shape for o in outs], x.dtype
        # the part's size per batch element, named: -1 cannot be inferred for an empty batch
        flat = [o.reshape(batch + (int(np.prod(o.shape[len(batch):])),)) for o in outs]
        self.sizes = [f.shape[-1] for f in flat]
        packed = xp.concatenate(flat, axis=-1)
        self.saved = (packed,) + ((x,) if self.keep_input else ())
        return packed

    def saved_inputs(self, needs):
        return (0,) if self.keep_input else ()

    def split(self, p):
        """The parts of a packed array (the answer or its gradient), in their shapes."""
        parts, start = [], 0
        for shp, n in zip(self.shapes, self.sizes):
            parts.append(p[..., start:start + n].reshape(shp))
            start += n
        return parts

    def backward(self, g):
        if not self.complex_grad:
            _no_complex_grad(type(self).__name__, self.dtype)
        outs = self.split(self.saved[0])
        return (_cast(self.vjp(xp_of(g), outs, *self.split(g)), self.dtype),)


def _no_complex_grad(op, dtype):
    if dtype.kind == "c":
        raise NotImplementedError(f"{op.lower()}: the gradient for complex input (dtype "
                                  f"{dtype}) is not implemented; only the forward result is")


def _unpack(packed, shapes, real=()):
    """Split a packed result; the parts numbered in ``real`` are real-valued results (kept
    as the real part when the packed array is complex, as NumPy returns them)."""
    from . import getitem, real as real_part, reshape

    out, start = [], 0
    for i, shp in enumerate(shapes):
        n = int(np.prod(shp[len(packed.shape) - 1:]))
        part = getitem(packed, (Ellipsis, slice(start, start + n)))
        if i in real and part.dtype.kind == "c":
            part = real_part(part)
        out.append(reshape(part, shp))
        start += n
    return tuple(out)
