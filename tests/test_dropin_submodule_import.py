"""``from numpy.lib.stride_tricks import sliding_window_view`` becomes
``from gpugrad.numpy.lib.stride_tricks import ...``: the import gives gpugrad's differentiable
views, and does not replace them with a fresh copy of NumPy's module for the whole program
(``np.lib.stride_tricks.as_strided`` in a CNN's im2col went on as NumPy's, which refuses a
recorded graph).  Run in a fresh interpreter: the import machinery's state is per process."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import numpy
    import gpugrad as gg
    import gpugrad.numpy as gnp
    from gpugrad.numpy import _stride_tricks as S
    from gpugrad.numpy.lib.stride_tricks import sliding_window_view, as_strided
    import gpugrad.numpy.lib.stride_tricks as st
    assert sliding_window_view is S.sliding_window_view, sliding_window_view
    assert as_strided is S.as_strided
    assert gnp.lib.stride_tricks.as_strided is S.as_strided
    assert st is gnp.lib.stride_tricks
    x = gnp.arange(6.0)
    g = gg.grad(lambda a: gnp.sum(sliding_window_view(a * x, 3)[::2] ** 2))(gnp.array(2.0))
    xs = numpy.arange(6.0)
    want = sum(2 * 2.0 * w @ w for w in numpy.lib.stride_tricks.sliding_window_view(xs, 3)[::2])
    assert abs(float(g) - want) < 1e-9, (float(g), want)
    print("ok")
""")


def test_stride_tricks_import_is_gpugrads():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "ok"
