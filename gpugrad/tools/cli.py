"""The ``gpugrad`` command line: ``gpugrad <subcommand> [options]``.

Subcommands are modules listed in ``SUBCOMMANDS``; each provides ``add_parser(subparsers)``
(which registers its parser) and ``run(args) -> int``.  Adding one is one line here.  A
listed module that is not installed yet is skipped.  Bad input ends with one line on stderr,
``gpugrad <subcommand>: error: ...``, and exit status 2 (set ``GPUGRAD_DEBUG=1`` for the
traceback).

>>> main(["train", "--dataset", "nope"])   # doctest: +SKIP
gpugrad train: error: argument --dataset: invalid choice: 'nope' (choose from digits, synthetic)
2
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

__all__ = ["main", "SUBCOMMANDS", "UsageError", "build_parser"]

SUBCOMMANDS = [
    "gpugrad.tools.train",
    "gpugrad.tools.bench",
    "gpugrad.tools.evaluate", "gpugrad.tools.export",      # eval, predict; export
]


class UsageError(Exception):
    """Bad command-line input: reported as one line, exit status 2.

    >>> str(UsageError("argument --epochs: invalid int value: 'x'"))
    "argument --epochs: invalid int value: 'x'"
    """


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage dump) and exit 2."""

    def error(self, message):
        raise UsageError(message)


def _load_subcommands():
    mods = []
    for name in SUBCOMMANDS:
        try:
            mods.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:       # the module exists but something it needs is missing
                raise
    return mods


def build_parser():
    """The top-level parser with every available subcommand registered.

    >>> build_parser().parse_args(["train", "--epochs", "3"]).epochs
    3
    """
    from gpugrad import __version__

    parser = _Parser(prog="gpugrad", description="gpugrad: GPU-accelerated autodiff and MLPs")
    parser.add_argument("--version", action="version", version=f"gpugrad {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="<command>", parser_class=_Parser)
    for mod in _load_subcommands():
        mod.add_parser(subs)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status.

    >>> main(["--version"])
    gpugrad 0.1.0
    0
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    prog = "gpugrad" + (f" {argv[0]}" if argv and not argv[0].startswith("-") else "")
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return 2
        prog = f"gpugrad {args.command}"
        return int(args.run(args) or 0)
    except UsageError as exc:
        return _fail(prog, exc)
    except SystemExit as exc:          # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except Exception as exc:  # expected failures: bad files, devices, values
        if os.environ.get("GPUGRAD_DEBUG") or not _expected(exc):
            raise
        return _fail(prog, exc)


def _expected(exc):
    from gpugrad.backend import CudaUnavailableError
    from gpugrad.io import CheckpointError
    from gpugrad.nn.state_dict import StateDictError

    return isinstance(exc, (UsageError, CheckpointError, StateDictError, CudaUnavailableError,
                            ValueError, OSError, ImportError))


def _fail(prog, exc):
    msg = " ".join(str(exc).split()) or type(exc).__name__
    dist = sys.modules.get("gpugrad.distributed.process_group")
    # in a job of several ranks: report once, and never leave the other ranks waiting
    if dist is None or dist.report_error(f"{prog}: error: {msg}", exc):
        sys.stderr.write(f"{prog}: error: {msg}\n")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
