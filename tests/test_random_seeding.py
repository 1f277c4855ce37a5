"""Every seed-taking entry point of gpugrad.numpy.random takes what NumPy takes -- tensors
read as their NumPy values -- and gives NumPy's stream; what NumPy refuses raises NumPy's
exception type."""
import pickle

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

gr = gnp.random

_SEEDS = [  # (seed as a gpugrad program has it, the same seed as a NumPy program has it)
    (8506, 8506), (np.int64(8506), np.int64(8506)), (np.uint32(7), np.uint32(7)),
    ([1, 2, 3], [1, 2, 3]), ((4, 5), (4, 5)), (range(3), range(3)),
    (np.arange(3), np.arange(3)), (None, None),
    ("t0", np.int64(8506)), ("t1", np.array([8506, 6369, 5111])),
    ("list_of_t0", [np.int64(3), 4]), ("t_u32", np.array([1, 2], np.uint32)),
    # refused by NumPy (each entry point raises what NumPy's does)
    (-1, -1), (1.5, 1.5), ("tf", np.array([1.5, 2.0])), ("tf0", np.float64(2.0)),
    (2**32, 2**32), ("s", "s"), (np.array(5), np.array(5)),
]


def _ours(seed):
    return {"t0": lambda: gnp.array(8506),
            "t1": lambda: gnp.array([8506, 6369, 5111]),
            "list_of_t0": lambda: [gg.tensor(3), 4],
            "t_u32": lambda: gnp.array([1, 2], dtype=np.uint32),
            "tf": lambda: gnp.array([1.5, 2.0]), "tf0": lambda: gnp.array(2.0)}.get(
        seed, lambda: seed)() if isinstance(seed, str) else seed


def _draws(rng):
    return rng.random(3).tolist()


_ENTRY = {  # name: (gpugrad's way to draw 3 numbers from a seed, NumPy's)
    "default_rng": (lambda s: _draws(gr.default_rng(s)),
                    lambda s: _draws(np.random.default_rng(s))),
    "Generator": (lambda s: _draws(gr.Generator(s)), lambda s: _draws(np.random.default_rng(s))),
    "SeedSequence": (lambda s: gr.SeedSequence(s).generate_state(4).tolist(),
                     lambda s: np.random.SeedSequence(s).generate_state(4).tolist()),
    "PCG64": (lambda s: [gr.PCG64(s).random_raw() for _ in range(2)],
              lambda s: [np.random.PCG64(s).random_raw() for _ in range(2)]),
    "PCG64DXSM": (lambda s: gr.PCG64DXSM(s).random_raw(2).tolist(),
                  lambda s: np.random.PCG64DXSM(s).random_raw(2).tolist()),
    "MT19937": (lambda s: gr.MT19937(s).random_raw(2).tolist(),
                lambda s: np.random.MT19937(s).random_raw(2).tolist()),
    "Philox": (lambda s: gr.Philox(s).random_raw(2).tolist(),
               lambda s: np.random.Philox(s).random_raw(2).tolist()),
    "SFC64": (lambda s: gr.SFC64(s).random_raw(2).tolist(),
              lambda s: np.random.SFC64(s).random_raw(2).tolist()),
    "RandomState": (lambda s: gr.RandomState(s).rand(3).tolist(),
                    lambda s: np.random.RandomState(s).rand(3).tolist()),
    "seed": (lambda s: (gr.seed(s), gr.rand(3).tolist())[1],
             lambda s: (np.random.seed(s), np.random.rand(3).tolist())[1]),
}


@pytest.mark.parametrize("entry", sorted(_ENTRY))
def test_seeds_give_numpys_stream_or_numpys_error(entry):
    ours, theirs = _ENTRY[entry]
    compared = 0
    for seed, numpy_seed in _SEEDS:
        try:
            want, err = theirs(numpy_seed), None
        except (TypeError, ValueError) as e:
            want, err = None, type(e)
        if err is not None:
            with pytest.raises(err):
                ours(_ours(seed))
            continue
        if numpy_seed is None:   # fresh entropy: only the kind of answer can be compared
            assert type(ours(None)) is type(want)
            continue
        assert ours(_ours(seed)) == want, (entry, seed)
        compared += 1
    assert compared >= 8


def test_a_zero_d_tensor_from_drawn_seeds_seeds_runs_as_numpys():
    seeds, nseeds = gr.default_rng(0).integers(0, 10_000, size=3), \
        np.random.default_rng(0).integers(0, 10_000, size=3)
    for k in range(3):
        assert isinstance(seeds[k], gg.Tensor) and seeds[k].ndim == 0
        assert gr.default_rng(seeds[k]).random() == np.random.default_rng(nseeds[k]).random()
        assert gr.SeedSequence(seeds[k]).entropy == np.random.SeedSequence(nseeds[k]).entropy
    sq = gr.SeedSequence(seeds, spawn_key=(gg.tensor(1),))
    nq = np.random.SeedSequence(nseeds, spawn_key=(1,))
    assert [c.generate_state(2).tolist() for c in sq.spawn(2)] == \
        [c.generate_state(2).tolist() for c in nq.spawn(2)]
    ph = gr.Philox(key=gnp.array([1, 2], dtype=np.uint64), counter=gg.tensor(3))
    assert ph.random_raw() == np.random.Philox(key=np.array([1, 2], np.uint64),
                                               counter=3).random_raw()


def test_seeded_classes_are_numpys_own():
    for name in ("SeedSequence", "PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64",
                 "RandomState"):
        ours, theirs = getattr(gr, name), getattr(np.random, name)
        made = ours(gg.tensor(5))
        assert type(made) is theirs and isinstance(theirs(5), ours) and isinstance(made, ours)
        assert issubclass(theirs, ours)
    assert isinstance(np.random.PCG64(0), gr.BitGenerator)
    with pytest.raises(NotImplementedError):
        gr.BitGenerator(0)
    bg = pickle.loads(pickle.dumps(gr.PCG64(gg.tensor(3))))
    assert bg.random_raw() == np.random.PCG64(3).random_raw()
    # a Generator over a seeded bit generator draws NumPy's stream, as tensors
    g = gr.Generator(gr.PCG64(gg.tensor(11)))
    assert g.random(2).tolist() == np.random.Generator(np.random.PCG64(11)).random(2).tolist()


def test_scalar_and_array_draws_keep_numpys_stream_and_types():
    """Draws with plain arguments call NumPy directly; those with tensors or arrays take the
    general path: both in one stream, each answer NumPy's value, scalars as NumPy's type."""
    calls = [("random", ()), ("normal", ()), ("normal", (1.0, 2.0)), ("integers", (0, 6)),
             ("uniform", (0, 3)), ("random", (3,)), ("standard_normal", (2,)),
             ("exponential", ()), ("integers", (0, 6, 2)), ("normal", ("t", 1.0))]
    legacy = [("rand", ()), ("randn", ()), ("random", ()), ("randint", (6,)), ("uniform", ()),
              ("normal", ()), ("rand", (2,)), ("randint", (0, 9, 3)), ("normal", ("t", 2.0)),
              ("random_sample", ()), ("ranf", ()), ("choice", (5,))]
    g, n = gr.default_rng(3), np.random.default_rng(3)
    gr.seed(3)
    np.random.seed(3)
    for src, nsrc, table in ((g, n, calls), (gr, np.random, legacy)):
        for name, args in table * 2:
            ours = getattr(src, name)(*[gnp.array([1.0, 2.0]) if a == "t" else a for a in args])
            want = getattr(nsrc, name)(*[np.array([1.0, 2.0]) if a == "t" else a for a in args])
            if isinstance(want, np.ndarray):
                assert isinstance(ours, gg.Tensor) and ours.tolist() == want.tolist(), name
            else:
                assert type(ours) is type(want) and ours == want, name


def test_scalar_draws_in_a_compiled_step_are_still_refused():
    g = gr.default_rng(0)
    fc = gg.compile(lambda x: x * g.random())
    with pytest.raises(gg.CaptureError, match="scalar"):
        fc(gg.tensor([1.0]))
