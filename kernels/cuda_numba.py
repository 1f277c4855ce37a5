"""numba.cuda kernels: the bias + activation forward epilogue, the fused backward epilogue
(dZ + bias gradient with a shared-memory block reduction) and a shared-memory tiled GEMM whose
store applies the same epilogue.

They take any arrays numba.cuda accepts: CuPy arrays (through ``__cuda_array_interface__``),
numba device arrays, and NumPy arrays under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set
before numba.cuda is first imported), which is how the tests run them on a CPU. Outputs are
allocated like the first input (numpy.empty, cupy.empty or cuda.device_array). The activation
math is ``cpu._act``/``cpu._dact``'s Python source compiled as device functions (evaluated in
float64, as on CPU), so the two targets cannot drift apart. Not imported by ``gpugrad.kernels``
and kept off the hot path on purpose: numba.cuda launches go to numba's default stream and
current device, not CuPy's, and importing a CuPy argument through ``__cuda_array_interface__``
synchronizes on its stream (numba's default), so a training step through these kernels would
serialize against CuPy's work. Call it directly:

>>> from gpugrad.kernels import cuda_numba                          # doctest: +SKIP
>>> y, z = cuda_numba.linear_act_forward(x, W, b, "gelu")           # doctest: +SKIP
"""
import functools

import numpy
from numba import cuda, float64

from . import cpu
from .activations import IDENTITY, check_activation, needs_preactivation
from .launch import MAX_GRID_Y

TILE = 16                               # GEMM tile: TILE x TILE threads and shared tiles
ROWS = 8                                # backward epilogue block: 32 columns x ROWS rows

_act = cuda.jit(device=True)(cpu._act.py_func)
_dact = cuda.jit(device=True)(cpu._dact.py_func)


@functools.lru_cache(maxsize=None)
def _kernels(code):
    """(forward, backward, gemm) specialized for one activation code."""

    @cuda.jit
    def forward(src, b, dst, has_bias, write_src, slope):
        # dst = act(src + b); with write_src, src = src + b too. Columns on x, rows on y,
        # grid-strided over rows (gridDim.y stays within CUDA's 65535 for any batch)
        j, i0 = cuda.grid(2)
        if j < src.shape[1]:
            for i in range(i0, src.shape[0], cuda.gridDim.y * cuda.blockDim.y):
                v = src[i, j] + b[j] if has_bias else src[i, j]
                if write_src:
                    src[i, j] = v
                dst[i, j] = _act(v, code, slope)

    @cuda.jit
    def backward(dy, y, z, dz, partial, write_dz, want_db, slope):
        # block (32, ROWS): column blockIdx.x * 32 + tx, rows strided by ROWS * gridDim.y
        sums = cuda.shared.array((ROWS, 32), float64)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        n, m = dy.shape
        col = cuda.blockIdx.x * 32 + tx
        acc = 0.0
        if col < m:
            row = cuda.blockIdx.y * ROWS + ty
            while row < n:
                g = dy[row, col] * _dact(y[row, col], z[row, col], code, slope)
                if write_dz:
                    dz[row, col] = g
                acc += g
                row += ROWS * cuda.gridDim.y
        sums[ty, tx] = acc
        cuda.syncthreads()
        if want_db and ty == 0 and col < m:
            s = 0.0
            for r in range(ROWS):
                s += sums[r, tx]
            partial[cuda.blockIdx.y, col] = s

    @cuda.jit
    def gemm(A, B, bias, Y, Z, has_bias, keep_z, slope):
        # Y = act(A @ B + bias), Z = A @ B + bias; one thread per output, TILE x TILE blocks;
        # row tiles on grid x (up to 2**31 - 1 of them), column tiles on y
        sA = cuda.shared.array((TILE, TILE), float64)
        sB = cuda.shared.array((TILE, TILE), float64)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row, col = cuda.blockIdx.x * TILE + ty, cuda.blockIdx.y * TILE + tx   # rows on x
        M, K = A.shape
        N = B.shape[1]
        acc = 0.0
        for k0 in range(0, K, TILE):
            sA[ty, tx] = A[row, k0 + tx] if row < M and k0 + tx < K else 0.0
            sB[ty, tx] = B[k0 + ty, col] if k0 + ty < K and col < N else 0.0
            cuda.syncthreads()
            for k in range(TILE):
                acc += sA[ty, k] * sB[k, tx]
            cuda.syncthreads()
        if row < M and col < N:
            v = acc + bias[col] if has_bias else acc
            if keep_z:
                Z[row, col] = v
            Y[row, col] = _act(v, code, slope)

    return forward, backward, gemm


@cuda.jit
def _sum_rows(partial, out):
    """out[j] = sum_i partial[i, j] (the few per-block partials of the bias gradient)."""
    j = cuda.grid(1)
    if j < partial.shape[1]:
        s = 0.0
        for i in range(partial.shape[0]):
            s += partial[i, j]
        out[j] = s


def _empty(like, shape, dtype=None):
    dtype = like.dtype if dtype is None else dtype
    if isinstance(like, numpy.ndarray):
        return numpy.empty(shape, dtype)
    if type(like).__module__.startswith("cupy"):
        import cupy
        return cupy.empty(shape, dtype)
    return cuda.device_array(shape, dtype)


def _blocks(n, size):
    return (n + size - 1) // size


def numba_forward_grid(n, m):
    """Grid of the forward epilogue for an (n, m) array: 32-column strips on x, ROWS-row blocks
    on y capped at CUDA's 65535 (the kernel strides over the rest).

    >>> numba_forward_grid(10 ** 7, 100)
    (4, 65535)
    """
    return _blocks(m, 32), max(1, min(_blocks(n, ROWS), MAX_GRID_Y))


def numba_gemm_grid(M, N):
    """Grid of the tiled GEMM for an (M, N) output: row tiles on x, column tiles on y.

    >>> numba_gemm_grid(1_048_561, 16)
    (65536, 1)
    """
    return _blocks(M, TILE), _blocks(N, TILE)


def _unused(like, ndim):
    """A typed placeholder for an argument the kernel won't touch. Never pass one array twice
    as arguments: NumPy arguments are copied to the device and back one by one, so a second,
    unwritten copy would overwrite the first's results."""
    return _empty(like, (1,) * ndim)


# --------------------------------------------------------------------------------- public kernels

def bias_act_forward(z, b, act="identity", negative_slope=0.01):
    """Epilogue after any GEMM: returns (y, z) with y = act(z + b). When the activation needs
    the pre-activation, z is updated in place to z + b and returned; otherwise it is left as is
    and None is returned in its place.

    >>> y, z = bias_act_forward(gemm_out, b, "relu")                 # doctest: +SKIP
    """
    code = check_activation(act, negative_slope)
    keep = needs_preactivation(act)
    y = _empty(z, z.shape)
    forward = _kernels(code)[0]
    grid = numba_forward_grid(*z.shape)
    forward[grid, (32, ROWS)](z, b if b is not None else _unused(z, 1), y, b is not None, keep,
                              float(negative_slope))
    return y, (z if keep else None)


def act_backward_bias_sum(dy, y, z, act="identity", negative_slope=0.01, want_db=True):
    """The fused backward epilogue: (dz, db) with dz = dy * act'(y or z) and db = dz.sum(0)
    (None unless want_db). For identity dz is dy itself (not copied).

    >>> dz, db = act_backward_bias_sum(dy, y, None, "relu")          # doctest: +SKIP
    """
    code = check_activation(act, negative_slope)
    n, m = dy.shape
    gy = max(1, min(_blocks(n, ROWS), 64))
    partial = _empty(dy, (gy, m) if want_db else (1, 1), numpy.float64)
    dz = _empty(dy, dy.shape) if code != IDENTITY else _unused(dy, 2)   # identity: dz is dy
    saved = y if y is not None else z if z is not None else dy          # read-only: may repeat
    backward = _kernels(code)[1]
    backward[(_blocks(m, 32), gy), (32, ROWS)](dy, saved, z if z is not None else saved, dz,
                                               partial, code != IDENTITY, want_db,
                                               float(negative_slope))
    dz = dy if code == IDENTITY else dz
    if not want_db:
        return dz, None
    db = _empty(dy, (m,))
    _sum_rows[_blocks(m, 128), 128](partial, db)
    return dz, db


def matmul(A, B, b=None, act="identity", negative_slope=0.01):
    """Y = act(A @ B + b) by the tiled GEMM (A and B may be strided views, e.g. transposes);
    returns (Y, Z) like ``linear_act_forward``.

    >>> Y, _ = matmul(A, B)                                          # doctest: +SKIP
    """
    code = check_activation(act, negative_slope)
    keep = needs_preactivation(act)
    (M, K), N = A.shape, B.shape[1]
    if K != B.shape[0]:
        raise ValueError(f"matmul: A of shape {tuple(A.shape)} does not match B of shape "
                         f"{tuple(B.shape)}; expected B.shape[0] == {K}")
    Y = _empty(A, (M, N))
    Z = _empty(A, (M, N)) if keep else _unused(A, 2)
    gemm = _kernels(code)[2]
    gemm[numba_gemm_grid(M, N), (TILE, TILE)](
        A, B, b if b is not None else _unused(A, 1), Y, Z, b is not None, keep,
        float(negative_slope))
    return Y, (Z if keep else None)


def linear_act_forward(x, W, b, act="identity", negative_slope=0.01):
    """(y, z) of y = act(x @ W + b), the epilogue fused into the tiled GEMM's store.

    >>> y, z = linear_act_forward(x, W, b, "gelu")                   # doctest: +SKIP
    """
    return matmul(x, W, b, act, negative_slope)


def linear_act_backward(dy, x, W, y, z, act="identity", negative_slope=0.01,
                        needs_input_grad=(True, True, True)):
    """(dx, dW, db) of y = act(x @ W + b): the fused epilogue, then two tiled GEMMs.

    >>> dx, dW, db = linear_act_backward(dy, x, W, y, z, "gelu")     # doctest: +SKIP
    """
    need_dx, need_dW, need_db = needs_input_grad
    dz, db = act_backward_bias_sum(dy, y, z, act, negative_slope, want_db=need_db)
    dx = matmul(dz, W.T)[0] if need_dx else None
    dW = matmul(x.T, dz)[0] if need_dW else None
    return dx, dW, db
