"""Per-layer training diagnostics: gradient norms, update-to-weight ratios and dead ReLUs.

``GradStats`` is a :class:`Callback` for :func:`gpugrad.tools.train.fit` (``gpugrad train
--grad-stats`` adds one; from Python pass ``fit(cfg, callbacks=[GradStats()])``).  Each
epoch it adds to the epoch's row in ``metrics.json`` a ``"grad_stats"`` entry keyed by
parameter name (``"0.weight"``, ``"0.bias"``, ... as ``model.named_parameters()`` names them)::

    {"0.weight": {"grad_norm": ..., "grad_norm_max": ..., "update_ratio": ...,
                  "dead_fraction": ...},
     "0.bias":   {"grad_norm": ..., "grad_norm_max": ..., "update_ratio": ...}, ...}

How each number is measured:

- ``grad_norm`` / ``grad_norm_max``: the L2 norm of the parameter's gradient after
  ``backward()`` and before ``optimizer.step()``, at *every* step; its mean and maximum over
  the epoch's steps.  (0 for a step in which the parameter got no gradient.)
- ``update_ratio``: ``||W_after - W_before|| / ||W_before||`` of one optimizer step, measured
  exactly (a copy of the parameters is taken before the step) on every ``every``-th step of
  the epoch and on its last step (``every=10`` by default, so the copies cost about a tenth
  of a step's parameter traffic); the mean over those sampled steps (NaN when the weight was
  all zeros and did not move, Infinity when it moved).  A healthy ratio is around 1e-3; far below, the layer barely learns; far above,
  the step is too large for it.
- ``dead_fraction`` (only on the ``.weight`` entry of a ReLU-family layer: a ``Linear``
  with a fused ``relu``/``leaky_relu``, or a plain ``Linear`` followed by a ``ReLU`` /
  ``LeakyReLU`` module): the fraction of the layer's output units whose activation is
  ``<= 0`` for every sample of a fixed probe batch -- the first ``probe_size`` (1024)
  training samples, in dataset order -- run forward once at the end of the epoch in eval
  mode without a graph (gpugrad modules have no forward hooks; eval mode draws no dropout
  masks, so the run's random stream, and a resume, are unchanged).  For a leaky ReLU such a
  unit is not strictly dead (it still passes negative_slope times the gradient) but is stuck
  in its negative regime.  Only a model that is a (nested) ``Sequential``, like ``MLP``, is
  walked layer by layer; other models get no dead fractions.

Everything is accumulated on the parameters' device; the numbers are read back once per
epoch (one host synchronisation), so the per-step cost on a GPU is a few small kernels
(one dot product per parameter, then four on a vector of them) and no sync.  Gradients that
are NaN or infinite give NaN/Infinity, written to ``metrics.json`` as the losses are; None
means nothing was measured (an epoch without steps).

>>> import gpugrad as gg
>>> from gpugrad.tools.train import TrainConfig, fit
>>> cfg = TrainConfig(dataset="synthetic", samples=200, features=4, classes=2, hidden=[8],
...                   epochs=2, out=None, quiet=True)
>>> rows = fit(cfg, log=lambda line: None, callbacks=[GradStats()])["epochs"]
>>> sorted(rows[-1]["grad_stats"])
['0.bias', '0.weight', '1.bias', '1.weight']
>>> sorted(rows[-1]["grad_stats"]["0.weight"])
['dead_fraction', 'grad_norm', 'grad_norm_max', 'update_ratio']
"""
from __future__ import annotations

import numpy as np

from gpugrad import backend
from gpugrad.autograd import no_grad
from gpugrad.tensor import Tensor

__all__ = ["Callback", "GradStats", "RELU_FAMILY"]

RELU_FAMILY = ("relu", "leaky_relu")


class Callback:
    """Hooks :func:`gpugrad.tools.train.fit` calls during a run; override any of them.

    Order: ``on_train_begin`` once, then per epoch ``on_epoch_begin``, per step
    ``on_before_step`` (after ``backward()``, before ``optimizer.step()``) and
    ``on_step_end`` (after the step), and ``on_epoch_end(row)`` with the epoch's metrics row
    *before* it is stored: entries a callback adds to ``row`` go into the history,
    ``metrics.json`` and the checkpoint.  With no callbacks the loop calls nothing.

    >>> class Count(Callback):
    ...     steps = 0
    ...     def on_step_end(self, step, loss):
    ...         self.steps += 1
    >>> Count().on_train_begin(None, None, None)
    """

    def on_train_begin(self, model, optimizer, inputs) -> None:
        """``inputs``: the training inputs (a host NumPy array, dataset order)."""

    def on_epoch_begin(self, epoch: int, num_steps: int) -> None:
        """``epoch`` counts from 0; ``num_steps`` is the number of steps it will take."""

    def on_before_step(self, step: int) -> None:
        """Gradients are in ``.grad``; the optimizer has not stepped yet."""

    def on_step_end(self, step: int, loss) -> None:
        """The optimizer has stepped; ``loss`` is the step's loss tensor (on the device)."""

    def on_epoch_end(self, row: dict) -> None:
        """Add entries to the epoch's metrics ``row`` (JSON-friendly values)."""


class GradStats(Callback):
    """Record per-parameter gradient norms, update-to-weight ratios and dead-unit fractions
    each epoch into ``row["grad_stats"]`` (see the module docstring for the definitions).

    ``every``: measure the update ratio on every ``every``-th step and the epoch's last
    (1 = every step).  ``probe_size``: how many training samples the dead-unit probe uses.

    >>> GradStats(every=0)
    Traceback (most recent call last):
    ...
    ValueError: GradStats: expected every to be an int >= 1, got 0
    """

    def __init__(self, every: int = 10, probe_size: int = 1024):
        for name, v in (("every", every), ("probe_size", probe_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"GradStats: expected {name} to be an int >= 1, got {v!r}")
        self.every, self.probe_size = every, probe_size
        self.model = self.names = self.params = self.probe = None

    def settings(self) -> dict:
        """How the numbers were measured (stored in ``metrics.json`` beside the rows)."""
        return {"update_ratio_every": self.every,
                "dead_probe_samples": 0 if self.probe is None else int(self.probe.shape[0]),
                "dead_activations": list(RELU_FAMILY)}

    # ------------------------------------------------------------ hooks
    def on_train_begin(self, model, optimizer, inputs) -> None:
        self.model = model
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.device = backend.array_device(self.params[0].data) if self.params else backend.CPU
        self.xp = self.device.xp
        self.probe = None
        if inputs is not None and _walkable(model):
            x = np.asarray(inputs)[:self.probe_size]
            dt = self.params[0].dtype if self.params else None
            if dt is not None and x.dtype.kind == "f" and x.dtype != dt:
                x = x.astype(dt)
            self.probe = Tensor._make(backend.to_device(np.ascontiguousarray(x), self.device))

    def on_epoch_begin(self, epoch: int, num_steps: int) -> None:
        xp, n = self.xp, len(self.params)
        with self.device._activated():
            self._norm_sum = xp.zeros(n, dtype=xp.float64)
            self._norm_max = xp.zeros(n, dtype=xp.float64)
            self._ratio_sum = xp.zeros(n, dtype=xp.float64)
        self._steps = self._sampled = 0
        self._num_steps = num_steps
        self._before = None

    def _sample(self, step) -> bool:
        k = step + 1
        return k % self.every == 0 or k == self._num_steps

    def on_before_step(self, step: int) -> None:
        if not self.params:
            return
        xp = self.xp
        with self.device._activated():
            sq = []
            for p in self.params:
                g = p.grad
                if g is None:
                    sq.append(xp.zeros((), dtype=xp.float64))
                else:
                    g = g.data.ravel()
                    sq.append(xp.vdot(g, g).astype(xp.float64))
            norms = xp.sqrt(xp.stack(sq))
            self._norm_sum += norms
            xp.maximum(self._norm_max, norms, out=self._norm_max)
            if self._sample(step):
                self._before = [p.data.copy() for p in self.params]
        self._steps += 1

    def on_step_end(self, step: int, loss) -> None:
        if self._before is None:
            return
        xp = self.xp
        with self.device._activated():
            d2, w2 = [], []
            for p, w in zip(self.params, self._before):
                d = (p.data - w).ravel()
                w = w.ravel()
                d2.append(xp.vdot(d, d).astype(xp.float64))
                w2.append(xp.vdot(w, w).astype(xp.float64))
            with np.errstate(divide="ignore", invalid="ignore"):
                self._ratio_sum += xp.sqrt(xp.stack(d2) / xp.stack(w2))
        self._before = None
        self._sampled += 1

    def on_epoch_end(self, row: dict) -> None:
        if not self.params:
            row["grad_stats"] = {}
            return
        xp, n = self.xp, len(self.params)
        dead = self._dead_fractions()
        with self.device._activated():
            parts = [self._norm_sum / max(self._steps, 1), self._norm_max,
                     self._ratio_sum / max(self._sampled, 1)]
            if dead:
                parts.append(xp.stack([v.astype(xp.float64) for v in dead.values()]))
            host = backend.to_device(xp.concatenate(parts), "cpu")     # the one sync
        mean, mx, ratio = host[:n], host[n:2 * n], host[2 * n:3 * n]
        dead_host = dict(zip(dead, host[3 * n:].tolist()))
        stats = {}
        for i, name in enumerate(self.names):
            entry = {"grad_norm": _num(mean[i]) if self._steps else None,
                     "grad_norm_max": _num(mx[i]) if self._steps else None,
                     "update_ratio": _num(ratio[i]) if self._sampled else None}
            layer, _, leaf = name.rpartition(".")
            if leaf == "weight" and layer in dead_host:
                entry["dead_fraction"] = dead_host[layer]
            stats[name] = entry
        row["grad_stats"] = stats

    # ------------------------------------------------------------ dead units
    def _dead_fractions(self) -> dict:
        """{layer name: 0-d device array} from one forward pass over the probe batch."""
        if self.probe is None:
            return {}
        model, dead = self.model, {}
        was_training = model.training
        model.eval()
        try:
            with no_grad(), self.device._activated():
                _walk(model, self.probe, "", dead, self.xp)
        finally:
            model.train(was_training)
        return dead


def _num(v):
    return float(v)


def _walkable(model) -> bool:
    from gpugrad.nn import Sequential
    return isinstance(model, Sequential)


def _dead(out, xp):
    """The fraction of columns of ``out`` that are <= 0 in every row (a 0-d device array)."""
    a = out.data.reshape(out.shape[0], -1)
    alive = (a > 0).any(axis=0)
    return 1.0 - alive.mean(dtype=xp.float64)


def _walk(seq, x, prefix, dead, xp, last=None):
    """Run ``x`` through a Sequential child by child, recording dead fractions."""
    from gpugrad.nn import Dropout, Identity, LeakyReLU, Linear, ReLU, Sequential
    for name, child in seq.named_children():
        full = f"{prefix}.{name}" if prefix else name
        if isinstance(child, Sequential):
            x, last = _walk(child, x, full, dead, xp, last)
            continue
        x = child(x)
        if isinstance(child, Linear):
            last = None
            if child.activation in RELU_FAMILY:
                dead[full] = _dead(x, xp)
            elif child.activation is None:
                last = full                      # a separate activation module may follow
        elif isinstance(child, (ReLU, LeakyReLU)) and last is not None:
            dead[last] = _dead(x, xp)
            last = None
        elif not isinstance(child, (Dropout, Identity)):
            last = None
    return x, last
