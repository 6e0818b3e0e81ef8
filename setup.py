"""Package discovery (everything else is in pyproject.toml).

``benchmark`` and its subpackages are found as they are; the built-in plugins in ``plugins/`` are
found the same way and installed as ``bench_plugins``.
"""

from setuptools import find_packages, setup

core = find_packages(include=["benchmark", "benchmark.*"])
plugins = ["bench_plugins" + name[len("plugins"):] for name in find_packages(include=["plugins", "plugins.*"])]

setup(packages=core + plugins, package_dir={"bench_plugins": "plugins"})
