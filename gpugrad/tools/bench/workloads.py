"""The fixed workloads of ``gpugrad bench`` and one implementation of each per library.

A *workload* is one training step of an MLP (forward, mean softmax cross-entropy over integer
labels, backward, SGD with lr=0.01 and momentum=0.9, float32) or, for ``layer``, forward and
backward of one 4096x4096 ReLU layer (``fused``: ``gg.linear(..., activation="relu")``;
``unfused``: ``gg.relu(x @ W + b)``).  Every implementation starts from the same weights and
batch (drawn once with NumPy), so the steps are the same computation:

- ``gpugrad``: ``gg.nn.MLP`` + ``gg.optim.SGD`` + ``gg.nn.functional.cross_entropy``.
- ``compiled``: the ``gpugrad`` step under ``gg.compile`` (replayed; CUDA graphs on CUDA).
- ``torch``:   ``torch.nn.Sequential(Linear, ReLU, ...)`` + ``torch.optim.SGD`` (eager).
- ``jax``:     the whole step under ``jax.jit`` (``tools.bench.jax_peer``), where JAX is installed.
- ``numpy``:   a hand-written backprop on raw arrays (CuPy on CUDA), in place where natural.
- ``gemm``:    only the GEMMs the step needs, into preallocated buffers (the floor).
- ``gpugrad-bf16``, ``torch-bf16``, ``gpugrad-fp16``, ``torch-fp16``: the gpugrad and torch
  steps under autocast (:mod:`gpugrad.tools.bench.autocast_impls`), only when named.

An implementation is an object with ``step()`` (one step, asynchronous on a GPU), ``sync()``
(wait for the device) and ``loss()`` (the last loss as a float); an MLP one (but ``gemm``) also
has ``params()`` (its weights and biases now, as NumPy arrays ``[W0, b0, W1, ...]`` with W of
shape (in, out)) and a layer one (but ``gemm``) ``results()`` (``{"y", "gx", "gW", "gb"}`` of
its last step, as NumPy arrays), so ``gpugrad bench`` can check they computed the same thing.

>>> impls = make_impls(WORKLOADS["W2"], "cpu", names=["numpy", "gemm"])
>>> impls["numpy"].step(); impls["numpy"].sync(); impls["numpy"].loss() > 0
True
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

import numpy as np

LR, MOMENTUM = 0.01, 0.9
IMPLS = ("gpugrad", "compiled", "torch", "jax", "numpy", "gemm")
# mixed precision (tools.bench.autocast_impls): MLP workloads, run only when asked for by name
AUTOCAST_IMPLS = ("gpugrad-bf16", "torch-bf16", "gpugrad-fp16", "torch-fp16")
LAYER_IMPLS = ("fused", "unfused", "torch", "gemm")


@dataclass(frozen=True)
class Workload:
    """A fixed benchmark: ``sizes`` = [in, hidden..., out] (for ``layer``: [in, out]).

    ``devices`` are where it runs by default; ``steps``/``warmup``/``batch`` map a device type
    to the timed step count, untimed warm-up steps and batch size.

    >>> WORKLOADS["W1"].params
    6316042
    """
    name: str
    kind: str                     # "mlp" or "layer"
    sizes: tuple
    batch: dict
    devices: tuple
    steps: dict
    warmup: dict
    description: str = ""
    quick_steps: dict = field(default_factory=lambda: {"cpu": 5, "cuda": 10})
    settle: dict = field(default_factory=lambda: {"cpu": 1, "cuda": 0})

    @property
    def params(self) -> int:
        """Number of trainable parameters (weights and biases)."""
        return sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def batch_for(self, device: str) -> int:
        """Batch size on ``device`` ("cpu" or "cuda")."""
        return self.batch.get(device, self.batch["cpu"])


def _wl(name, kind, batch, sizes, devices, steps, warmup, description, quick=None):
    b = batch if isinstance(batch, dict) else {"cpu": batch, "cuda": batch}
    return Workload(name, kind, tuple(sizes), b, tuple(devices), steps, warmup, description,
                    quick or {"cpu": 5, "cuda": 10})


WORKLOADS = {w.name: w for w in (
    _wl("W1", "mlp", 512, [1024, 2048, 2048, 10], ("cpu", "cuda"), {"cpu": 40, "cuda": 200},
        {"cpu": 3, "cuda": 10}, "batch 512, MLP 1024-2048-2048-10 (6.3M parameters)"),
    _wl("W2", "mlp", 64, [64, 256, 256, 10], ("cpu", "cuda"), {"cpu": 200, "cuda": 500},
        {"cpu": 20, "cuda": 50}, "batch 64, MLP 64-256-256-10 (overhead-bound)",
        {"cpu": 20, "cuda": 20}),
    _wl("W3", "mlp", 4096, [4096, 4096, 4096, 4096, 10], ("cuda",), {"cpu": 5, "cuda": 50},
        {"cpu": 1, "cuda": 5}, "batch 4096, MLP 4096-4096-4096-4096-10 (GPU)",
        {"cpu": 2, "cuda": 5}),
    _wl("W4", "mlp", 1024, [1024, 1024, 1024, 10], ("cuda",), {"cpu": 30, "cuda": 300},
        {"cpu": 3, "cuda": 30}, "batch 1024, MLP 1024-1024-1024-10 (GPU, overhead-bound)"),
    _wl("layer", "layer", {"cpu": 256, "cuda": 4096}, [4096, 4096], ("cpu", "cuda"),
        {"cpu": 30, "cuda": 100}, {"cpu": 2, "cuda": 10},
        "one 4096x4096 ReLU layer, forward + backward: fused vs unfused vs GEMM-only",
        {"cpu": 3, "cuda": 10}),
)}


def torch_available() -> bool:
    """True when PyTorch can be imported (checked without importing it).

    >>> isinstance(torch_available(), bool)
    True
    """
    return importlib.util.find_spec("torch") is not None


def torch_cuda_available() -> bool:
    """True when PyTorch is installed and sees a CUDA device.

    >>> isinstance(torch_cuda_available(), bool)
    True
    """
    if not torch_available():
        return False
    import torch
    return bool(torch.cuda.is_available())


def impl_names(wl: Workload, device: str, asked=None) -> list:
    """The implementations that can run ``wl`` on ``device`` here (torch only where present);
    the mixed-precision ones (:data:`AUTOCAST_IMPLS`) only when named in ``asked``.

    >>> "numpy" in impl_names(WORKLOADS["W2"], "cpu")
    True
    >>> "gpugrad-bf16" in impl_names(WORKLOADS["W2"], "cpu", ["gpugrad-bf16"])
    True
    """
    names = LAYER_IMPLS if wl.kind == "layer" else IMPLS
    if wl.kind == "mlp" and asked:
        names = names + tuple(n for n in AUTOCAST_IMPLS if n in asked)
    has_torch = torch_cuda_available() if device == "cuda" else torch_available()
    out = [n for n in names if not n.startswith("torch") or has_torch]
    if "jax" in out:
        from gpugrad.tools.bench.jax_peer import jax_available
        out = [n for n in out if n != "jax" or jax_available(device)]
    return out


# ------------------------------------------------------------------------------ shared data

def make_data(wl: Workload, device: str = "cpu", seed: int = 0, batch: int | None = None):
    """(x, labels, [(W, b), ...]) as NumPy float32/int64 arrays, W of shape (in, out).

    Weights follow PyTorch's default Linear init (uniform in +-1/sqrt(in)).

    >>> x, y, params = make_data(WORKLOADS["W2"])
    >>> x.shape, y.shape, params[0][0].shape
    ((64, 64), (64,), (64, 256))
    """
    rng = np.random.default_rng(seed)
    n = batch or wl.batch_for(device)
    x = rng.standard_normal((n, wl.sizes[0]), dtype=np.float32)
    labels = rng.integers(0, wl.sizes[-1], size=n, dtype=np.int64)
    params = []
    for a, b in zip(wl.sizes[:-1], wl.sizes[1:]):
        bound = np.float32(1.0 / np.sqrt(a))
        W = rng.uniform(-bound, bound, size=(a, b)).astype(np.float32)
        params.append((W, rng.uniform(-bound, bound, size=b).astype(np.float32)))
    return x, labels, params


def xp_for(device: str):
    """The array module (numpy or cupy) of ``device``, through :mod:`gpugrad.backend`.

    >>> xp_for("cpu").__name__
    'numpy'
    """
    from gpugrad import backend
    return backend.device(device).xp


def _cuda_sync():
    from gpugrad import cuda
    cuda.synchronize()


class _Impl:
    """Base: ``sync`` waits for the GPU on CUDA and does nothing on the CPU."""
    name = "?"

    def __init__(self, device):
        self.device = device
        self._loss = None

    def sync(self):
        if self.device == "cuda":
            _cuda_sync()

    def loss(self) -> float:
        return float(self._loss)


def to_numpy(a) -> np.ndarray:
    """A NumPy copy of a gpugrad Tensor, a torch tensor, a CuPy or a NumPy array.

    >>> to_numpy(np.arange(2.0))
    array([0., 1.])
    """
    if hasattr(a, "detach"):                            # torch
        return a.detach().cpu().numpy().copy()
    from gpugrad import backend
    if not (isinstance(a, np.ndarray) or backend.is_cupy_array(a)):
        a = a.data                                      # gpugrad Tensor
    return np.array(backend.to_device(a, "cpu"), copy=True)


# ------------------------------------------------------------------------------ MLP step

class _FrameworkStep(_Impl):
    """A framework's training step: model, loss, backward, optimizer (same code for both)."""

    def step(self):
        loss = self.ce(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        self._loss = loss

    def loss(self):
        return float(self._loss.item())

    def params(self):
        return [to_numpy(p) for p in self.model.parameters()]


class GpugradMLP(_FrameworkStep):
    """gpugrad: ``gg.nn.MLP`` + ``gg.optim.SGD`` + cross-entropy, backward, step, zero_grad."""
    name = "gpugrad"

    def __init__(self, wl, device, data):
        super().__init__(device)
        import gpugrad as gg
        from gpugrad import nn, optim
        x, labels, params = data
        self.model = nn.MLP(list(wl.sizes), activation="relu", device=device)
        ps = list(self.model.parameters())
        flat = [a for wb in params for a in wb]
        if [tuple(p.shape) for p in ps] != [a.shape for a in flat]:
            raise RuntimeError(f"gg.nn.MLP{wl.sizes}: expected parameters of shapes "
                               f"{[a.shape for a in flat]} (W as (in, out)), "
                               f"got {[tuple(p.shape) for p in ps]}")
        xp = xp_for(device)
        for p, a in zip(ps, flat):
            p.data[...] = xp.asarray(a)
        self.opt = optim.SGD(ps, lr=LR, momentum=MOMENTUM)
        self.x = gg.tensor(x, device=device)
        self.y = gg.tensor(labels, device=device)
        self.ce = nn.functional.cross_entropy


class CompiledMLP(GpugradMLP):
    """The same gpugrad step under ``gg.compile``: recorded once, then replayed (CUDA graphs)."""
    name = "compiled"

    def __init__(self, wl, device, data):
        super().__init__(wl, device, data)
        import gpugrad as gg
        self._compiled = gg.compile(self._body)

    def _body(self, x, y):
        loss = self.ce(self.model(x), y)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad()
        return loss

    def step(self):
        self._loss = self._compiled(self.x, self.y)


class TorchMLP(_FrameworkStep):
    """PyTorch eager: ``nn.Sequential(Linear, ReLU, ...)`` + ``optim.SGD`` (defaults)."""
    name = "torch"

    def __init__(self, wl, device, data):
        super().__init__(device)
        import torch
        self.torch = torch
        x, labels, params = data
        dev = torch.device(device)
        layers = []
        for i, (W, b) in enumerate(params):
            lin = torch.nn.Linear(*W.shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [lin] if i == len(params) - 1 else [lin, torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers).to(dev)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.x = torch.from_numpy(x).to(dev)
        self.y = torch.from_numpy(labels).to(dev)
        self.ce = torch.nn.functional.cross_entropy

    def sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def params(self):
        out = []                                        # Linear.weight is (out, in)
        for lin in self.model[::2]:
            out += [to_numpy(lin.weight).T.copy(), to_numpy(lin.bias)]
        return out


class NumpyMLP(_Impl):
    """Hand-written backprop on raw arrays (NumPy, or CuPy on CUDA), in place where natural."""
    name = "numpy"

    def __init__(self, wl, device, data):
        super().__init__(device)
        xp = self.xp = xp_for(device)
        x, labels, params = data
        self.x, self.y = xp.asarray(x), xp.asarray(labels)
        self.rows = xp.arange(x.shape[0])
        self.layers = [(xp.array(W), xp.array(b)) for W, b in params]     # updated in place
        self.bufs = None                    # momentum buffers: made by the first step, as torch

    def params(self):
        return [to_numpy(a) for W, b in self.layers for a in (W, b)]

    def step(self):
        xp, n = self.xp, self.x.shape[0]
        acts = [self.x]
        last = len(self.layers) - 1
        for i, (W, b) in enumerate(self.layers):       # forward: z = a @ W + b, relu in place
            z = acts[-1] @ W
            z += b
            if i < last:
                xp.maximum(z, 0, out=z)
            acts.append(z)
        logits = acts.pop()                            # softmax cross-entropy, mean
        m = logits.max(axis=1, keepdims=True)
        logits -= m
        p = xp.exp(logits)
        s = p.sum(axis=1, keepdims=True)
        self._loss = (xp.log(s[:, 0]) - logits[self.rows, self.y]).mean()
        p /= s
        p[self.rows, self.y] -= 1
        g = p
        g *= np.float32(1.0 / n)
        if self.bufs is None:
            self.bufs = [(xp.zeros(W.shape, W.dtype), xp.zeros(b.shape, b.dtype))
                         for W, b in self.layers]
        for i in range(last, -1, -1):                  # backward + SGD with momentum
            W, b = self.layers[i]
            bW, bb = self.bufs[i]
            a = acts[i]
            dW = a.T @ g
            db = g.sum(axis=0)
            if i > 0:
                g = g @ W.T
                g *= a > 0
            bW *= MOMENTUM
            bW += dW
            bb *= MOMENTUM
            bb += db
            xp.multiply(bW, -LR, out=dW)
            W += dW
            xp.multiply(bb, -LR, out=db)
            b += db


class GemmFloor(_Impl):
    """Only the GEMMs of the step, into preallocated buffers: forward one per layer; backward
    dW for every layer and dX for every layer but the first."""
    name = "gemm"

    def __init__(self, wl, device, data):
        super().__init__(device)
        xp = self.xp = xp_for(device)
        x, _, params = data
        rng = np.random.default_rng(1)
        self.Ws = [xp.asarray(W) for W, _ in params]
        self.acts = [xp.asarray(x)] + [xp.empty((x.shape[0], W.shape[1]), np.float32)
                                       for W, _ in params]
        self.grads = [xp.asarray(rng.standard_normal((x.shape[0], W.shape[1]), np.float32))
                      for W, _ in params]
        self.dWs = [xp.empty_like(W) for W in self.Ws]
        self._loss = 0.0

    def step(self):
        mm = self.xp.matmul
        for i, W in enumerate(self.Ws):
            mm(self.acts[i], W, out=self.acts[i + 1])
        for i in range(len(self.Ws) - 1, -1, -1):
            mm(self.acts[i].T, self.grads[i], out=self.dWs[i])
            if i > 0:
                mm(self.grads[i], self.Ws[i].T, out=self.grads[i - 1])


# the layer workload's implementations live in tools.bench.layer (re-exported here)
from gpugrad.tools.bench.layer import (FusedLayer, GemmLayer, TorchLayer,  # noqa: E402,F401
                                       UnfusedLayer, layer_upstream_grad)  # noqa: F401

_CLASSES = {"mlp": {"gpugrad": GpugradMLP, "compiled": CompiledMLP, "torch": TorchMLP,
                    "numpy": NumpyMLP, "gemm": GemmFloor},
            "layer": {"fused": FusedLayer, "unfused": UnfusedLayer, "torch": TorchLayer,
                      "gemm": GemmLayer}}


def make_impls(wl: Workload, device: str, names=None, seed: int = 0, batch: int | None = None,
               precision: str = "highest"):
    """{name: implementation} for ``wl`` on ``device``, all from the same data and weights;
    ``precision="high"`` runs their float32 GEMMs in TF32 on CUDA (:mod:`gpugrad.tools.bench.precision`).

    >>> sorted(make_impls(WORKLOADS["W2"], "cpu", names=["gemm", "numpy"]))
    ['gemm', 'numpy']
    """
    classes = dict(_CLASSES[wl.kind])
    names = list(names) if names is not None else impl_names(wl, device)
    if wl.kind == "mlp" and any(n in AUTOCAST_IMPLS for n in names):
        from gpugrad.tools.bench.autocast_impls import CLASSES
        classes.update(CLASSES)
    if wl.kind == "mlp" and any(n.startswith("jax") for n in names):
        from gpugrad.tools.bench.jax_peer import JaxMLP, JaxMLPTF32
        classes.update({"jax": JaxMLPTF32 if precision == "high" and device == "cuda"
                        else JaxMLP, "jax-tf32": JaxMLPTF32})
    bad = [n for n in names if n not in classes]
    if bad:
        raise ValueError(f"unknown implementation(s) {bad} for {wl.name}; expected some of "
                         f"{sorted(classes)}")
    data = make_data(wl, device, seed, batch)
    from gpugrad.tools.bench.precision import at_precision
    return at_precision({n: classes[n](wl, device, data) for n in names}, device, precision)
