"""A backward pass that raises after a node's backward ran (a post-accumulate hook raising
while the node's gradients are handed on): the node is still let go of as a finished one --
a later pass without ``retain_graph`` frees it, and a claimed gradient buffer is released."""
import pytest

import gpugrad as gg
from gpugrad.backward_pass import register_post_accumulate_grad_hook


def _graph_with_a_failing_hook():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w) * 3.0
    calls = []

    def hook(t):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("hook failed")

    handle = register_post_accumulate_grad_hook(w, hook)
    return w, y, y._node.pnodes[0], handle


def test_a_retained_pass_that_raised_leaves_the_node_to_a_later_pass():
    w, y, inner, handle = _graph_with_a_failing_hook()
    with pytest.raises(ValueError, match="hook failed"):
        y.sum().backward(retain_graph=True)
    y.sum().backward()                  # the last pass: frees every node it ran
    assert inner._freed
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    handle.remove()


def test_a_pass_that_raised_after_a_node_ran_frees_it():
    w, y, inner, handle = _graph_with_a_failing_hook()
    with pytest.raises(ValueError, match="hook failed"):
        y.sum().backward()
    assert inner._freed                  # its backward ran: its saved arrays are let go
    with pytest.raises(RuntimeError, match="second time"):
        y.sum().backward()
    handle.remove()
