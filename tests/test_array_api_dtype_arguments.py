"""Dtype arguments of the array API namespace's data type functions: a required dtype given as
``None`` is refused with a TypeError naming the function (NumPy's dtype coercion would read it
as float64 and answer for float64), NumPy's scalar types (NumPy's own array API dtypes) are
dtypes, and ``can_cast`` follows the standard's promotion table.
"""
import numpy as np
import pytest

import gpugrad.array_api as xp

DTYPES = [xp.bool, xp.int8, xp.int16, xp.int32, xp.int64, xp.uint8, xp.uint16, xp.uint32,
          xp.uint64, xp.float32, xp.float64, xp.complex64, xp.complex128]

NONE_AS_DTYPE = {
    "can_cast(None, float64)": (lambda: xp.can_cast(None, xp.float64), "can_cast"),
    "can_cast(float64, None)": (lambda: xp.can_cast(xp.float64, None), "can_cast"),
    "result_type(None)": (lambda: xp.result_type(None), "result_type"),
    "result_type(int8, None)": (lambda: xp.result_type(xp.int8, None), "result_type"),
    "isdtype(None, kind)": (lambda: xp.isdtype(None, "real floating"), "isdtype"),
    "isdtype(float64, None)": (lambda: xp.isdtype(xp.float64, None), "isdtype"),
    "isdtype(float64, (None,))": (lambda: xp.isdtype(xp.float64, ("bool", None)), "isdtype"),
    "finfo(None)": (lambda: xp.finfo(None), "finfo"),
    "iinfo(None)": (lambda: xp.iinfo(None), "iinfo"),
    "astype(x, None)": (lambda: xp.astype(xp.asarray([1, 2]), None), "astype"),
}


@pytest.mark.parametrize("case", sorted(NONE_AS_DTYPE))
def test_none_is_not_a_dtype(case):
    call, name = NONE_AS_DTYPE[case]
    with pytest.raises(TypeError, match=name):
        call()


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_can_cast_follows_the_promotion_table(src, dst):
    # Within a kind (bool; integers; floating, real and complex), the standard's table is
    # NumPy's; a cast the table does not give (complex to real, float to int) is refused.
    kind = {"b": "b", "i": "iu", "u": "iu", "f": "fc", "c": "fc"}
    if src.kind == "c" and dst.kind == "f":
        assert xp.can_cast(src, dst) is False
    elif dst.kind in kind[src.kind]:
        assert xp.can_cast(src, dst) == (np.promote_types(src, dst) == dst)
    else:
        assert xp.can_cast(src, dst) == np.can_cast(src, dst)


def test_dtype_arguments_still_take_arrays_and_dtypes():
    x = xp.asarray([1, 2], dtype=xp.int8)
    assert xp.can_cast(x, xp.int16) and not xp.can_cast(xp.float64, x)
    assert xp.result_type(x, xp.uint8) == xp.int16
    assert xp.isdtype(x.dtype, "signed integer") and xp.isdtype(xp.float32, xp.float32)
    assert xp.finfo(xp.asarray(1.0)).bits == 64 and xp.iinfo(x).max == 127
    assert xp.astype(x, xp.float32).dtype == xp.float32


NUMPY_SCALAR_TYPES = {
    "isdtype": (lambda: xp.isdtype(np.float64, "real floating"), True),
    "isdtype kind": (lambda: xp.isdtype(xp.float32, np.float32), True),
    "can_cast": (lambda: xp.can_cast(np.float64, np.float32), False),
    "can_cast to": (lambda: xp.can_cast(xp.int8, np.int16), True),
    "result_type": (lambda: xp.result_type(np.int8, np.uint8), np.dtype("int16")),
    "finfo": (lambda: xp.finfo(np.float32).bits, 32),
    "iinfo": (lambda: xp.iinfo(np.int8).min, -128),
    "astype": (lambda: xp.astype(xp.asarray([1]), np.float32).dtype, np.dtype("float32")),
}


@pytest.mark.parametrize("case", sorted(NUMPY_SCALAR_TYPES))
def test_numpy_scalar_types_are_dtypes(case):
    call, want = NUMPY_SCALAR_TYPES[case]
    assert call() == want
