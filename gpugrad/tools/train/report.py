"""Reporting for training runs: a per-epoch progress bar (tqdm when installed, else a plain
stderr line; shown only when stderr is a terminal, so logs get no frames), atomic JSON
files, loss/accuracy curves and per-layer gradient statistics (matplotlib when installed).

>>> bar = Progress(total=100, desc="epoch 1/1", enabled=False)
>>> bar.update(50, loss=0.5); bar.close()
"""
from __future__ import annotations

import json
import sys
import time

from gpugrad.atomic_file import atomic_write

__all__ = ["Progress", "stderr_is_terminal", "write_json", "plot_curves", "plot_grad_stats"]


def stderr_is_terminal() -> bool:
    """True when ``sys.stderr`` is an interactive terminal (where a progress bar belongs);
    False for files, pipes and captured streams.

    >>> import io, contextlib
    >>> with contextlib.redirect_stderr(io.StringIO()):
    ...     stderr_is_terminal()
    False
    """
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):          # a closed or detached stream
        return False


class Progress:
    """A progress bar over ``total`` samples showing samples/s and the loss: tqdm when
    installed, else a plain one-line stderr counter; nothing when ``enabled`` is False."""

    def __init__(self, total, desc, enabled):
        self.bar, self.plain = None, False
        self.total, self.desc, self.n, self.t0, self.last = total, desc, 0, time.perf_counter(), 0.0
        self.postfix = ""
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            self.plain = True
            return
        self.bar = tqdm(total=total, desc=desc, unit="samples", unit_scale=True, leave=False,
                        dynamic_ncols=True, file=sys.stderr)

    @property
    def active(self) -> bool:
        """True when something is displayed (tqdm or the plain line)."""
        return self.bar is not None or self.plain

    def update(self, n, loss=None):
        """Count ``n`` more samples; show ``loss`` when given."""
        self.n += n
        now = time.perf_counter()
        if loss is not None:
            self.postfix = f"loss={loss:.4f}"
        if self.bar is not None:
            if loss is not None:
                self.bar.set_postfix_str(self.postfix, refresh=False)
            self.bar.update(n)
        elif self.plain and (now - self.last > 0.5 or self.n >= self.total):
            self.last = now
            rate = self.n / max(now - self.t0, 1e-9)
            sys.stderr.write(f"\r{self.desc}: {self.n}/{self.total} samples, "
                             f"{rate:,.0f} samples/s {self.postfix}   ")
            sys.stderr.flush()

    def close(self):
        """Remove the bar (the per-epoch summary line replaces it)."""
        if self.bar is not None:
            self.bar.close()
        elif self.plain:
            sys.stderr.write("\r" + " " * 80 + "\r")
            sys.stderr.flush()


def write_json(obj, path) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (:func:`gpugrad.io.atomic_write`:
    temporary file, fsync, rename; the umask's permissions; OSErrors name ``path``).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.json"); write_json({"a": 1}, p)
    >>> json.load(open(p))
    {'a': 1}
    """
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2)


def plot_curves(history, path, task="classification", train_label="train") -> bool:
    """Save loss (and accuracy) curves to ``path``; False when matplotlib is missing.
    Points carry markers (up to 30 epochs), so a one-epoch run shows its numbers too.

    >>> import tempfile, os
    >>> rows = [{"epoch": 1, "train_loss": 1.0, "test_loss": 1.1, "test_accuracy": 0.5},
    ...         {"epoch": 2, "train_loss": 0.5, "test_loss": 0.7, "test_accuracy": 0.8}]
    >>> plot_curves(rows, os.path.join(tempfile.mkdtemp(), "c.png"))   # doctest: +SKIP
    True
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    ep = [h["epoch"] for h in history]
    style = {"marker": "o", "markersize": 4} if len(ep) <= 30 else {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(ep, [h["train_loss"] for h in history], label=train_label, **style)
    axes[0].plot(ep, [h["test_loss"] for h in history], label="test", **style)
    axes[0].set(xlabel="epoch", ylabel="loss", title="loss")
    axes[0].legend()
    key, title = ("test_accuracy", "test accuracy") if task == "classification" \
        else ("test_r2", "test R^2")
    axes[1].plot(ep, [h[key] for h in history], color="C2", **style)
    axes[1].set(xlabel="epoch", ylabel=title, title=title)
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_grad_stats(history, path) -> bool:
    """Save the rows' ``grad_stats`` (:mod:`gpugrad.tools.train.grad_stats`) to ``path`` as three panels
    over epochs, one line per parameter: the mean gradient norm (log scale), the
    update-to-weight ratio (log scale, with the 1e-3 rule-of-thumb line) and the fraction of
    dead ReLU units (ReLU-family layers only).  Epochs without statistics (a run resumed with
    ``--grad-stats``) are gaps.  False when matplotlib is missing.

    >>> import tempfile, os
    >>> rows = [{"epoch": e, "grad_stats": {"0.weight": {"grad_norm": 1 / e, "grad_norm_max":
    ...          2 / e, "update_ratio": 1e-3, "dead_fraction": 0.1 * e}}} for e in (1, 2)]
    >>> plot_grad_stats(rows, os.path.join(tempfile.mkdtemp(), "g.png"))  # doctest: +SKIP
    True
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    nan = float("nan")
    ep = [h["epoch"] for h in history]
    names = []
    for h in history:
        for name in h.get("grad_stats") or {}:
            if name not in names:
                names.append(name)

    def series(name, key):
        vals = [((h.get("grad_stats") or {}).get(name) or {}).get(key) for h in history]
        return [nan if v is None else v for v in vals]

    def positive(vals):       # log axes: zeros (no gradient), NaN and Infinity are gaps
        return [v if 0 < v < float("inf") else nan for v in vals]

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    marker = "o" if len(ep) <= 30 else None
    for i, name in enumerate(names):
        style = dict(color=f"C{(i // 2) % 10}", marker=marker, markersize=3,
                     linestyle="-" if name.endswith("weight") else "--", label=name)
        axes[0].plot(ep, positive(series(name, "grad_norm")), **style)
        axes[1].plot(ep, positive(series(name, "update_ratio")), **style)
        dead = series(name, "dead_fraction")
        if any(v == v for v in dead):
            axes[2].plot(ep, dead, **dict(style, linestyle="-",
                                          label="layer " + name.rpartition(".")[0]))
    axes[0].set(xlabel="epoch", ylabel="||grad|| (mean over steps)", yscale="log",
                title="gradient norm per layer")
    axes[1].axhline(1e-3, color="gray", linestyle=":", linewidth=1, label="1e-3")
    axes[1].set(xlabel="epoch", ylabel="||dW|| / ||W||", yscale="log",
                title="update / weight ratio")
    axes[2].set(xlabel="epoch", ylabel="fraction of units", ylim=(-0.02, 1.02),
                title="dead ReLU units (<= 0 on the probe batch)")
    from matplotlib.ticker import MaxNLocator
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(ep) > 1:
            ax.set_xlim(min(ep) - 0.2, max(ep) + 0.2)     # epochs without statistics: gaps
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize="small")
    if not any(axes[2].get_lines()):
        axes[2].text(0.5, 0.5, "no ReLU-family layers", ha="center", va="center",
                     transform=axes[2].transAxes, color="gray")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
