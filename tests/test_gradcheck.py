"""gradcheck itself: it passes correct gradients and catches wrong ones, naming the worst
element."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import Function


class Square(Function):
    """x * x with a correct backward."""

    def forward(self, x):
        self.saved = (x,)
        return x * x

    def backward(self, g):
        (x,) = self.saved
        return (2 * x * g,)


class BadSquare(Square):
    """x * x whose gradient is off by one at one element (1, 2)."""

    def backward(self, g):
        (gx,) = super().backward(g)
        gx = gx.copy()
        gx[1, 2] += 1.0
        return (gx,)


class BadProduct(Function):
    """a * b whose gradient for b forgets the upstream gradient."""

    def forward(self, a, b):
        self.saved = (a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        return (g * b if self.needs[0] else None, a if self.needs[1] else None)


def test_passes_on_correct_functions(device):
    x = gg.randn(2, 3, dtype="float64", device=device)
    y = gg.randn(3, dtype="float64", device=device)
    assert gg.gradcheck(Square.apply, [x]) is True
    assert gg.gradcheck(lambda a, b: gg.tanh(a * b).sum(axis=0) / (1 + b * b), [x, y])
    assert gg.gradcheck(lambda a: a[0] @ a[1], [gg.randn(2, 3, 3, dtype="float64",
                                                           device=device)])


def test_integer_inputs_are_held_fixed(device):
    logits = gg.randn(4, 3, dtype="float64", device=device)
    target = gg.tensor([0, 2, 1, 2], device=device)
    assert gg.gradcheck(gg.cross_entropy, [logits, target])


def test_float32_inputs_are_checked_in_float64_copies():
    x = gg.randn(5)                                  # float32
    before = x.numpy().copy()
    seen = []

    def f(a):
        seen.append(a.dtype)
        return gg.exp(a)
    assert gg.gradcheck(f, [x])
    assert set(seen) == {np.dtype("float64")}
    np.testing.assert_array_equal(x.numpy(), before)    # the caller's tensor is untouched
    assert x.grad is None and not x.requires_grad
    assert gg.gradcheck(gg.sin, [np.array([0.1, 0.2])])  # NumPy arrays are accepted too


def test_an_unused_input_has_zero_gradient():
    assert gg.gradcheck(lambda a, b: a * 2, [gg.randn(3, dtype="float64"),
                                             gg.randn(3, dtype="float64")])


def test_wrong_gradient_names_the_worst_element(device):
    x = gg.randn(2, 3, dtype="float64", device=device)
    with pytest.raises(gg.GradcheckError, match=r"gradient check failed at input 0, element "
                                                r"\(1, 2\): analytic .*, numerical .* "
                                                r"\(shape \(2, 3\)\)"):
        gg.gradcheck(BadSquare.apply, [x], directions=0)
    with pytest.raises(gg.GradcheckError, match="gradient check failed"):
        gg.gradcheck(BadSquare.apply, [x])           # random directions too
    assert gg.gradcheck(BadSquare.apply, [x], raise_exception=False) is False
    assert isinstance(gg.GradcheckError("x"), AssertionError)


def test_wrong_gradient_of_the_second_input(device):
    a = gg.tensor(np.array([1.0, 2.0, 3.0]), device=device)
    b = gg.tensor(np.array([0.5, -1.0, 2.0]), device=device)
    with pytest.raises(gg.GradcheckError, match=r"input 1, element \(\d,\)"):
        gg.gradcheck(BadProduct.apply, [a, b], directions=0)
    assert gg.gradcheck(lambda p: BadProduct.apply(p, b), [a])   # a's gradient is right


def test_a_small_error_within_tolerance_passes():
    class SlightlyOff(Square):
        def backward(self, g):
            (gx,) = super().backward(g)
            return (gx * (1 + 1e-6),)
    x = gg.randn(4, dtype="float64")
    assert gg.gradcheck(SlightlyOff.apply, [x])
    with pytest.raises(gg.GradcheckError):
        gg.gradcheck(SlightlyOff.apply, [x], rtol=1e-9, atol=1e-12)


def test_gradcheck_argument_errors():
    with pytest.raises(ValueError, match="needs at least one floating-point or complex input"):
        gg.gradcheck(lambda i: i * 2, [gg.tensor([1, 2])])
    with pytest.raises(TypeError, match="fun must return a Tensor, got float"):
        gg.gradcheck(lambda a: 1.0, [gg.randn(2)])


def test_gradcheck_checks_complex_inputs_along_both_parts():
    z = np.array([-0.5 + 0.3j, 2.0 - 1.0j])
    assert gg.gradcheck(lambda t: t * t, [z])
    assert gg.gradcheck(lambda a, b: a * gg.arccosh(b), [np.array([1.0, 2.0]), z])
    assert gg.gradgradcheck(lambda t: gg.exp(t) * t, [z])

    class MissingConj(Function):
        """z * z with the holomorphic derivative but without PyTorch's conjugate."""

        complex_grad = True

        def forward(self, x):
            self.saved = (x,)
            return x * x

        def backward(self, g):
            (x,) = self.saved
            return (2 * x * g,)

    with pytest.raises(gg.GradcheckError):
        gg.gradcheck(MissingConj.apply, [z])
    assert gg.gradcheck(MissingConj.apply, [z.real])   # right for real input


class NaNGrad(Function):
    """2 * x whose gradient is NaN."""

    def forward(self, x):
        return x * 2

    def backward(self, g):
        return (g * np.nan,)


def test_a_nan_gradient_fails_the_check():
    with pytest.raises(gg.GradcheckError, match="not finite|nan"):
        gg.gradcheck(lambda x: NaNGrad.apply(x), [np.array([1.0, 2.0])])
    assert gg.gradcheck(lambda x: NaNGrad.apply(x), [np.array([1.0, 2.0])],
                        raise_exception=False) is False


def test_a_function_that_makes_nan_fails_the_check():
    # sqrt(-1) is NaN: neither its value nor its gradient can be checked
    with pytest.raises(gg.GradcheckError, match="not finite|nan"):
        gg.gradcheck(gg.sqrt, [np.array([-1.0, 2.0])])


def test_a_float32_output_is_named_when_the_check_fails():
    f = lambda x: (x.astype("float32") ** 2)  # noqa: E731  (finite differences in float32)
    with pytest.raises(gg.GradcheckError, match="float32.*float64"):
        gg.gradcheck(f, [np.array([1.0, 2.0])])
