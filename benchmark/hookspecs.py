"""The hooks a plugin may implement.

Each hook receives a ``register`` callback; the plugin calls it once per object
it provides::

    from benchmark import hookimpl

    @hookimpl
    def register_models(register):
        register(MyModel())
"""

import pluggy

hookspec = pluggy.HookspecMarker("bench")
hookimpl = pluggy.HookimplMarker("bench")


@hookspec
def register_models(register):
    """Register model plugins: instances of :class:`benchmark.api.Model`."""


@hookspec
def register_metrics(register):
    """Register metric plugins: instances of :class:`benchmark.api.Metric`."""


@hookspec
def register_datasets(register):
    """Register datasets: instances of :class:`benchmark.data.Dataset`."""


@hookspec
def register_segmenters(register):
    """Register segmenters for mIoU and pixel accuracy: instances of :class:`benchmark.api.Segmenter`."""
