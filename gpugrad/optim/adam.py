"""Adam and AdamW with PyTorch's update (bias-corrected moments, optional AMSGrad),
run by one fused kernel per flat buffer range.

>>> import gpugrad as gg
>>> p = gg.nn.Parameter(gg.tensor([1.0, -1.0]))
>>> opt = Adam([p], lr=0.1)
>>> (p * p).sum().backward(); opt.step(); [round(v, 4) for v in p.tolist()]
[0.9, -0.9]
"""
from __future__ import annotations

from .. import kernels, validate
from ..validate import boolean, real
from .optimizer import Optimizer, StateDictError

__all__ = ["Adam", "AdamW"]


def _betas(value, name, owner=""):
    """Adam's ``betas``: two finite numbers in [0, 1), returned as a tuple."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        got = f"{value!r} ({type(value).__name__})"
        prefix = f"{owner}: " if owner else ""
        raise (TypeError if not isinstance(value, (tuple, list)) else ValueError)(
            f"{prefix}expected {name} to be two numbers in [0, 1), got {got}")
    return tuple(validate.check_real(b, f"{name}[{i}]", low=0, high=1, high_open=True,
                                     owner=owner) for i, b in enumerate(value))


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's semantics; ``weight_decay`` is L2 added to the
    gradient unless ``decoupled_weight_decay`` (then it is AdamW).

    >>> import gpugrad as gg
    >>> model = gg.nn.Linear(4, 2)
    >>> opt = Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99), amsgrad=True)
    >>> model(gg.ones(3, 4)).sum().backward(); opt.step()
    >>> sorted(opt.state[model.bias])
    ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']
    """

    _array_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _fused_found_inf = True     # GradScaler's flag goes into the kernels (see amp)
    _hyper = {**Optimizer._hyper, "betas": _betas, "eps": real(low=0),
              "weight_decay": real(low=0), "amsgrad": boolean, "maximize": boolean,
              "decoupled_weight_decay": boolean}

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, group, flat, lo, hi, members, whole):
        beta1, beta2 = group["betas"]
        ams = group["amsgrad"]
        kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                  weight_decay=group["weight_decay"], maximize=group["maximize"],
                  decoupled=group["decoupled_weight_decay"], amsgrad=ams)
        names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if ams else ())
        params = flat.params
        states = []
        for i in members:
            st = self._param_state(params[i])
            if "step" not in st:
                st["step"] = 0
            for n in names:
                if n not in st:
                    view = flat.state_view(n, i)
                    view[...] = 0
                    st[n] = view
            states.append(st)
        bufs = [flat.state(n) for n in names]
        found = self._found_inf
        if found is not None or any(not isinstance(st["step"], int) for st in states):
            self._update_counted(flat, members, whole, states, bufs, ams, kw)
            return
        if flat.count_token is not None:           # host counts: device ones restart later
            for i in members:
                flat.count_token[i] = None
        steps = {st["step"] for st in states}
        if whole and len(steps) == 1:
            spans = [((lo, hi), steps.pop())]
        else:
            spans = [(flat.span(i), st["step"]) for i, st in zip(members, states)]
        for (a, b), step in spans:
            kernels.adam_update(flat.data[a:b], flat.grad[a:b], bufs[0][a:b], bufs[1][a:b],
                                step=step + 1, max_exp_avg_sq=bufs[2][a:b] if ams else None,
                                low=self._low_part(a, b), **kw)
        for st in states:
            st["step"] += 1

    def _update_counted(self, flat, members, whole, states, bufs, ams, kw):
        """The step with each parameter's ``step`` count on the device (a 0-d array, as
        PyTorch's capturable Adam keeps it): GradScaler's found-inf flag, read only there,
        leaves the counts, the moments and the weights as they were."""
        counts, tok = flat.step_counts(), flat.count_token
        host = {}
        for i, st in zip(members, states):
            if isinstance(st["step"], int):        # (re)entering: the count starts from here
                tok[i], host[i] = None, st["step"]
        for a, b, i, j in self._count_spans(flat, members, whole, host.__getitem__):
            self._advance_counts(counts[i:j])
            kernels.adam_update(flat.data[a:b], flat.grad[a:b], bufs[0][a:b], bufs[1][a:b],
                                step=counts[i:i + 1], max_exp_avg_sq=bufs[2][a:b] if ams
                                else None, low=self._low_part(a, b),
                                found_inf=self._found_inf, **kw)
        for i, st in zip(members, states):
            st["step"] = counts[i:i + 1].reshape(())

    def _required_state(self, p, entry):
        return ("step", "exp_avg", "exp_avg_sq")

    def _check_scalar_state(self, key, value, pid):
        if key == "step":
            v = value
            if getattr(value, "shape", None) == ():          # a 0-d array or NumPy scalar
                v = value.item()
            if isinstance(v, float) and v.is_integer():
                v = int(v)                 # PyTorch keeps the step as a float tensor
            try:
                return validate.check_int(v, f"step of parameter {pid!r}", low=0)
            except (TypeError, ValueError) as exc:
                raise StateDictError(f"cannot load into {type(self).__name__}: {exc}") from None
        return super()._check_scalar_state(key, value, pid)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 - lr * weight_decay
    before the Adam step; PyTorch's ``torch.optim.AdamW``.

    >>> import gpugrad as gg
    >>> opt = AdamW([gg.nn.Parameter(gg.zeros(2))])
    >>> opt.param_groups[0]["weight_decay"], opt.param_groups[0]["decoupled_weight_decay"]
    (0.01, True)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
