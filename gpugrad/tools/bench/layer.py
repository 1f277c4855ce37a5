"""The ``layer`` workload of ``gpugrad bench``: forward and backward of one 4096x4096 ReLU
layer from a fixed upstream gradient -- gpugrad fused (``gg.linear``) and unfused
(``relu(x @ W + b)``), PyTorch eager, and the GEMM-only floor.
"""
from __future__ import annotations

import numpy as np

from gpugrad.tools.bench.workloads import GemmFloor, TorchMLP, _Impl, to_numpy

def layer_upstream_grad(n: int, m: int) -> np.ndarray:
    """The fixed upstream gradient (n, m) of the ``layer`` workload's backward pass.

    >>> layer_upstream_grad(2, 3).shape
    (2, 3)
    """
    return np.random.default_rng(2).standard_normal((n, m), np.float32)


class _Layer(_Impl):
    """Forward + backward of relu(x @ W + b) from an upstream gradient to the gradients of x,
    W and b (``autograd.grad``: no accumulation into ``.grad``, which both paths would pay)."""

    def __init__(self, wl, device, data):
        super().__init__(device)
        import gpugrad as gg
        self.gg = gg
        x, _, ((W, b),) = data
        gy = layer_upstream_grad(x.shape[0], W.shape[1])
        self.x, self.W, self.b = (gg.tensor(a, device=device, requires_grad=True)
                                  for a in (x, W, b))
        self.gy = gg.tensor(gy, device=device)
        self._loss = 0.0

    def step(self):
        self.y = self.forward()
        self.grads = self.gg.autograd.grad([self.y], [self.x, self.W, self.b], [self.gy])

    def results(self):
        return dict(zip(("y", "gx", "gW", "gb"), map(to_numpy, (self.y, *self.grads))))


class FusedLayer(_Layer):
    """``gg.linear(x, W, b, activation="relu")``: one node, fused epilogues."""
    name = "fused"

    def forward(self):
        return self.gg.linear(self.x, self.W, self.b, activation="relu")


class UnfusedLayer(_Layer):
    """``gg.relu(x @ W + b)``: three nodes (matmul, add, relu)."""
    name = "unfused"

    def forward(self):
        return self.gg.relu(self.x @ self.W + self.b)


class TorchLayer(TorchMLP):
    """PyTorch eager ``relu(linear(x, W.T, b))`` forward + backward, for reference."""
    name = "torch"

    def __init__(self, wl, device, data):
        _Impl.__init__(self, device)
        import torch
        self.torch = torch
        x, _, ((W, b),) = data
        gy = layer_upstream_grad(x.shape[0], W.shape[1])
        dev = torch.device(device)
        self.x, self.W, self.b = (torch.from_numpy(np.ascontiguousarray(a)).to(dev)
                                  .requires_grad_() for a in (x, W.T, b))
        self.gy = torch.from_numpy(gy).to(dev)
        self._loss = 0.0

    def step(self):
        F = self.torch.nn.functional
        self.y = F.relu(F.linear(self.x, self.W, self.b))
        self.grads = self.torch.autograd.grad(self.y, (self.x, self.W, self.b), self.gy)

    def loss(self):
        return 0.0

    def results(self):
        gx, gWt, gb = map(to_numpy, self.grads)        # W is kept as (out, in), as torch's
        return {"y": to_numpy(self.y), "gx": gx, "gW": gWt.T.copy(), "gb": gb}


class GemmLayer(GemmFloor):
    """The layer's three GEMMs: forward, dW, dX (a hidden layer needs its dX)."""

    def __init__(self, wl, device, data):
        super().__init__(wl, device, data)
        self.dx = self.xp.empty_like(self.acts[0])

    def step(self):
        mm = self.xp.matmul
        mm(self.acts[0], self.Ws[0], out=self.acts[1])
        mm(self.acts[0].T, self.grads[0], out=self.dWs[0])
        mm(self.grads[0], self.Ws[0].T, out=self.dx)
