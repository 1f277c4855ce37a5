"""Every public NumPy function and ndarray method, checked against gpugrad.numpy / Tensor.

A name NumPy has and gpugrad.numpy does not implement must be listed below with its reason;
such names run NumPy's own function outside a recorded graph (the non-graph fallback) and
raise TypeError inside one.  A listed name that gets implemented must leave the list."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

# no derivative exists or none is meaningful: NumPy's answer (the fallback) is final
NO_GRADIENT = set("""
array2string array_equiv array_repr array_str asarray_chkfinite asmatrix base_repr
binary_repr bitwise_count bmat broadcast_shapes busday_count busday_offset common_type
datetime_as_string datetime_data diag_indices diag_indices_from digitize einsum_path
format_float_positional format_float_scientific frexp frombuffer fromfile fromiter frompyfunc
fromregex fromstring genfromtxt get_include get_printoptions getbufsize geterrcall histogram
histogram2d histogram_bin_edges histogramdd indices info intersect1d is_busday iscomplex isdtype
isfortran isnat isreal iterable ix_ load loadtxt mask_indices may_share_memory
min_scalar_type mintypecode nanargmax nanargmin packbits printoptions ravel_multi_index
real_if_close require save savetxt savez savez_compressed set_printoptions setbufsize setdiff1d
seterrcall setxor1d shares_memory show_config show_runtime test tril_indices tril_indices_from
triu_indices triu_indices_from typename union1d unique_all unique_counts unique_inverse
unique_values unpackbits unravel_index bartlett blackman hamming hanning kaiser
in1d
""".split())  # (in1d, trapz and the 2.0-only methods below: NumPy 2.0 has them, later NumPy not)
# a derivative exists but gpugrad.numpy has no differentiable version yet (fallback only)
NOT_YET_DIFFERENTIABLE = set("""
apply_along_axis apply_over_axes block choose delete
dsplit ediff1d fromfunction i0 insert ldexp matvec modf
nancumprod nanmax nanmedian nanmin nanpercentile nanquantile nanstd nanvar
nested_iters piecewise poly polydiv polyfit
resize rollaxis roots sort_complex trim_zeros unwrap
vecmat trapz
""".split())
LINALG_EXCLUDED = {"test"}
# ndarray attributes about raw memory or record dtypes, which a Tensor does not expose
METHOD_EXCLUDED = {"byteswap", "ctypes", "getfield", "setfield", "itemset", "newbyteorder",
                   "ptp", "tostring"}


def _functions(mod):
    return {n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n))
            and not isinstance(getattr(mod, n), type)}


def test_every_numpy_function_is_implemented_or_listed():
    missing = _functions(np) - set(gnp.__all__)
    assert sorted(missing - NO_GRADIENT - NOT_YET_DIFFERENTIABLE) == []
    assert sorted((NO_GRADIENT | NOT_YET_DIFFERENTIABLE) & set(gnp.__all__)) == []
    lin = _functions(np.linalg) - set(gnp.linalg.__all__)
    assert sorted(lin - LINALG_EXCLUDED) == [] and not LINALG_EXCLUDED & set(gnp.linalg.__all__)


def test_every_ndarray_method_is_on_tensor_or_listed():
    public = {m for m in dir(np.ndarray) if not m.startswith("_")}
    assert sorted(public - set(dir(gg.Tensor)) - METHOD_EXCLUDED) == []
    assert sorted(METHOD_EXCLUDED & set(dir(gg.Tensor))) == []


@pytest.mark.parametrize("name", sorted(NO_GRADIENT | NOT_YET_DIFFERENTIABLE))
def test_listed_names_fall_back_to_numpy(name):
    if not callable(getattr(np, name, None)):
        pytest.skip(f"numpy {np.__version__} has no {name}")
    assert callable(getattr(gnp, name))  # resolves (to the fallback), never AttributeError
