"""Backward's check of logged writes (gpugrad.write_log.writes_missed): every logged write
since a node's version is checked against the node's saved memory -- two writes that logged
one version (two threads' ``vc[0] += 1`` can lose one increment) are both checked -- and the
check costs O(log size) in C, not a Python loop over the whole log per node (a 3000-step
recurrence into one buffer took ~2.5 s of backward, quadratic in the steps)."""
import time

import pytest

import numpy

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.write_log import log_write, writes_missed


def test_two_writes_logged_at_one_version_are_both_checked():
    buf = numpy.zeros((3, 2))
    vc = [0]
    vc[0] += 1                 # two threads' increments, one lost: one version, two writes
    log_write(vc, buf[0])      # this one reaches the saved row
    log_write(vc, buf[2])
    assert writes_missed(vc, 0, [buf[2:]]) is False
    assert writes_missed(vc, 0, [buf[0]]) is False
    assert writes_missed(vc, 0, [buf[1]]) is True


def test_a_version_without_its_write_logged_is_not_missed():
    buf = numpy.zeros((4, 2))
    vc = [0]
    vc[0] += 1
    log_write(vc, buf[3])
    vc[0] += 1                 # an unlogged write (NumPy's own, an optimizer step)
    assert writes_missed(vc, 0, [buf[0]]) is False
    assert writes_missed(vc, 1, [buf[0]]) is False
    vc[0] += 1
    log_write(vc, buf[2])
    assert writes_missed(vc, 2, [buf[0]]) is True
    assert writes_missed(vc, 2, [buf[1:3]]) is False


def _recurrence(T, H=4):
    rng = numpy.random.default_rng(0)
    W = gg.tensor(rng.normal(size=(H, H)) * 0.3, requires_grad=True)
    h = gnp.zeros((T + 1, H))
    loss = 0.0
    for t in range(T):
        h[t] = gnp.tanh(gnp.dot(W, h[t - 1]) + 1.0)
        loss = loss + gnp.sum(h[t] * h[t])   # reads row t; later writes move the version
    return W, loss


def _backward_seconds(T):
    best = float("inf")
    for _ in range(3):
        W, loss = _recurrence(T)
        t0 = time.perf_counter()
        loss.backward()
        best = min(best, time.perf_counter() - t0)
    return best, W


def test_backward_through_a_logged_recurrence_is_linear_in_its_steps():
    small, _ = _backward_seconds(400)
    large, W = _backward_seconds(2400)
    # linear: ~6x (7-9 measured); the Python scan of the whole log per node was ~30x, and
    # quadratic growth would be 36x: 20 leaves room for a loaded machine's noise
    assert large < 20 * small, (small, large)
    # and the gradient is the one of the recurrence (against PyTorch's)

    torch = pytest.importorskip("torch")
    T, H = 2400, 4
    Wt = torch.tensor(numpy.random.default_rng(0).normal(size=(H, H)) * 0.3,
                      requires_grad=True)
    hs = [torch.zeros(H, dtype=torch.float64) for _ in range(T + 1)]
    loss = 0.0
    for t in range(T):
        hs[t] = torch.tanh(Wt @ hs[t - 1] + 1.0)
        loss = loss + (hs[t] * hs[t]).sum()
    loss.backward()
    numpy.testing.assert_allclose(numpy.asarray(W.grad.data), Wt.grad.numpy(), rtol=1e-10)
