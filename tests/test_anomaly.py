"""Anomaly detection (gpugrad.autograd.detect_anomaly): the first NaN/Inf an op produces, in the
forward or the backward pass, raises AnomalyError naming the op, its inputs and the line of
this file that created it."""
import os
import threading
import warnings

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim
from gpugrad.autograd import (AnomalyError, Function, detect_anomaly, is_anomaly_enabled,
                              set_detect_anomaly)

HERE = os.path.abspath(__file__)
with open(HERE) as _f:
    _SOURCE = _f.read().splitlines()

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own, for log(-1)


def line(marker):
    """The line number in this file of the one line that ends with ``# <marker>``."""
    hits = [i + 1 for i, s in enumerate(_SOURCE) if s.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def assert_points_at(err, marker):
    """The error names this file and the marked line, in its text and in its attributes."""
    msg = str(err)
    n = line(marker)
    assert f"{HERE}:{n}" in msg, msg
    assert f'File "{HERE}", line {n}' in msg, msg
    assert (err.filename, err.lineno) == (HERE, n)


@pytest.fixture(autouse=True)
def _restore_anomaly_mode():
    yield
    set_detect_anomaly(False)


# ---------------------------------------------------------------- the switch
def test_off_by_default_and_nothing_is_recorded():
    assert not is_anomaly_enabled()
    x = gg.tensor([1.0, -1.0], requires_grad=True)
    y = gg.log(x)                                    # NaN, and no error: detection is off
    assert np.isnan(y.numpy()[1])
    assert y._node._anomaly is None


def test_set_detect_anomaly_returns_the_previous_mode():
    assert set_detect_anomaly(True) is False
    assert is_anomaly_enabled()
    assert set_detect_anomaly(True) is True
    assert set_detect_anomaly(False) is True
    assert set_detect_anomaly(False) is False
    assert not is_anomaly_enabled()


def test_context_manager_restores_and_nests():
    with detect_anomaly():
        assert is_anomaly_enabled() and gg.autograd.is_anomaly_check_nan_enabled()
        with detect_anomaly(check_nan=False):
            assert is_anomaly_enabled() and not gg.autograd.is_anomaly_check_nan_enabled()
        assert gg.autograd.is_anomaly_check_nan_enabled()
    assert not is_anomaly_enabled()
    with pytest.raises(ValueError):
        with detect_anomaly():
            raise ValueError("restored on errors too")
    assert not is_anomaly_enabled()


def test_decorator_form():
    @detect_anomaly()
    def step(v):
        assert is_anomaly_enabled()
        return gg.log(v)

    assert not is_anomaly_enabled()
    step(gg.tensor([1.0]))
    with pytest.raises(AnomalyError, match="Log"):
        step(gg.tensor([-1.0]))
    assert not is_anomaly_enabled()
    assert step.__name__ == "step"


def test_mode_belongs_to_each_thread():
    inside, checked = threading.Event(), threading.Event()
    seen = {}

    def on():
        with detect_anomaly():
            inside.set()
            checked.wait(5)
            try:
                gg.log(gg.tensor([-1.0]))
            except AnomalyError:
                seen["on raised"] = True

    def off():
        inside.wait(5)
        seen["off enabled"] = is_anomaly_enabled()
        y = gg.log(gg.tensor([-1.0], requires_grad=True))  # no error: not this thread's mode
        seen["off nan"] = bool(np.isnan(y.numpy()).all())
        seen["off recorded"] = y._node._anomaly
        checked.set()

    ts = [threading.Thread(target=on), threading.Thread(target=off)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert seen == {"on raised": True, "off enabled": False, "off nan": True,
                    "off recorded": None}
    assert not is_anomaly_enabled()
    assert gg.anomaly._on == 0  # the gate every op reads is closed again


def test_error_class_is_exported():
    assert gg.AnomalyError is gg.autograd.AnomalyError is AnomalyError
    assert issubclass(AnomalyError, RuntimeError)


# ---------------------------------------------------------------- forward
def test_log_of_a_negative_names_log_and_this_line():
    x = gg.tensor([[1.0, -1.0], [2.0, 3.0]], requires_grad=True)
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            y = gg.log(x)  # @log
            y * 2
    err = info.value
    assert (err.op, err.phase, err.index) == ("Log", "forward", None)
    msg = str(err)
    assert msg.startswith("Log produced nan (1 of 4 values) in its output (shape (2, 2), dtype "
                          "float32) from finite inputs")
    assert "input 0: tensor of shape (2, 2), dtype float32, requires grad" in msg
    assert "y = gg.log(x)" in msg
    assert_points_at(err, "@log")


@pytest.mark.parametrize("case,op", [("zero_by_zero", "Divide"), ("sqrt", "Sqrt"),
                                     ("pow", "Power"), ("inf_minus_inf", "Exp")])
def test_the_op_that_produced_the_value_is_named(case, op):
    x = gg.tensor([0.0, 1.0, 1000.0], requires_grad=True)
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            if case == "zero_by_zero":
                y = x / x  # @zero_by_zero
            elif case == "sqrt":
                y = gg.sqrt(x - 1.0)  # @sqrt
            elif case == "pow":
                y = (x - 1.0) ** 0.5  # @pow
            else:  # exp(1000) overflows: the inf is pinned there, not on the inf - inf after it
                y = gg.exp(x) - gg.exp(x)  # @inf_minus_inf
            y.sum()
    assert info.value.op == op
    assert_points_at(info.value, f"@{case}")


def test_a_later_op_is_not_blamed():
    x = gg.tensor([-1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            a = x * 3
            b = gg.log(a)  # @first_nan
            c = (b * b).sum()
            c.backward()
    assert info.value.op == "Log"
    assert_points_at(info.value, "@first_nan")


def test_values_that_enter_as_data_propagate_without_an_error():
    """Documented: an op whose inputs already hold NaN/Inf does not raise (a -inf mask)."""
    scores = gg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    mask = gg.tensor([[0.0, -np.inf, 0.0]])
    with detect_anomaly():
        p = gg.softmax(scores + mask, axis=-1)
        (p * gg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
        assert np.isfinite(scores.grad.numpy()).all()
        nan = gg.tensor([np.nan, 1.0]) - 1.0      # NaN in, NaN out: propagated, not produced
        assert np.isnan(nan.numpy()[0])


def test_inplace_ops_are_checked():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        y = x * 1.0
        with pytest.raises(AnomalyError) as info:
            y /= 0.0  # @inplace_graph
        assert info.value.op == "Divide"
        assert_points_at(info.value, "@inplace_graph")
        t = gg.zeros(2)
        with pytest.raises(AnomalyError) as info:
            t /= 0.0  # @inplace_plain
        assert_points_at(info.value, "@inplace_plain")


def test_complex_outputs_are_checked():
    z = gg.tensor(np.array([0j, 1 + 1j]), requires_grad=True)
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            gg.log(z)  # @complex
    assert info.value.op == "Log" and "complex" in str(info.value)
    assert_points_at(info.value, "@complex")


def test_check_nan_false_records_but_does_not_raise():
    x = gg.tensor([-1.0], requires_grad=True)
    with detect_anomaly(check_nan=False):
        y = gg.log(x)  # @recorded
    assert np.isnan(y.numpy()).all()
    frames, parent = y._node._anomaly
    assert frames[0][:2] == (HERE, line("@recorded")) and parent is None


# ---------------------------------------------------------------- backward
def test_sqrt_at_zero_names_the_op_and_its_forward_line():
    x = gg.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = gg.sqrt(x)  # @sqrt_fwd
        loss = (y * 3).sum()
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    err = info.value
    assert (err.op, err.phase, err.index) == ("Sqrt", "backward", 0)
    msg = str(err)
    assert msg.startswith("The backward of Sqrt returned inf (1 of 2 values) in the gradient for "
                          "its input 0 (shape (2,), dtype float32)")
    assert "Sqrt's inputs:\n    input 0: tensor of shape (2,), dtype float32, requires grad" in msg
    assert "y = gg.sqrt(x)" in msg
    assert_points_at(err, "@sqrt_fwd")
    assert x.grad is None  # nothing was accumulated past the failing node


class NanSecondGradient(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        return g, g * np.nan


class Raises(Function):
    def forward(self, a):
        return a * 1

    def backward(self, g):
        raise ValueError("a bug in a backward")


def test_a_custom_backward_returning_nan_is_named_with_the_bad_input():
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    b = gg.tensor([3.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = NanSecondGradient.apply(a, b)  # @custom
        with pytest.raises(AnomalyError) as info:
            gg.autograd.grad(y.sum(), [a, b])
    err = info.value
    assert (err.op, err.index) == ("NanSecondGradient", 1)
    assert "gradient for its input 1" in str(err)
    assert_points_at(err, "@custom")


def test_other_backward_errors_get_the_creation_line_as_a_note():
    a = gg.tensor([1.0], requires_grad=True)
    with detect_anomaly():
        y = Raises.apply(a)  # @raises
        with pytest.raises(ValueError, match="a bug") as info:
            y.sum().backward()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    if hasattr(info.value, "add_note"):  # Python 3.11+
        assert "backward of Raises" in notes and f"{HERE}:{line('@raises')}" in notes
    x = gg.tensor([1.0], requires_grad=True)
    with detect_anomaly():
        e = gg.exp(x)
        z = (e * x).sum()  # @saved_input
        with gg.no_grad():
            x += 1    # a parameter update before backward: Mul's saved x is overwritten
        with pytest.raises(RuntimeError, match="modified by an in-place operation") as info:
            z.backward()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    if hasattr(info.value, "add_note"):
        assert "backward of Mul" in notes and f"{HERE}:{line('@saved_input')}" in notes


def test_a_node_made_before_detection_was_on_says_so():
    x = gg.tensor([0.0], requires_grad=True)
    y = gg.sqrt(x).sum()
    with detect_anomaly():
        with pytest.raises(AnomalyError, match="created before anomaly detection was turned on"):
            y.backward()


def test_the_functional_transforms_are_covered():
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            gg.grad(lambda v: gg.sqrt(v).sum())(np.array([0.0, 1.0]))  # @transform
    assert (info.value.op, info.value.phase) == ("Sqrt", "backward")
    assert_points_at(info.value, "@transform")


# ---------------------------------------------------------------- higher order
def test_create_graph_and_hessian_work_with_detection_on():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    with detect_anomaly():
        (gx,) = gg.autograd.grad((x ** 3).sum(), [x], create_graph=True)
        (gxx,) = gg.autograd.grad(gx.sum(), [x])
        h = gg.hessian(lambda v: (v ** 3).sum())(np.array([1.0, 2.0]))
        (x ** 3).sum().backward(create_graph=True)
    np.testing.assert_allclose(gx.numpy(), [3.0, 12.0])
    np.testing.assert_allclose(gxx.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(h, [[6.0, 0.0], [0.0, 12.0]])
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_nan_in_a_create_graph_backward_names_the_node_and_its_forward_line():
    x = gg.tensor([0.0, 1.0], dtype="float64", requires_grad=True)
    with detect_anomaly():
        y = gg.sqrt(x)  # @sqrt_twice
        with pytest.raises(AnomalyError) as info:
            gg.autograd.grad(y.sum(), [x], create_graph=True)
    err = info.value
    assert err.backward_of == "Sqrt" and err.phase == "backward"
    assert "It ran in the backward of Sqrt (create_graph=True)" in str(err)
    assert_points_at(err, "@sqrt_twice")


def test_second_order_nan_points_through_the_first_backward():
    x = gg.tensor([0.0, 1.0], dtype="float64", requires_grad=True)
    with detect_anomaly():
        y = (x ** 1.5).sum()  # @pow_twice
        (gx,) = gg.autograd.grad(y, [x], create_graph=True)  # 1.5 sqrt(x): finite at 0
        with pytest.raises(AnomalyError) as info:
            gg.autograd.grad(gx.sum(), [x])               # 0.75 / sqrt(x): inf at 0
    assert "recorded by the backward of Power" in str(info.value)
    assert_points_at(info.value, "@pow_twice")


# ---------------------------------------------------------------- no false positives
def test_an_mlp_training_step_raises_nothing():
    gg.manual_seed(0)
    X = gg.randn(32, 8)
    y = gg.tensor(np.arange(32) % 3)
    model = nn.MLP([8, 16, 16, 3], activation="gelu")
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with detect_anomaly():
        for _ in range(3):
            loss = nn.functional.cross_entropy(model(X), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert np.isfinite(loss.item())
        assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all()
                   for p in model.parameters())


# ---------------------------------------------------------------- devices
def test_on_every_device(device):
    """On CUDA the checks synchronize; the errors are the same (GPUGRAD_FAKE_CUDA=1 runs the
    cuda case on the NumPy-backed stand-in)."""
    x = gg.tensor([1.0, -1.0], device=device, requires_grad=True)
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            gg.log(x)  # @device_fwd
        assert info.value.op == "Log"
        assert_points_at(info.value, "@device_fwd")
        z = gg.tensor([0.0, 4.0], device=device, requires_grad=True)
        y = gg.sqrt(z)  # @device_bwd
        with pytest.raises(AnomalyError) as info:
            y.sum().backward()
        assert (info.value.op, info.value.index) == ("Sqrt", 0)
        assert_points_at(info.value, "@device_bwd")
        w = gg.tensor([1.0, 2.0], device=device, requires_grad=True)
        (w * w).sum().backward()                       # finite: no error, no false alarm
    assert w.grad.device == gg.device(device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
