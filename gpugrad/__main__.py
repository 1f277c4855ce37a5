"""``python -m gpugrad <command>``: the same as the ``gpugrad`` console script."""
import sys

from .tools.cli import main

sys.exit(main())
