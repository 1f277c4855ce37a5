"""Where NumPy gives a scalar, gpugrad's 0-d tensor works the same: as a dict key and set
member (hashing by value), list index, ``range`` bound, sequence repeat count, ``round()``
argument and format argument; printing shows NumPy's text; comparing with None or a string
is elementwise; and Tensor methods follow NumPy's view/copy semantics.  Every case runs the
same code on NumPy and on gpugrad.numpy and compares."""
from collections import Counter

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

BOTH = pytest.mark.parametrize("np", [numpy, gnp], ids=["numpy", "gpugrad"])


def same(code):
    """``code(np)`` under NumPy and under gpugrad.numpy, asserted equal (and returned)."""
    want, got = code(numpy), code(gnp)
    assert got == want and type(got) is type(want), (got, want)
    return got


# ================================================================ hashing by value
def test_a_0d_result_finds_its_dict_key():
    same(lambda np: {0: "zero"}.get(np.array([3, 1, 2]).argmax(), "missing"))
    same(lambda np: {1.5: "x"}.get(np.array([1.0, 1.5]).max(), "missing"))


def test_equal_0d_results_are_one_set_member_and_one_counter_key():
    same(lambda np: len({np.array([1, 1])[0], np.array([1, 1])[1]}))
    same(lambda np: sorted(Counter(np.array([1, 2, 1]).tolist()).values()))
    assert len(Counter(gnp.array([1, 2, 1]))) == len(Counter(numpy.array([1, 2, 1]))) == 2
    assert Counter(gnp.array([1, 2, 1]))[1] == 2


def test_unique_counts_zip_into_a_dict():
    def counts(np):
        vals, cnts = np.unique(np.array([1, 2, 1, 3]), return_counts=True)
        return {v: c for v, c in zip(vals, cnts)}.get(1)
    assert counts(gnp) == counts(numpy) == 2


@pytest.mark.parametrize("value,dtype", [(10, "int64"), (-1, "int64"), (3, "uint8"),
                                         (0.5, "float64"), (0.25, "float32"),
                                         (True, "bool"), (1 + 2j, "complex128")])
def test_hash_equals_the_numpy_scalars(value, dtype):
    t, s = gnp.array([value], dtype=dtype)[0], numpy.array([value], dtype=dtype)[0]
    assert hash(t) == hash(s) == hash(s.item())
    assert t == s.item() and {s.item(): "hit"}[t] == "hit"


def test_tensors_in_a_graph_and_parameters_hash_by_identity():
    w = gg.tensor(1.0, requires_grad=True)
    y = w * 1.0
    p = gg.nn.Parameter(gg.tensor(1.0))
    frozen = gg.nn.Parameter(gg.tensor(1.0), requires_grad=False)
    for t in (w, y, p, frozen):
        assert hash(t) != hash(1.0) and len({t, gg.tensor(1.0)}) == 2
    a = gg.tensor([1.0])                   # more than 0-d: identity, as before
    assert hash(a) != hash(gg.tensor([1.0]))


def test_nan_hash_is_stable():
    t = gg.tensor(float("nan"))
    assert hash(t) == hash(t) and t in {t}


def test_optimizer_keeps_state_of_equal_0d_tensors_apart():
    a, b = gg.tensor(0.0), gg.tensor(0.0)  # plain tensors (no requires_grad): hash by value
    opt = gg.optim.SGD([a, b], lr=0.1, momentum=0.9)
    for _ in range(3):
        a.grad, b.grad = gg.tensor(1.0), gg.tensor(1.0)   # a and b stay equal
        opt.step()
    assert len(opt.state) == 2 and opt.state[a] is not opt.state[b]
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    c, d = gg.tensor(a.item()), gg.tensor(b.item())
    opt2 = gg.optim.SGD([c, d], lr=0.1, momentum=0.9)
    opt2.load_state_dict(sd)
    c.grad, d.grad = gg.tensor(1.0), gg.tensor(1.0)
    a.grad, b.grad = gg.tensor(1.0), gg.tensor(1.0)
    opt.step()
    opt2.step()
    assert [c.item(), d.item()] == [a.item(), b.item()]


# ================================================================ index, repeat, round
@BOTH
def test_a_0d_integer_indexes_and_bounds(np):
    a = np.array([10, 1, 2])
    assert ["a", "b", "c"][a[2]] == "c" and list(range(a[2])) == [0, 1]


def test_a_0d_integer_repeats_sequences():
    for code in (lambda np: [0] * np.array([10, 1, 2])[2],
                 lambda np: np.array([10, 1, 2])[2] * [0],
                 lambda np: (1,) * np.array([10, 1, 2])[2],
                 lambda np: "ab" * np.array([10, 1, 2])[2],
                 lambda np: np.array([10, 1, 2])[2] * b"ab"):
        same(code)


def test_a_1d_tensor_times_a_list_is_still_elementwise():
    assert (gnp.array([1, 2]) * [3, 4]).tolist() == (numpy.array([1, 2]) * [3, 4]).tolist()
    assert (gnp.array([2.0]) * [1.0]).tolist() == [2.0]
    with pytest.raises(TypeError, match="sequence by non-int"):   # 0-d: NumPy's scalar's rule
        gnp.array(2.0) * [1.0]


@pytest.mark.parametrize("code", [
    lambda np: round(np.array([1.26, 2.0]).sum()),
    lambda np: round(np.array([1.26, 2.0]).sum(), 1).item(),
    lambda np: round(np.array([15, 3]).max(), -1).item(),
    lambda np: round(np.array([7], dtype=np.int32)[0]),
    lambda np: round(np.array([2.5], dtype=np.float32)[0]),
])
def test_round(code):
    same(code)


def test_round_keeps_the_dtype_with_ndigits():
    r = round(gnp.array([2.567], dtype="float32")[0], 2)
    assert isinstance(r, gg.Tensor) and r.shape == () and r.dtype == numpy.float32
    assert r.item() == round(numpy.float32(2.567), 2).item()


@BOTH
def test_round_refuses_what_numpy_refuses(np):
    with pytest.raises(TypeError):
        round(np.array([1.5, 2.5]))
    with pytest.raises(TypeError):
        round(np.array([True])[0])


def test_reshape_takes_a_1d_integer_tensor_as_shape():
    assert gnp.arange(6).reshape(gnp.array([2, 3])).shape == (2, 3)
    assert gnp.reshape(gnp.arange(6), gnp.array([3, 2])).shape == (3, 2)
    assert gnp.arange(6).reshape(gnp.array([2, 3])[0], 3).shape == (2, 3)


def test_creation_takes_a_0d_integer_tensor_as_shape():
    for np in (numpy, gnp):
        a = np.array([[1, 2], [3, 4]])
        assert np.zeros(a[0, 1]).shape == (2,) and np.ones(a.sum() - 7).shape == (3,)


# ================================================================ comparing with anything
@pytest.mark.parametrize("code", [
    lambda np: (np.array([1, 2]) == None).tolist(),  # noqa: E711
    lambda np: (np.array([1, 2]) != None).tolist(),  # noqa: E711
    lambda np: (None == np.array([1.0])).tolist(),   # noqa: E711
    lambda np: (np.array([1, 2]) == "x").tolist(),
    lambda np: (np.array([1, 2]) != "x").tolist(),
    lambda np: bool(np.array([1, 2])[0] == "x"),
    lambda np: bool(np.array([[1.0]]).sum() != None),  # noqa: E711
])
def test_comparing_with_none_or_a_string_is_elementwise(code):
    same(code)


def test_comparison_with_none_keeps_the_shape_and_the_device():
    r = gnp.ones((2, 3)) == None  # noqa: E711
    assert isinstance(r, gg.Tensor) and r.shape == (2, 3) and r.dtype == numpy.bool_


# ================================================================ printing
@pytest.mark.parametrize("code", [
    lambda np: str(np.round(np.array([11.28133, 1.19701]), 4)),
    lambda np: str(np.array([1.0, 3.5]).max()),
    lambda np: str(np.array([[1, 2], [3, 4]])),
    lambda np: str(np.array([0.1], dtype=np.float32)[0]),
    lambda np: str(np.array([True, False])),
    lambda np: f"{np.array([1.0, 3.5]).max()}|{np.array([1, 2]).sum():>4}|{np.array(2.5):.2f}",
])
def test_str_is_numpys(code):
    same(code)


def test_print_shows_numpys_text(capsys):
    print(gnp.round(gnp.array([11.28133, 1.19701]), 4))
    print(numpy.round(numpy.array([11.28133, 1.19701]), 4))
    ours, theirs = capsys.readouterr().out.splitlines()
    assert ours == theirs


def test_repr_stays_the_tensor_repr():
    assert repr(gg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(gg.tensor(2.0, requires_grad=True)) == "tensor(2., requires_grad=True)"
    assert str(gg.tensor([1.0, 2.0], requires_grad=True)) == "[1. 2.]"


# ================================================================ views and copies
@BOTH
def test_flatten_is_a_copy(np):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    f = a.flatten()
    f[0] = 100.0
    assert a[0, 0] == 1.0 and f[0] == 100.0


def test_flatten_keeps_torch_arguments_and_gradients():
    x = gg.ones((2, 3, 4), requires_grad=True)
    y = x.flatten(1)
    assert y.shape == (2, 12) and gg.ones((2, 3)).flatten(order="F").shape == (6,)
    assert gnp.array([[1, 2], [3, 4]]).flatten("F").tolist() == \
        numpy.array([[1, 2], [3, 4]]).flatten("F").tolist()
    (y * 2).sum().backward()
    assert (x.grad.numpy() == 2).all()


def test_flatten_inside_grad_leaves_the_input_alone():
    def f(w):
        v = w.flatten()
        v[0] = 0.0                       # NumPy code may write into its copy
        return (v * w.flatten()).sum()
    w = gnp.array([[1.0, 2.0], [3.0, 4.0]])
    g = gg.grad(f)(w)
    numpy.testing.assert_allclose(g.numpy(), [[0.0, 4.0], [6.0, 8.0]])


@BOTH
def test_unary_plus_is_a_new_array(np):
    a = np.array([1.0, 2.0])
    b = +a
    b[0] = 5.0
    assert b is not a and a[0] == 1.0


def test_unary_plus_is_differentiable_and_refuses_bool_as_numpy():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (+x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    for np in (numpy, gnp):
        with pytest.raises(TypeError):
            +np.array([True])


@BOTH
def test_real_of_a_real_array_is_a_view(np):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    r = a.real
    r[0, 0] = 7.0
    assert a[0, 0] == 7.0


def test_real_view_gradient():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x.real * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


@BOTH
def test_diagonal_is_read_only(np):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    d = a.diagonal()
    with pytest.raises(ValueError, match="read-only"):
        d[0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        d += 1
    assert a[0, 0] == 1.0
    a[1, 1] = 9.0                          # a view: it sees writes to its base
    assert d[1] == 9.0


def test_diagonal_gradient_and_stale_use():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (x.diagonal() * 2).sum().backward()
    assert x.grad.tolist() == [[2.0, 0.0], [0.0, 2.0]]
    w = gg.tensor([1.0, 1.0], requires_grad=True)
    a = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = (a.diagonal() * w).sum()
    a[0, 0] = 10.0                         # the diagonal y used has changed since: the node
    y.backward()                           # that read it kept the old value
    assert w.grad.tolist() == [1.0, 4.0]
