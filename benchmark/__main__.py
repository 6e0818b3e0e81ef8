"""``python -m benchmark``: the same as the ``bench`` command."""

import sys

from benchmark.cli import main

sys.exit(main())
