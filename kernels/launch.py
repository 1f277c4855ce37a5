"""Launch arithmetic of the CUDA kernels in ``cuda.py``: grid sizes and the autotuner's shape
buckets, kept free of CuPy so that it is unit-tested on any machine, for shapes far beyond what
a test could allocate.  CUDA's limits: gridDim.x up to 2**31 - 1, gridDim.y and .z up to 65535.
"""

MAX_GRID_X = 2 ** 31 - 1
MAX_GRID_Y = 65535          # CUDA's limit on gridDim.y (and z); gridDim.x goes to 2**31 - 1


def custom_grid(M, N):
    """The launch grid of the custom GEMM for an (M, K) @ (K, N) product: row tiles on x (any
    batch below 2**31 rows, the kernel's int indices), column tiles on y; None when N needs
    more than MAX_GRID_Y column tiles.

    >>> custom_grid(4_194_305, 4096)
    (65537, 64)
    >>> custom_grid(10, 64 * 65535 + 1) is None
    True
    """
    gx, gy = (M + 63) // 64, (N + 63) // 64
    return (gx, gy) if gy <= MAX_GRID_Y and gx <= MAX_GRID_X else None


def dz_db_grid(n, m, sm_count):
    """The grid of ``gpugrad_dz_db`` (epilogue.cu) for an (n, m) gradient: 32-column strips on x,
    row blocks of 8 on y, capped at about 4 blocks per multiprocessor and at 1024 (the kernel
    strides over rows, so any n is covered), never 0.

    >>> dz_db_grid(10 ** 9, 4096, 132), dz_db_grid(1, 1, 132)
    ((128, 4), (1, 1))
    """
    gx = (m + 31) // 32
    gy = max(1, min((n + 7) // 8, 4 * sm_count // gx, 1024))
    return gx, gy


def shape_bucket(shape):
    """The autotuner's key for an (N, in, out) layer: N rounded up to a power of two (so a last
    partial batch or an eval batch reuses a choice instead of re-timing inside a step), in and
    out exact.

    >>> shape_bucket((4096, 4096, 10)), shape_bucket((300, 64, 10)), shape_bucket((1, 3, 4))
    ((4096, 4096, 10), (512, 64, 10), (1, 3, 4))
    """
    n, k, m = (int(v) for v in shape)
    return (1 << max(0, (n - 1).bit_length()), k, m)
