"""The NumPy programs in examples/dropin/: each runs twice, under ``import numpy as np`` and
with that one line swapped for ``import gpugrad.numpy as np``, and both runs give equal
results (bitwise: the same seeds, NumPy's random streams and the same float64 arithmetic);
``gpugrad.grad`` of each program's loss, which uses NumPy's in-place idioms inside, matches
the program's own hand-written gradient to 1e-10."""
import pathlib
import types

import numpy
import pytest

import gpugrad as gg

DROPIN = pathlib.Path(__file__).resolve().parent.parent / "examples" / "dropin"
NUMPY_IMPORT = "import numpy as np"
GPUGRAD_IMPORT = "import gpugrad.numpy as np"
STEMS = ["char_rnn", "gradient_check", "kmeans", "pca", "softmax_classifier", "two_layer_net",
         "attention", "batchnorm", "conv_net", "gp_regression", "kalman", "logistic_lbfgs",
         "lstm", "ranking", "reinforce", "word2vec"]

def load(stem, flavour):
    """Execute examples/dropin/<stem>.py as a fresh module, its NumPy import swapped for
    gpugrad.numpy's when ``flavour == "gpugrad"`` (the only change)."""
    path = DROPIN / f"{stem}.py"
    lines = path.read_text().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.rstrip("\n") == NUMPY_IMPORT]
    assert len(at) == 1, f"{path.name}: expected one line {NUMPY_IMPORT!r}, found {len(at)}"
    if flavour == "gpugrad":
        lines[at[0]] = GPUGRAD_IMPORT + "\n"
    mod = types.ModuleType(f"dropin_{stem}_{flavour}")
    mod.__file__ = str(path)
    exec(compile("".join(lines), str(path), "exec"), mod.__dict__)
    return mod


def plain(x):
    """``x`` with every Tensor as a NumPy array (dicts, lists and tuples rebuilt)."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(plain(v) for v in x)
    return x.numpy() if isinstance(x, gg.Tensor) else x


def assert_same(a, b, where="result"):
    """Equal structure, and equal values and dtypes, bit for bit."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, str):
        assert a == b, where
    else:
        u, v = numpy.asarray(a), numpy.asarray(b)
        assert u.dtype == v.dtype, f"{where}: dtype {u.dtype} under numpy, {v.dtype} under gpugrad"
        numpy.testing.assert_array_equal(u, v, err_msg=where, strict=True)


# ================================================================ the import swap
@pytest.mark.parametrize("stem", STEMS)
def test_program_imports_numpy_in_one_line_and_nothing_else(stem):
    src = (DROPIN / f"{stem}.py").read_text()
    imports = [ln for ln in src.splitlines() if ln.startswith(("import ", "from "))]
    assert imports == [NUMPY_IMPORT] and "gpugrad" not in src.split('"""', 2)[2]
    assert "def main()" in src and 'if __name__ == "__main__":' in src


# ================================================================ same results
def run_char_rnn(m):
    history, text, params = m.train(steps=60, verbose=False)
    assert history[-1] < 0.8 * history[0]
    return history, text, params


def run_gradient_check(m):
    out = m.run()
    assert out["rel_error"] < 1e-7
    return out


def run_kmeans(m):
    X, y = m.make_blobs()
    C, labels, history = m.kmeans(X, 3)
    assert all(a >= b for a, b in zip(history, history[1:]))
    # each true blob lands whole in its own cluster
    assert sorted({(int(t), int(c)) for t, c in zip(y, labels)}) == sorted(
        {(t, int(labels[40 * t])) for t in range(3)}) and len(set(labels.tolist())) == 3
    return C, labels, history


def run_pca(m):
    out = m.run()
    V = out["components"]
    numpy.testing.assert_allclose(plain(V.T @ V), numpy.eye(2), atol=1e-12)
    assert out["explained_ratio"] > 0.99
    return out


def run_softmax_classifier(m):
    history, acc, W = m.train(steps=100, verbose=False)
    assert history[-1] < 0.2 * history[0] and acc > 0.9
    return history, acc, W


def run_two_layer_net(m):
    history, acc, params = m.train(steps=150, verbose=False)
    assert history[-1] < 0.7 * history[0] and acc > 0.7
    return history, acc, params


def run_attention(m):
    history, params = m.train(steps=60)
    assert history[-1] < 0.1 * history[0]
    return history, params


def run_batchnorm(m):
    history, test_loss, params, bn = m.train(steps=60)
    assert history[-1] < 0.2 * history[0]
    return history, test_loss, params, bn


def run_conv_net(m):
    history, params = m.train(steps=20)
    assert history[-1] < 0.1 * history[0]
    return history, params


def run_gp_regression(m):
    X, y = m.make_data()
    theta, history = m.fit(X, y, steps=40)
    assert history[-1] < history[0]
    return theta, history, m.predict(theta, X, y, m.np.linspace(-3, 3, 7)[:, None])


def run_kalman(m):
    truth, zs = m.simulate(T=40)
    means, loglik = m.kalman_filter(zs, m.np.log(0.5), m.np.log(0.2))
    assert m.np.mean((means[:, 0] - truth[:, 0]) ** 2) < m.np.mean((zs[:, 0] - truth[:, 0]) ** 2)
    return means, loglik, m.fit_noise(zs, steps=5)


def run_logistic_lbfgs(m):
    X, y = m.make_data()
    w, history, iters = m.lbfgs(X, y)
    assert float(m.np.linalg.norm(m.grad(w, X, y))) < 1e-6
    return w, history, iters


def run_lstm(m):
    history, params = m.train(steps=25)
    assert history[-1] < 0.6 * history[0]
    return history, params


def run_ranking(m):
    table = m.make_table()
    ranked, rows, auc = m.report(table)
    return ranked, rows, auc, m.average_ranks(m.np.array([3.0, 1.0, 3.0, 2.0]))


def run_reinforce(m):
    theta, lengths = m.train(episodes=40)
    return theta, lengths


def run_word2vec(m):
    history, vocab, w2i, Vin = m.train(epochs=12)
    assert history[-1] < history[0]
    return history, Vin, m.most_similar("fox", vocab, w2i, Vin)


@pytest.mark.parametrize("stem", STEMS)
def test_numpy_and_gpugrad_numpy_give_equal_results(stem):
    runner = globals()[f"run_{stem}"]
    ours = runner(load(stem, "gpugrad"))
    leaves = [v for v in (ours.values() if isinstance(ours, dict) else ours)
              if not isinstance(v, (str, list, float))]
    assert any(isinstance(v, gg.Tensor) or isinstance(v, dict) and
               all(isinstance(w, gg.Tensor) for w in v.values()) for v in leaves)
    assert_same(plain(runner(load(stem, "numpy"))), plain(ours))


@pytest.mark.parametrize("stem", STEMS)
def test_main_prints_the_same(stem, capsys):
    outputs = []
    for flavour in ("numpy", "gpugrad"):
        load(stem, flavour).main()
        outputs.append(capsys.readouterr().out)
    assert outputs[0].count("\n") >= 2 and outputs[1] == outputs[0]


# ================================================================ gg.grad vs hand-written
def char_rnn_problem(m):
    chars, c2i, _ = m.build_vocab(m.TEXT)
    params = {k: 0.3 * m.np.random.randn(*v.shape)
              for k, v in m.init_params(len(chars), 12, seed=3).items()}
    inputs = [c2i[c] for c in m.TEXT[:10]]
    targets = [c2i[c] for c in m.TEXT[1:11]]
    return params, inputs, targets, 0.5 * m.np.random.randn(12, 1)


def grad_char_rnn(m):
    args = char_rnn_problem(m)
    return gg.grad(m.loss)(*args), m.loss_and_grads(*args)[1]


def grad_gradient_check(m):
    W, X, y = m.make_problem(seed=2)
    return gg.grad(m.svm_loss)(W, X, y, 0.05), m.svm_grad(W, X, y, 0.05)


def grad_kmeans(m):
    X, _ = m.make_blobs(seed=1)
    C = m.np.array([[0.5, 0.5], [3.0, 0.0], [0.0, 3.0]])
    return gg.grad(m.inertia)(C, X), m.inertia_grad(C, X)


def grad_pca(m):
    X = m.make_data(n=50, seed=4)
    return gg.grad(m.captured_variance)(X, 2), m.captured_variance_grad(X, 2)


def grad_softmax_classifier(m):
    X, y = m.make_data(n_per_class=10, seed=5)
    W = m.np.random.default_rng(6).standard_normal((X.shape[1], 4))
    return gg.grad(m.softmax_loss)(W, X, y, 0.1), m.softmax_grad(W, X, y, 0.1)


def two_layer_problem(m, seed=7):
    X, y = m.make_spiral(points_per_class=10, seed=seed)
    params = m.init_params(2, 16, 3, seed=seed)
    # b1 off zero: the spiral's first points sit at the origin, so with b1 = 0 their hidden
    # units are exactly 0, at the ReLU's kink (np.maximum's gradient splits a tie 0.5/0.5
    # there, the hand-written backward takes 0)
    params["b1"] = 0.1 * m.np.random.default_rng(seed + 1).standard_normal(16)
    mask = m.dropout_mask((X.shape[0], 16), 0.8, m.np.random.default_rng(seed))
    return params, X, y, 0.01, mask


def grad_two_layer_net(m):
    args = two_layer_problem(m)
    return gg.grad(m.loss)(*args), m.gradients(*args)


def grad_attention(m):
    params, x, target = m.make_problem(seed=3)
    return gg.grad(m.loss)(params, x, target), m.gradients(params, x, target)


def grad_batchnorm(m):
    X, y = m.make_data()
    params = m.init_params(5, 16)
    m.np.random.seed(2)
    mask = (m.np.random.rand(64, 16) < 0.8) / 0.8
    return (gg.grad(m.loss)(params, X, y, {"mode": "train"}, mask),
            m.gradients(params, X, y, {"mode": "train"}, mask))


def grad_conv_net(m):
    """Parameters and the input image (its gradient runs through the sliding windows)."""
    params, x, y = m.make_problem(seed=4)
    gp, gx = gg.grad(m.loss, argnums=(0, 1))(params, x, y)
    return dict(gp, x=gx), m.gradients(params, x, y, with_input=True)


def grad_gp_regression(m):
    X, y = m.make_data()
    theta = m.np.array([0.3, -0.2, -1.5])
    return gg.grad(m.nll)(theta, X, y), m.nll_grad(theta, X, y)


def grad_kalman(m):
    """Against the program's own centred finite difference (h = 1e-6): to 1e-7."""
    _, zs = m.simulate(T=30)
    log_r = m.np.array(0.3)
    auto, fd = gg.grad(m.neg_loglik)(log_r, zs), m.neg_loglik_fd(log_r, zs)
    return auto, fd


def grad_logistic_lbfgs(m):
    X, y = m.make_data()
    w = m.np.random.default_rng(1).standard_normal(5)
    return gg.grad(m.loss)(w, X, y), m.grad(w, X, y)


def grad_lstm(m):
    xs, targets = m.make_data()
    params = m.init_params(2, 6)
    return gg.grad(m.loss)(params, xs, targets), m.gradients(params, xs, targets)


def grad_ranking(m):
    table = m.make_table()
    scores, labels = m.np.asarray(table["score"][:12], dtype=float), table["label"][:12]
    return gg.grad(m.ranknet_loss)(scores, labels), m.ranknet_grad(scores, labels)


def grad_reinforce(m):
    m.np.random.seed(4)
    theta = m.np.random.default_rng(1).standard_normal((2, 6))
    states, actions, rewards = m.run_episode(theta)
    G = m.discounted_returns(rewards, 0.9)
    return (gg.grad(m.surrogate)(theta, states, actions, G),
            m.surrogate_grad(theta, states, actions, G))


def grad_word2vec(m):
    rng = m.np.random.default_rng(3)
    Vin, Uout = rng.standard_normal((10, 4)), rng.standard_normal((10, 4))
    c, o = m.np.array([1, 2, 2, 5]), m.np.array([3, 3, 4, 1])
    negs = rng.integers(0, 10, (4, 3))
    auto = gg.grad(m.loss, argnums=(0, 1))(Vin, Uout, c, o, negs)
    return {"Vin": auto[0], "Uout": auto[1]}, dict(zip(("Vin", "Uout"),
                                                       m.gradients(Vin, Uout, c, o, negs)))


@pytest.mark.parametrize("stem", STEMS)
def test_gg_grad_matches_the_hand_written_gradient(stem):
    auto, hand = globals()[f"grad_{stem}"](load(stem, "gpugrad"))
    auto, hand = plain(auto), plain(hand)
    if isinstance(hand, dict):
        assert auto.keys() == hand.keys()
        pairs = [(auto[k], hand[k]) for k in hand]
    else:
        pairs = [(auto, hand)]
    tol = 1e-7 if stem == "kalman" else 1e-10  # (kalman's reference: finite differences)
    for a, h in pairs:
        a, h = numpy.asarray(a), numpy.asarray(h)
        assert a.dtype == numpy.float64 and a.shape == h.shape and numpy.abs(h).max() > 1e-3
        numpy.testing.assert_allclose(a, h, rtol=tol, atol=tol * numpy.abs(h).max())


def backward_two_layer_net(m):
    params, X, y, reg, mask = two_layer_problem(m, seed=8)
    return params, lambda p: m.gradients(p, X, y, reg, mask)


def backward_char_rnn(m):
    params, inputs, targets, hprev = char_rnn_problem(m)
    return params, lambda p: m.loss_and_grads(p, inputs, targets, hprev)[1]


@pytest.mark.parametrize("stem", ["char_rnn", "two_layer_net"])
def test_hand_written_backward_differentiates(stem):
    """gg.grad through a program's backward pass itself (``dy[t] -= 1``, ``+=`` into
    gradient buffers; ``dscores[...] -= 1``, ``dscores /= N``, ``dhidden *= mask``,
    ``dhidden[hidden <= 0] = 0``): the derivative of <gradients(params), V> along a random
    direction against centered finite differences (float64, h = 1e-5, to 1e-6)."""
    m = load(stem, "gpugrad")
    params, gradients = globals()[f"backward_{stem}"](m)
    rng = numpy.random.default_rng(9)
    V = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    U = {k: rng.standard_normal(v.shape) for k, v in params.items()}

    def f(p):
        g = gradients(p)
        return sum(m.np.sum(g[k] * V[k]) for k in g)

    auto = plain(gg.grad(f)(params))
    h = 1e-5
    shifted = [{k: params[k] + s * h * U[k] for k in params} for s in (1, -1)]
    fd = (float(f(shifted[0])) - float(f(shifted[1]))) / (2 * h)
    assert abs(fd) > 1e-3
    assert sum(numpy.vdot(auto[k], U[k]) for k in U) == pytest.approx(fd, rel=1e-6)
