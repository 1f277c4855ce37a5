"""``Module``: the base class of layers and models.

A module holds parameters (:class:`~gpugrad.nn.Parameter`), buffers (tensors saved in the
state dict but not trained) and child modules, found by attribute assignment.  It walks
them (``parameters()``, ``named_modules()``), switches train/eval mode, moves them between
devices and dtypes, and saves/loads them as a flat ``state_dict`` keyed like PyTorch's
(``"0.weight"``, ``"encoder.bias"``).

>>> import gpugrad as gg
>>> class Affine(Module):
...     def __init__(self):
...         super().__init__()
...         self.scale = gg.nn.Parameter(gg.ones(3))
...     def forward(self, x):
...         return x * self.scale
>>> m = Affine()
>>> [name for name, _ in m.named_parameters()]
['scale']
>>> m(gg.ones(3)).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

from collections import OrderedDict

from .. import backend, capture_hooks, dtypes
from ..tensor import Tensor
from . import state_dict as _sd
from ._module_util import _check_name, _init_stores, _zero_grad
from .parameter import Parameter
from .state_dict import IncompatibleKeys, StateDictError

__all__ = ["Module", "StateDictError", "IncompatibleKeys"]

class Module:
    """Base class for all layers and models; subclasses define ``forward``.

    >>> import gpugrad as gg
    >>> lin = gg.nn.Linear(4, 2)
    >>> sorted(lin.state_dict())
    ['bias', 'weight']
    >>> lin.eval().training
    False
    """

    def __init__(self):
        if "_parameters" in self.__dict__:         # __init__ called again: a new empty tree
            with capture_hooks.structure_change(self):
                _init_stores(self)
        else:
            _init_stores(self)

    # ------------------------------------------------------------ attribute plumbing
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called; "
                                 f"call super().__init__() first in {type(self).__name__}")
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if (name in params or name in buffers or name in modules or isinstance(
                value, (Tensor, Module)) or isinstance(d.get(name), Tensor)):
            with capture_hooks.structure_change(self):  # compiled steps look at their trees again
                _set_member(self, d, params, buffers, modules, name, value)
        else:
            _set_member(self, d, params, buffers, modules, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        stores = (self._parameters, self._buffers, self._modules)
        if not (any(name in st for st in stores) or isinstance(self.__dict__.get(name), Tensor)):
            return object.__delattr__(self, name)
        with capture_hooks.structure_change(self):
            for store in stores:
                if name in store:
                    del store[name]
                    return
            object.__delattr__(self, name)          # a tensor attribute

    def register_parameter(self, name: str, param) -> None:
        """Add a parameter (or None, a declared but absent one, like a disabled bias).

        >>> m = Module(); m.register_parameter("b", None); list(m.state_dict())
        []
        """
        _check_name(name, self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: expected a Parameter or None for {name!r}, "
                            f"got {type(param).__name__}")
        with capture_hooks.structure_change(self):
            self.__dict__.pop(name, None)
            self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a non-trained tensor that moves with the module and (when persistent) is saved.

        >>> import gpugrad as gg
        >>> m = Module(); m.register_buffer("mean", gg.zeros(2)); list(m.state_dict())
        ['mean']
        """
        _check_name(name, self)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: expected a Tensor or None for {name!r}, got "
                            f"{type(tensor).__name__}")
        with capture_hooks.structure_change(self):
            self.__dict__.pop(name, None)
            self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module) -> None:
        """Add a child module under ``name``.

        >>> import gpugrad as gg
        >>> m = Module(); m.add_module("fc", gg.nn.Linear(2, 2)); [n for n, _ in m.named_children()]
        ['fc']
        """
        _check_name(name, self)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected a Module for {name!r}, got "
                            f"{type(module).__name__}")
        with capture_hooks.structure_change(self):
            self.__dict__.pop(name, None)
            self._modules[name] = module

    # ------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        """The computation; every subclass defines it (call the module, not forward)."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        if capture_hooks._on:  # gpugrad.compile: the step's modes include this module's
            capture_hooks.module_called(self)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", memo=None):
        """Yield (name, module) for this module and every descendant, each once.

        >>> import gpugrad as gg
        >>> [n for n, _ in gg.nn.MLP([2, 3, 1]).named_modules()]
        ['', '0', '1']
        """
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        """Every module in the tree, this one first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield (name, child) for the direct children."""
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self):
        """The direct child modules.

        >>> import gpugrad as gg
        >>> len(list(gg.nn.Sequential(gg.nn.ReLU(), gg.nn.Tanh()).children()))
        2
        """
        for _, child in self.named_children():
            yield child

    def _named_members(self, store, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, t in getattr(mod, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """Yield (dotted name, parameter), each shared parameter once.

        >>> import gpugrad as gg
        >>> [n for n, _ in gg.nn.Linear(2, 3).named_parameters()]
        ['weight', 'bias']
        """
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        """Every parameter, each once (pass to an optimizer).

        >>> import gpugrad as gg
        >>> sum(p.numel() for p in gg.nn.Linear(2, 3).parameters())
        9
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        """Yield (dotted name, buffer)."""
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        """Every buffer, each once."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of parameter elements.

        >>> import gpugrad as gg
        >>> gg.nn.MLP([4, 8, 2]).num_parameters()
        58
        """
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call ``fn(module)`` on every module (children first), return self.

        >>> import gpugrad as gg
        >>> seen = []; _ = gg.nn.MLP([2, 2, 2]).apply(lambda m: seen.append(type(m).__name__))
        >>> seen
        ['Linear', 'Linear', 'MLP']
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True):
        """Set training mode (dropout active) on this module and all descendants."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): expected a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        capture_hooks.mode_changed()  # compiled steps that called these modules look again
        return self

    def eval(self):
        """Set evaluation mode (dropout off); same as ``train(False)``.

        >>> import gpugrad as gg
        >>> gg.nn.Dropout(0.5).eval().training
        False
        """
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None, or to zeros in place).

        >>> import gpugrad as gg
        >>> lin = gg.nn.Linear(2, 1); lin(gg.ones(1, 2)).sum().backward()
        >>> lin.zero_grad(); lin.weight.grad is None
        True
        """
        if capture_hooks.is_recording():  # recording: a replay
            return capture_hooks.host_call(self.zero_grad, set_to_none)  # calls it again
        for p in self.parameters():
            _zero_grad(p, set_to_none)

    def requires_grad_(self, requires_grad: bool = True):
        """Turn gradient tracking on or off for every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------ devices and dtypes
    def to(self, *args, device=None, dtype=None):
        """Move parameters and buffers to a device and/or cast floating ones to a dtype,
        in place (the Parameter objects are kept; their arrays are replaced).

        Create optimizers *after* this call: an optimizer keeps its parameters as views of
        its own flat buffers, which a move replaces.

        >>> import gpugrad as gg
        >>> gg.nn.Linear(2, 2).to("float64").weight.dtype
        dtype('float64')
        """
        for a in args:
            if isinstance(a, backend.Device) or (isinstance(a, str) and
                                                 a.split(":")[0].lower() in ("cpu", "cuda", "gpu")):
                device = a
            else:
                dtype = a
        dev = backend.device(device) if device is not None else None
        dt = dtypes.as_dtype(dtype) if dtype is not None else None
        if dt is not None and not dtypes.is_floating(dt):
            raise TypeError(f"Module.to: expected a floating dtype, got {dt.name}")

        def convert(a):
            if dev is not None:
                a = backend.to_device(a, dev)
            if dt is not None and dtypes.is_floating(a.dtype) and a.dtype != dt:
                a = a.astype(dt)
            return a

        for p in self.parameters():
            new = convert(p.data)
            if new is not p.data:
                p.data = new
                p._grad_view = None
            if p.grad is not None:
                p.grad = Tensor._make(convert(p.grad.data))
        for m in self.modules():
            for name, b in m._buffers.items():
                if b is not None:
                    b.data = convert(b.data)
        return self

    def cpu(self):
        """Move to the CPU."""
        return self.to("cpu")

    def cuda(self, index: int = 0):
        """Move to CUDA device ``index``."""
        return self.to(backend.Device("cuda", index))

    def float(self):
        """Cast floating parameters and buffers to float32."""
        return self.to(dtype="float32")

    def double(self):
        """Cast floating parameters and buffers to float64.

        >>> import gpugrad as gg
        >>> gg.nn.Linear(2, 2).double().bias.dtype
        dtype('float64')
        """
        return self.to(dtype="float64")

    # ------------------------------------------------------------ state dicts
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers by dotted name, as tensors sharing memory with the
        module (detached unless ``keep_vars``).  Save with :func:`gpugrad.save`.

        >>> import gpugrad as gg
        >>> sd = gg.nn.Linear(3, 2).state_dict(); sd["weight"].shape
        (3, 2)
        """
        return OrderedDict((prefix + key, t if keep_vars else t.detach())
                           for key, t in _sd.state_targets(self).items())

    def check_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Validate ``state_dict`` against this module without changing anything; raise
        :class:`StateDictError` naming every missing, unexpected and mis-shaped entry.

        >>> import gpugrad as gg
        >>> gg.nn.Linear(2, 2).check_state_dict(gg.nn.Linear(2, 2).state_dict())
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        """
        return _sd.check_state_dict(self, state_dict, strict)

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy a state dict into the parameters and buffers, in place.

        Everything is validated first (see :meth:`check_state_dict`); on any problem nothing
        is changed.  Values are moved to each parameter's device and cast to its dtype.  With
        ``strict=False`` missing and unexpected keys are returned instead of raised.

        >>> import gpugrad as gg
        >>> a, b = gg.nn.Linear(2, 2), gg.nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> bool((a.weight.numpy() == b.weight.numpy()).all())
        True
        """
        return _sd.load_state_dict(self, state_dict, strict)

    # ------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr``; override in layers."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        name = type(self).__name__
        if not lines:
            return f"{name}()"
        if len(lines) == 1 and not self._modules:
            return f"{name}({lines[0]})"
        return name + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules)
                      | set(self._buffers))


def _set_member(self, d, params, buffers, modules, name, value):
    """Module.__setattr__'s work: put ``value`` in the store its kind and ``name`` say."""
    if isinstance(value, Parameter):
        d.pop(name, None)
        buffers.pop(name, None)
        modules.pop(name, None)
        params[name] = value
    elif name in params:
        if value is not None:
            raise TypeError(f"cannot assign a {type(value).__name__} to parameter {name!r} "
                            f"of {type(self).__name__}: expected a Parameter or None")
        params[name] = None
    elif isinstance(value, Module):
        d.pop(name, None)
        buffers.pop(name, None)
        modules[name] = value
    elif name in modules and value is None:
        modules[name] = None
    elif name in buffers:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r}: "
                            f"expected a Tensor or None")
        buffers[name] = value
    else:
        modules.pop(name, None)
        object.__setattr__(self, name, value)
        if name == "training":            # as train()/eval(): compiled steps look again
            capture_hooks.mode_changed()
