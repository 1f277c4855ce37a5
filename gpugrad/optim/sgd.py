"""Stochastic gradient descent with momentum, dampening, Nesterov, weight decay, maximize --
PyTorch's ``torch.optim.SGD`` update, run by one fused kernel per flat buffer range.

>>> import gpugrad as gg
>>> p = gg.nn.Parameter(gg.tensor([1.0, -1.0]))
>>> opt = SGD([p], lr=0.1, momentum=0.9)
>>> (p * p).sum().backward(); opt.step(); p.tolist()
[0.800000011920929, -0.800000011920929]
"""
from __future__ import annotations

from .. import kernels
from ..validate import boolean, real
from .optimizer import Optimizer, required

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with exactly PyTorch's semantics:

    g = -grad if maximize else grad; g += weight_decay * p;
    b = g on the first step, else momentum * b + (1 - dampening) * g;
    g = g + momentum * b if nesterov else b;  p -= lr * g.

    >>> import gpugrad as gg
    >>> model = gg.nn.Linear(4, 2)
    >>> opt = SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    >>> model(gg.ones(3, 4)).sum().backward(); opt.step()
    >>> sorted(opt.state[model.weight])
    ['momentum_buffer']
    """

    _array_state = ("momentum_buffer",)
    _fused_found_inf = True     # GradScaler's flag goes into the kernels (see amp)
    _hyper = {**Optimizer._hyper, "momentum": real(low=0), "dampening": real(low=0),
              "nesterov": boolean, "weight_decay": real(low=0), "maximize": boolean}

    def __init__(self, params, lr=required, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_combination(self, group, owner):
        if group.get("nesterov") and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{owner}: Nesterov momentum requires a momentum and zero "
                             f"dampening, got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def _update(self, group, flat, lo, hi, members, whole):
        mom = group["momentum"]
        kw = dict(lr=group["lr"], momentum=mom, dampening=group["dampening"],
                  nesterov=group["nesterov"], weight_decay=group["weight_decay"],
                  maximize=group["maximize"], found_inf=self._found_inf)
        if mom == 0:
            spans = [(lo, hi)] if whole else [flat.span(i) for i in members]
            for a, b in spans:
                kernels.sgd_update(flat.data[a:b], flat.grad[a:b], None,
                                   low=self._low_part(a, b), **kw)
            return
        buf = flat.state("momentum_buffer")
        params = flat.params
        inited = [("momentum_buffer" in self.state.get(params[i], ())) for i in members]
        if self._found_inf is not None:
            # a step GradScaler may skip on the device: whether a momentum buffer holds a
            # first step is a count there (a skipped first step leaves the next one first)
            ready = {i for i, r in zip(members, inited) if r}
            counts = flat.step_counts()
            for a, b, i, j in self._count_spans(flat, members, whole, lambda k: int(k in ready)):
                kernels.sgd_update(flat.data[a:b], flat.grad[a:b], buf[a:b],
                                   first_step=counts[i:i + 1] == 0, low=self._low_part(a, b),
                                   **kw)
                self._advance_counts(counts[i:j])
        else:
            if flat.count_token is not None:       # host-decided steps: counts restart later
                for i in members:
                    flat.count_token[i] = None
            if whole and (all(inited) or not any(inited)):
                kernels.sgd_update(flat.data[lo:hi], flat.grad[lo:hi], buf[lo:hi],
                                   first_step=not inited[0], low=self._low_part(lo, hi), **kw)
            else:
                for i, ready in zip(members, inited):
                    a, b = flat.span(i)
                    kernels.sgd_update(flat.data[a:b], flat.grad[a:b], buf[a:b],
                                       first_step=not ready, low=self._low_part(a, b), **kw)
        for i, ready in zip(members, inited):
            if not ready:
                self._param_state(params[i])["momentum_buffer"] = flat.state_view(
                    "momentum_buffer", i)
