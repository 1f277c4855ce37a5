"""The tools layer: the ``gpugrad`` command line (:mod:`~gpugrad.tools.cli`), training runs
(:mod:`~gpugrad.tools.train`), evaluation and prediction (:mod:`~gpugrad.tools.evaluate`),
export (:mod:`~gpugrad.tools.export`, :mod:`~gpugrad.tools.onnx`) and the benchmarks
(:mod:`~gpugrad.tools.bench`).

Tools use the library below them (engine, training, front-ends) and nothing below imports
a tool.  ``gpugrad.train`` stays the public name of :mod:`gpugrad.tools.train`.
"""
