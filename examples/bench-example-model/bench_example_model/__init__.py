"""An example third-party model plugin package for bench.

Two models, one per stage of the tutorial in README.md: ``tiny-paint``
(:mod:`bench_example_model.tiny`, the smallest model bench can train) and
``paint`` (:mod:`bench_example_model.paint`, the same idea with options, presets
and profiles). bench loads each module through its entry point in pyproject.toml.
"""
