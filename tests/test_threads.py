"""Threads: grad mode and matmul precision blocks belong to the thread that opens them, the
library flips no process-wide switch to do its work, kernels run from several threads at once,
and gpugrad's thread counts (set_num_threads, threadpoolctl limits) are honored."""
import threading
import time

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import kernels, nn, optim
from gpugrad.kernels import threads
from gpugrad.kernels import cpu
from thread_util import run_threads


def _trainer(seed):
    gg.manual_seed(seed)
    model = nn.MLP([16, 32, 4], activation="relu")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.standard_normal((8, 16), dtype=np.float32))
    y = gg.tensor(rng.integers(0, 4, 8))
    return model, opt, x, y


def test_no_grad_evaluation_in_one_thread_leaves_another_threads_training_alone():
    steps = {}

    def train(seed, evaluate):
        model, opt, x, y = _trainer(seed)
        for _ in range(150):
            loss = nn.functional.cross_entropy(model(x), y)
            assert loss.requires_grad, "the graph was not recorded"
            loss.backward()
            assert all(p.grad is not None for p in model.parameters())
            opt.step()
            opt.zero_grad()
            steps[seed, "train"] = steps.get((seed, "train"), 0) + 1
            if evaluate:
                with gg.no_grad():
                    for _ in range(3):
                        assert not model(x).requires_grad
                        steps[seed, "eval"] = steps.get((seed, "eval"), 0) + 1

    run_threads(lambda: train(0, False), lambda: train(1, True))
    assert steps == {(0, "train"): 150, (1, "train"): 150, (1, "eval"): 450}


def test_inplace_writes_in_one_thread_never_stop_another_from_recording():
    big = gg.zeros(1000)
    w = gg.ones(3, requires_grad=True)
    stop = threading.Event()
    counts = {"writes": 0, "checks": 0, "unrecorded": 0}

    def check():
        deadline = time.perf_counter() + 1.0
        while time.perf_counter() < deadline:
            counts["checks"] += 1
            if not (w * 2).requires_grad:
                counts["unrecorded"] += 1
        stop.set()

    def write():
        nonlocal big
        while not stop.is_set():
            big += 1.0                    # the in-place op: never switches recording off
            counts["writes"] += 1

    run_threads(write, check)
    assert counts["checks"] > 1000 and counts["writes"] > 100
    assert counts["unrecorded"] == 0
    assert float(big.data[0]) == counts["writes"]


def test_grad_and_anomaly_modes_are_per_thread():
    seen = {}
    entered, leave = threading.Event(), threading.Event()

    def other():
        with gg.no_grad(), gg.autograd.detect_anomaly():
            entered.set()
            leave.wait(10)

    t = threading.Thread(target=other)
    t.start()
    entered.wait(10)
    seen["grad"] = gg.is_grad_enabled()
    seen["anomaly"] = gg.autograd.is_anomaly_enabled()
    leave.set()
    t.join()
    assert seen == {"grad": True, "anomaly": False}


def test_matmul_precision_block_is_per_thread():
    entered, leave = threading.Event(), threading.Event()

    def other():
        with kernels.matmul_precision("high"):
            assert kernels.get_matmul_precision() == "high"
            entered.set()
            leave.wait(10)

    t = threading.Thread(target=other)
    t.start()
    entered.wait(10)
    mine = kernels.get_matmul_precision()
    leave.set()
    t.join()
    assert mine == "highest"
    with pytest.raises(ValueError, match="matmul precision must be one of"):
        with kernels.matmul_precision("medium"):
            pass


def test_a_module_is_shared_for_inference_under_no_grad():
    model, _, x, _ = _trainer(3)
    with gg.no_grad():
        expected = model(x).numpy()
    outs = []

    def infer():
        with gg.no_grad():
            for _ in range(50):
                outs.append(model(x).numpy())

    run_threads(infer, infer, infer)
    assert len(outs) == 150
    for o in outs:
        np.testing.assert_array_equal(o, expected)


def test_parallel_kernels_run_from_two_threads_at_once():
    n = 4 * cpu._CHUNK + 3                 # several chunks: the parallel kernel when threaded
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(n).astype(np.float32)
    start = rng.standard_normal(n).astype(np.float32)
    results = {}

    def update(k):
        p, buf = start.copy(), np.zeros(n, np.float32)
        for _ in range(20):
            kernels.sgd_update(p, grad, buf, lr=0.1, momentum=0.9)
        results[k] = p

    run_threads(lambda: update(0), lambda: update(1))
    update("alone")
    np.testing.assert_array_equal(results[0], results["alone"])
    np.testing.assert_array_equal(results[1], results["alone"])


def test_workqueue_pool_launches_parallel_kernels_from_the_main_thread_only(monkeypatch):
    monkeypatch.setattr(cpu, "_pool_threadsafe", lambda: False)
    size = 8 * cpu._CHUNK
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("other", cpu._nchunks(size, size)))
    t.start()
    t.join()
    assert got["other"] == 1
    assert cpu._nchunks(size, size) == min(threads.get_num_threads(), 8)


def test_set_num_threads_caps_numba_and_blas_and_rejects_bad_counts():
    import numba
    before = threads.get_num_threads()
    try:
        gg.set_num_threads(1)
        assert gg.get_num_threads() == 1 and numba.get_num_threads() == 1
        if threads.blas_num_threads() is not None:
            assert threads.blas_num_threads() == 1
    finally:
        gg.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert threads.get_num_threads() >= before
    for bad in (0, numba.config.NUMBA_NUM_THREADS + 1, 1.5, True):
        with pytest.raises(ValueError, match="set_num_threads: expected an int from 1 to"):
            gg.set_num_threads(bad)


def test_threadpoolctl_limits_are_honored():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if threads.blas_num_threads() is None:
        pytest.skip("no OpenBLAS whose thread count threadpoolctl can read")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert gg.get_num_threads() == 1
        size = 8 * cpu._CHUNK
        assert cpu._nchunks(size, size) == 1
        with threads.sequential_blas():         # entering and leaving keeps the user's limit
            pass
        assert threads.blas_num_threads() == 1


def test_sequential_blas_from_many_threads_puts_the_count_back():
    if threads.blas_num_threads() is None:
        pytest.skip("no OpenBLAS whose thread count can be read")
    before = threads.blas_num_threads()
    inside = []

    def work():
        a = np.ones((32, 32), np.float32)
        for _ in range(200):
            with threads.sequential_blas():
                inside.append(threads.blas_num_threads())
                a @ a

    run_threads(work, work, work)
    assert set(inside) == {1}
    assert threads.blas_num_threads() == before


def test_bench_times_an_implementation_alone_in_its_own_process():
    from gpugrad.tools.bench.alone import alone_times, format_alone
    times = alone_times("W2", "cpu", "numpy", steps=2, warmup=0)
    assert len(times) == 2 and all(t > 0 for t in times)
    with pytest.raises(RuntimeError, match="timing nope alone on W2/cpu failed"):
        alone_times("W2", "cpu", "nope", steps=1, warmup=0)
    e = {"impls": {"numpy": {"median_s": 2 * times[0]}}, "alone": {"numpy": {"median_s": times[0]}}}
    assert format_alone(e).splitlines()[1].split()[-1] == "2.000"
