"""``python -m benchmark.cli`` (what the data-parallel launcher starts in each worker)."""

import sys

from benchmark.cli import main

sys.exit(main())
