"""DataLoader (batching, seeded shuffling, drop_last, resumable state, devices) and the
datasets (digits, synthetic, split, standardization)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.data import DataLoader
from gpugrad.datasets import (Standardizer, load_dataset, load_digits, make_synthetic,
                              train_test_split)


def collect(loader):
    return [(xb.numpy().copy(), yb.numpy().copy()) for xb, yb in loader]


def test_batches_cover_every_sample_once():
    X = np.arange(23 * 2, dtype=np.float32).reshape(23, 2)
    y = np.arange(23)
    loader = DataLoader(X, y, batch_size=5, shuffle=True, seed=3)
    batches = collect(loader)
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3] and len(loader) == 5
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(23)) and seen.tolist() != list(range(23))
    for xb, yb in batches:                       # features travel with their labels
        np.testing.assert_array_equal(xb[:, 0], yb * 2)


def test_no_shuffle_keeps_order_and_drop_last():
    X = np.arange(10, dtype=np.float32)[:, None]
    loader = DataLoader(X, np.arange(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[1].tolist() for b in collect(loader)] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_seeded_and_differs_between_epochs():
    X = np.zeros((50, 1), np.float32)
    y = np.arange(50)
    a, b = DataLoader(X, y, 50, shuffle=True, seed=1), DataLoader(X, y, 50, shuffle=True, seed=1)
    ea1, ea2 = collect(a)[0][1], collect(a)[0][1]
    assert ea1.tolist() == collect(b)[0][1].tolist() and ea1.tolist() != ea2.tolist()
    assert collect(DataLoader(X, y, 50, shuffle=True, seed=2))[0][1].tolist() != ea1.tolist()


def test_state_dict_replays_the_next_epochs(tmp_path):
    X, y = np.zeros((30, 1), np.float32), np.arange(30)
    a = DataLoader(X, y, 7, shuffle=True, seed=0)
    collect(a)
    gg.save({"loader": a.state_dict()}, tmp_path / "l.npz")
    expected = [collect(a) for _ in range(2)]
    b = DataLoader(X, y, 7, shuffle=True, seed=99)
    b.load_state_dict(gg.load(tmp_path / "l.npz")["loader"])
    got = [collect(b) for _ in range(2)]
    for e, g in zip(expected, got):
        assert [x[1].tolist() for x in e] == [x[1].tolist() for x in g]
    with pytest.raises(ValueError, match="'generator' entry"):
        b.load_state_dict({"seed": 1})
    with pytest.raises(ValueError, match="PCG64"):
        b.load_state_dict({"generator": {"bit_generator": "MT19937"}})


def test_features_only_dtype_and_tensors():
    loader = DataLoader(gg.ones(5, 2, dtype="float64"), batch_size=2, dtype="float32")
    batches = list(loader)
    assert all(isinstance(b, gg.Tensor) and b.dtype == np.float32 for b in batches)
    assert [b.shape[0] for b in batches] == [2, 2, 1]
    xb, yb = next(iter(DataLoader(np.ones((3, 2)), np.zeros(3, np.int64), 3)))
    assert xb.dtype == np.float64 and yb.dtype == np.int64 and xb.device == gg.device("cpu")


def test_loader_errors():
    with pytest.raises(ValueError, match="as many labels as samples"):
        DataLoader(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(np.zeros((4, 2)), batch_size=0)
    with pytest.raises(TypeError, match="expected features as an array"):
        DataLoader("abc")


@pytest.mark.cuda
@pytest.mark.parametrize("shuffle", [False, True])
def test_cuda_batches_match_cpu_batches(shuffle):
    X = np.random.default_rng(0).standard_normal((1000, 8)).astype(np.float32)
    y = np.arange(1000)
    cpu = collect(DataLoader(X, y, 64, shuffle=shuffle, seed=5))
    gpu_loader = DataLoader(X, y, 64, shuffle=shuffle, seed=5, device="cuda")
    gpu = []
    for xb, yb in gpu_loader:                    # prefetching path: host -> pinned -> device
        assert xb.device == gg.device("cuda:0")
        gpu.append(((xb * 1).numpy(), yb.numpy()))
    for (a, b), (c, d) in zip(cpu, gpu):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    resident = DataLoader(gg.tensor(X, device="cuda"), gg.tensor(y, device="cuda"), 64,
                          shuffle=shuffle, seed=5, device="cuda")
    for (a, b), (xb, yb) in zip(cpu, resident):
        np.testing.assert_array_equal(a, xb.numpy())


class _FakeCuda:
    """Just enough of CuPy's API to drive the prefetching pipeline on the CPU."""

    class DevArray(np.ndarray):
        def set(self, arr, stream=None):
            assert stream is not None and stream.non_blocking     # copies go to the side stream
            self[...] = arr

    class Event:
        def __init__(self, log):
            self.log = log

        def synchronize(self):
            self.log.append("sync")

    class Stream:
        def __init__(self, log, non_blocking=False):
            self.log, self.non_blocking = log, non_blocking

        def record(self):
            return _FakeCuda.Event(self.log)

        def wait_event(self, event):
            self.log.append("wait")

    def __init__(self):
        self.log = []
        main = self.Stream(self.log)
        fake = self

        class cuda:
            alloc_pinned_memory = staticmethod(lambda n: bytearray(n))
            get_current_stream = staticmethod(lambda: main)
            Stream = staticmethod(lambda non_blocking=False: fake.Stream(fake.log, non_blocking))

        self.cuda = cuda

    def empty(self, shape, dtype):
        return np.empty(shape, dtype).view(self.DevArray)


class _FakeDevice:
    type = "cuda"

    def __init__(self):
        self.xp = _FakeCuda()

    def _activated(self):
        import contextlib
        return contextlib.nullcontext()


def test_prefetch_pipeline_yields_the_same_batches():
    """The CUDA prefetch path's bookkeeping (double buffers, events), driven on the CPU."""
    X = np.random.default_rng(0).standard_normal((103, 3)).astype(np.float32)
    y = np.arange(103)
    expected = collect(DataLoader(X, y, 10, shuffle=True, seed=7))
    loader = DataLoader(X, y, 10, shuffle=True, seed=7)
    loader.device = _FakeDevice()
    order, bounds = loader.order(), loader._bounds()
    got = [(xb.data.copy(), yb.data.copy()) for xb, yb in loader._iter_cuda_prefetch(order, bounds)]
    assert len(got) == len(expected) == 11
    for (a, b), (c, d) in zip(expected, got):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    assert loader.device.xp.log.count("sync") == len(bounds) - 2   # each buffer reused safely


# ---------------------------------------------------------------- datasets
def test_digits_comes_from_scikit_learn():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.bincount(y).min() > 170
    from sklearn.datasets import load_digits as sk
    np.testing.assert_array_equal(X, sk().data)


def test_synthetic_is_seeded_sized_and_roughly_balanced():
    X, y = make_synthetic(3000, 20, 5, seed=4)
    X2, y2 = make_synthetic(3000, 20, 5, seed=4)
    assert X.shape == (3000, 20) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(make_synthetic(3000, 20, 5, seed=5)[1], y)
    assert np.bincount(y, minlength=5).min() > 300
    Xr, yr = make_synthetic(100, 3, task="regression", dtype="float64")
    assert yr.shape == (100, 1) and Xr.dtype == yr.dtype == np.float64
    with pytest.raises(ValueError, match="classes to be an int >= 2"):
        make_synthetic(10, 3, classes=1)
    with pytest.raises(ValueError, match="task"):
        make_synthetic(10, 3, task="ranking")


def test_synthetic_is_learnable():
    """A linear probe on the raw features beats chance by a wide margin."""
    X, y = make_synthetic(4000, 16, 4, seed=0)
    Xa = np.hstack([X, np.ones((len(X), 1), np.float32)])
    W = np.linalg.lstsq(Xa[:3000], np.eye(4)[y[:3000]], rcond=None)[0]
    acc = (np.argmax(Xa[3000:] @ W, axis=1) == y[3000:]).mean()
    assert acc > 0.5


def test_split_and_standardizer():
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.repeat([0, 1, 2, 3], 25)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    assert len(Xte) == 20 and len(Xtr) == 80 and np.bincount(yte).tolist() == [5, 5, 5, 5]
    assert sorted(np.concatenate([Xtr[:, 0], Xte[:, 0]]).tolist()) == X[:, 0].tolist()
    np.testing.assert_array_equal(ytr, Xtr[:, 0] // 2 // 25)           # rows keep their labels
    assert train_test_split(X, y, 10)[1].shape == (10, 2)
    with pytest.raises(ValueError, match="no training samples"):
        train_test_split(X, y, 100)
    with pytest.raises(ValueError, match=r"test_size in \(0, 1\)"):
        train_test_split(X, y, 1.5)
    s = Standardizer().fit(np.array([[1.0, 3.0], [3.0, 3.0]]))
    np.testing.assert_array_equal(s.transform(np.array([[2.0, 3.0], [4.0, 4.0]])),
                                  [[0.0, 0.0], [2.0, 1.0]])   # constant column: std 1
    s2 = Standardizer()
    s2.load_state_dict(s.state_dict())
    np.testing.assert_array_equal(s2.std, s.std)
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(X)


def test_load_dataset():
    ds = load_dataset("synthetic", samples=1000, features=6, classes=3, seed=1)
    assert ds.X_train.shape == (800, 6) and ds.X_test.shape == (200, 6) and ds.num_outputs == 3
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1, atol=1e-4)
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'"):
        load_dataset("cifar10")
