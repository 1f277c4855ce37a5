"""nll_loss on ignored rows: such a row contributes 0 to the loss and gets a zero gradient
whatever its log-probabilities hold (-inf, NaN), as in PyTorch."""
import numpy as np
import pytest

import gpugrad as gg

try:
    import torch
except ImportError:  # (the lowest-versions CI environment has no PyTorch)
    torch = None


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_ignores_an_ignored_row_whatever_it_holds(reduction):
    """An ignored row contributes 0 to the loss and gets a zero gradient even when its
    log-probabilities are -inf or NaN (it was multiplied by 0: 0 * -inf = NaN poisoned the
    whole loss); PyTorch selects the row out too."""
    lp = np.array([[-np.inf, -1.0], [-0.5, -2.0], [np.nan, np.nan]])
    t = np.array([-100, 1, -100])
    x = gg.tensor(lp, requires_grad=True)
    loss = gg.nll_loss(x, gg.tensor(t), reduction=reduction)
    want = {"none": [0.0, 2.0, 0.0], "sum": 2.0, "mean": 2.0}[reduction]
    np.testing.assert_array_equal(loss.detach().numpy(), want)
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0], [0.0, -1.0], [0.0, 0.0]])


def test_nll_loss_matches_torch_with_ignored_rows():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    lp = np.array([[-np.inf, -1.0], [-0.5, -2.0], [np.nan, np.nan], [-0.1, -3.0]])
    t = np.array([-100, 1, -100, 0])
    for reduction in ("none", "sum", "mean"):
        x = gg.tensor(lp, requires_grad=True)
        loss = gg.nll_loss(x, gg.tensor(t), reduction=reduction)
        loss.sum().backward()
        tx = torch.tensor(lp, requires_grad=True)
        tl = torch.nn.functional.nll_loss(tx, torch.tensor(t), reduction=reduction)
        tl.sum().backward()
        np.testing.assert_array_equal(loss.detach().numpy(), tl.detach().numpy())
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
