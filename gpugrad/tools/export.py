"""``gpugrad export``: a trained run's model as ONNX (``.onnx``, through
:func:`gpugrad.tools.onnx.export`) or as a PyTorch state dict (``.pt``/``.pth``, in
``torch.nn.Sequential(nn.Linear, activation, ...)``'s layout, through
:func:`gpugrad.nn.state_dict.to_torch_state_dict`).

The ONNX model takes raw features: the run's standardizer is its first two nodes unless
``--no-standardizer`` (then it takes standardized features, as the PyTorch export does).
``--softmax`` makes a classifier's ONNX output class probabilities instead of logits.

    gpugrad export --checkpoint runs/train/best.npz --output model.onnx
    gpugrad export --checkpoint runs/train/best.npz --output model.pt
"""
from __future__ import annotations

import os

from gpugrad.tools import onnx as _onnx
from gpugrad.tools.evaluate import load_run
from gpugrad.nn.state_dict import to_torch_state_dict

__all__ = ["add_parser", "run"]

_FORMATS = {".onnx": "onnx", ".pt": "torch", ".pth": "torch"}


def add_parser(subparsers):
    """Register ``gpugrad export``."""
    p = subparsers.add_parser(
        "export", help="write a trained model as ONNX or a PyTorch state dict",
        description="Export a gpugrad train checkpoint: .onnx (Gemm + activation nodes, "
                    "dynamic batch, the run's standardizer in front) or .pt/.pth (a PyTorch "
                    "state dict for torch.nn.Sequential of Linear and activation modules).")
    a = p.add_argument
    a("--checkpoint", required=True, metavar="PATH", help="a gpugrad train checkpoint")
    a("--output", required=True, metavar="FILE", help="model.onnx, model.pt or model.pth")
    a("--opset", type=int, default=_onnx.DEFAULT_OPSET,
      help=f"ONNX opset (default {_onnx.DEFAULT_OPSET}, at least {_onnx.MIN_OPSET})")
    a("--dtype", choices=("float32", "float64"), help="ONNX dtype (default: the model's)")
    a("--no-standardizer", dest="standardizer", action="store_false",
      help="ONNX: leave the run's standardizer out (the model takes standardized features)")
    a("--softmax", action="store_true", help="ONNX: output class probabilities")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``gpugrad export`` from parsed arguments; returns the exit status."""
    ext = os.path.splitext(args.output)[1].lower()
    fmt = _FORMATS.get(ext)
    if fmt is None:
        raise ValueError(f"--output {args.output}: expected a name ending in .onnx, .pt or "
                         f".pth")
    run_ = load_run(args.checkpoint, "cpu")
    if fmt == "torch":
        try:
            import torch
        except ImportError:
            raise ImportError("a .pt export needs PyTorch: pip install torch") from None
        state = to_torch_state_dict(run_.model)
        tmp = args.output + ".tmp"
        torch.save(state, tmp)
        os.replace(tmp, args.output)
        print(f"wrote {args.output} (PyTorch state dict: {', '.join(state)})")
        return 0
    if args.softmax and run_.task != "classification":
        raise ValueError("--softmax is for classification runs; this run is a regression")
    _onnx.export(run_.model, args.output, opset=args.opset, dtype=args.dtype,
                 standardizer=run_.standardizer if args.standardizer else None,
                 softmax=args.softmax)
    print(f"wrote {args.output} (ONNX opset {args.opset}, input 'input' of shape "
          f"(batch, {run_.num_features}), output 'output' of shape (batch, "
          f"{run_.num_outputs}))")
    return 0
