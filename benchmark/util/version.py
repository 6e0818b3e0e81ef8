"""The version of bench, in one place (pyproject.toml reads it from here), and the name of its
distribution on the package index."""

__version__ = "0.1.0"
#: ``pip install sis-bench``: "bench" and "benchmark" on the package index are other projects
DISTRIBUTION = "sis-bench"
