"""JAX's version of the ``gpugrad bench`` MLP step: one ``jax.jit``-compiled function doing
forward, mean softmax cross-entropy, ``jax.grad`` and SGD with momentum (PyTorch's update:
``buf = momentum * buf + g; p -= lr * buf``), parameters and buffers donated so the update is
in place, as a JAX user would write it.

Float32 matmuls use ``precision="highest"`` (true float32, like the other peers); the ``jax-tf32``
variant uses ``"high"`` (TF32 on NVIDIA tensor cores), the counterpart of
``gpugrad.kernels.set_matmul_precision("high")``.  JAX is imported with
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (unless set already) so it shares the GPU with CuPy and
PyTorch in one process instead of taking three quarters of its memory up front.
"""
from __future__ import annotations

import os

import numpy as np

from gpugrad.tools.bench.workloads import LR, MOMENTUM, _Impl


def jax_available(device: str) -> bool:
    """True when JAX can be imported and has a backend for ``device`` ("cpu" or "cuda")."""
    import importlib.util
    if importlib.util.find_spec("jax") is None:
        return False
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    import jax
    platform = "gpu" if device == "cuda" else "cpu"
    try:
        return len(jax.devices(platform)) > 0
    except RuntimeError:
        return False


class JaxMLP(_Impl):
    """``jax.jit`` of the whole step; ``precision`` is JAX's matmul precision name."""
    name = "jax"
    precision = "highest"

    def __init__(self, wl, device, data):
        super().__init__(device)
        os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        import jax
        import jax.numpy as jnp
        self.jax = jax
        x, labels, params = data
        dev = jax.devices("gpu" if device == "cuda" else "cpu")[0]
        put = lambda a: jax.device_put(np.array(a, copy=True), dev)  # never a view of `data`   # noqa: E731
        self.ps = [(put(W), put(b)) for W, b in params]
        self.bufs = [(jnp.zeros_like(W), jnp.zeros_like(b)) for W, b in self.ps]
        self.x, self.y = put(x), put(labels.astype(np.int32))
        prec = self.precision

        def loss_fn(ps, x, y):
            a = x
            for i, (W, b) in enumerate(ps):
                a = jnp.matmul(a, W, precision=prec) + b
                if i < len(ps) - 1:
                    a = jax.nn.relu(a)
            logp = jax.nn.log_softmax(a, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

        def step(ps, bufs, x, y):
            loss, gs = jax.value_and_grad(loss_fn)(ps, x, y)
            new_bufs = jax.tree_util.tree_map(lambda buf, g: MOMENTUM * buf + g, bufs, gs)
            new_ps = jax.tree_util.tree_map(lambda p, buf: p - LR * buf, ps, new_bufs)
            return new_ps, new_bufs, loss

        self._step = jax.jit(step, donate_argnums=(0, 1))

    def step(self):
        self.ps, self.bufs, self._loss = self._step(self.ps, self.bufs, self.x, self.y)

    def sync(self):
        self.jax.block_until_ready((self.ps, self._loss))

    def loss(self) -> float:
        return float(self._loss)

    def params(self):
        return [np.array(a) for W, b in self.ps for a in (W, b)]


class JaxMLPTF32(JaxMLP):
    """The same step with TF32 matmuls (``precision="high"``)."""
    name = "jax-tf32"
    precision = "high"
