"""The hooks a plugin may implement: one ``register_<kind>`` per plugin kind (and ``register_weights``,
``register_zoo``), plus ``default_run``.

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
    """Register model plugins: instances of :class:`benchmark.api.contract.Model`."""


@hookspec
def register_metrics(register):
    """Register metric plugins: instances of :class:`benchmark.api.contract.Metric`."""


@hookspec
def register_datasets(register):
    """Register datasets: instances of :class:`benchmark.data.dataset.Dataset`."""


@hookspec
def register_segmenters(register):
    """Register segmenters for mIoU and pixel accuracy: instances of :class:`benchmark.api.segmenter.Segmenter`."""


@hookspec
def register_loggers(register):
    """Register loggers of training runs: instances of :class:`benchmark.api.logger.Logger`, chosen with
    ``--set loggers=[NAME, ...]``."""


@hookspec
def register_weights(register):
    """Register the pretrained files the plugin needs: instances of :class:`benchmark.registry.weights.WeightSpec`.

    ``bench weights list|import`` and :func:`benchmark.registry.weights.get` read them from the registry; two
    plugins that need the same file may both register the same spec.
    """


@hookspec
def register_zoo(register):
    """Register published checkpoints: instances of :class:`benchmark.registry.zoo.ZooEntry` (register each
    entry's ``weights`` spec through ``register_weights`` too, so that `bench weights import` takes it)."""


@hookspec(firstresult=True)
def default_run():
    """The run settings of a plain ``bench run``: a dict such as ``{"models": [...], "dataset": "..."}``.

    The core names no plugin; the distribution's own package (or a site's) provides these. The first
    plugin that returns a dict wins.
    """
