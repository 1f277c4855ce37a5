"""Launch arithmetic of the CUDA kernels (kernels/launch.py) for shapes no test could allocate:
every grid dimension stays within CUDA's limits and covers the whole problem."""
import pytest

from gpugrad.kernels import launch

BATCHES = [1, 63, 64, 65, 4_194_240, 4_194_305, 524_281, 1_048_561, 10 ** 9, 2 ** 31 - 1]


@pytest.mark.parametrize("M", BATCHES)
@pytest.mark.parametrize("N", [1, 10, 4096, 64 * 65535])
def test_custom_gemm_grid_covers_any_batch_within_limits(M, N):
    gx, gy = launch.custom_grid(M, N)
    assert 1 <= gx <= launch.MAX_GRID_X and 1 <= gy <= launch.MAX_GRID_Y
    assert gx * 64 >= M > (gx - 1) * 64 and gy * 64 >= N > (gy - 1) * 64


def test_custom_gemm_refuses_what_it_cannot_cover():
    assert launch.custom_grid(10, 64 * 65535 + 1) is None


@pytest.mark.parametrize("n", BATCHES)
@pytest.mark.parametrize("m", [1, 31, 33, 4096, 10 ** 6])
@pytest.mark.parametrize("sms", [1, 132])
def test_dz_db_grid_within_limits(n, m, sms):
    gx, gy = launch.dz_db_grid(n, m, sms)
    assert gx * 32 >= m and gx <= launch.MAX_GRID_X       # every column has a thread
    assert 1 <= gy <= min(1024, launch.MAX_GRID_Y)         # rows: strided inside the kernel


@pytest.mark.parametrize("n, bucket", [(1, 1), (2, 2), (3, 4), (256, 256), (257, 512),
                                       (4096, 4096), (800_000 % 4096, 2048)])
def test_shape_bucket_rounds_the_batch_up_to_a_power_of_two(n, bucket):
    assert launch.shape_bucket((n, 7, 9)) == (bucket, 7, 9)


@pytest.mark.parametrize("n", BATCHES)
def test_numba_cuda_grids_cover_any_batch_within_limits(n):
    """kernels/cuda_numba.py: the forward epilogue capped at 524,280 rows and the tiled GEMM at
    1,048,560 when rows sat on grid y; now rows stride (epilogue) or sit on x (GEMM)."""
    from gpugrad.kernels import cuda_numba
    gx, gy = cuda_numba.numba_forward_grid(n, 4096)
    assert gy <= launch.MAX_GRID_Y and gx * 32 >= 4096
    gx, gy = cuda_numba.numba_gemm_grid(n, 4096)
    assert gx <= launch.MAX_GRID_X and gy <= launch.MAX_GRID_Y
    assert gx * cuda_numba.TILE >= n and gy * cuda_numba.TILE >= 4096
