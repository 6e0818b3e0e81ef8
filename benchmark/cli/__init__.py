"""The `bench` command line, a thin layer over the Python API (:mod:`benchmark.workflow`).

:mod:`.app` parses the command line and dispatches; one module per command group: ``datasets``,
``score``, ``sweep`` (``--executor``, ``status``, ``job``), ``zoo`` and ``info``.
"""


def main(argv=None) -> int:
    """The ``bench`` console script."""
    from benchmark.cli.app import main as run_main

    return run_main(argv)
