"""The plugin manager and the registries of models, metrics, datasets, segmenters and weights built from it.

Built-in plugins and third-party packages are found the same way: through the
``bench`` entry-point group. Each hook implementation is called with its own
``register`` callback, so that every registered object knows which package
provided it and a name registered twice can be reported with both providers.

Names are checked when they are registered (:data:`NAME_RULE`): they become
``--set NAME.KEY`` prefixes and ``NAME+PRESET`` row labels, so a ``.``, ``+``,
``:``, ``@``, white space or an upper-case letter would make them ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, Iterable, TypeVar

import pluggy

from benchmark.api import hookspecs
from benchmark.registry.weight_spec import validate as validate_weights
from benchmark.registry.zoo_entry import validate as validate_entry
from benchmark.util.errors import PluginError
from benchmark.util.names import NAME_RULE, check_name, unknown  # noqa: F401 (NAME_RULE: part of this module's story)

ENTRY_POINT_GROUP = "bench"
KINDS = ("models", "metrics", "datasets", "segmenters", "loggers")
#: every hook ``register_<kind>``: the plugin kinds plus the pretrained files they need and the
#: published checkpoints (the model zoo)
HOOK_KINDS = (*KINDS, "weights", "zoo")

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    provider: str  # distribution (package) name, or module name for plugins registered by hand

    @property
    def summary(self) -> str:
        return getattr(self.obj, "summary", "") or ""


class Registry(Generic[T]):
    """Name -> registered object, with clear errors for duplicates and unknown names."""

    def __init__(self, kind: str):
        self.kind = kind
        self.entries: dict[str, Entry[T]] = {}

    def add(self, obj: T, provider: str) -> None:
        if self.kind == "zoo":
            validate_entry(obj, provider)  # its name is MODEL@TAG, each part checked
        name = getattr(obj, "name", None)
        what = {"weights": "weights", "zoo": "zoo entry"}.get(self.kind, self.kind[:-1])
        if not isinstance(name, str):
            raise PluginError(f"{provider} registered a {what} without a 'name' string: {obj!r}")
        if self.kind != "zoo":
            check_name(name, what, provider)
        for preset in getattr(obj, "presets", None) or {}:
            check_name(preset, f"preset of {what} '{name}'", provider)
        if self.kind == "weights":
            validate_weights(obj, provider)
        if name in self.entries:
            if self.kind == "weights" and self.entries[name].obj == obj:
                return  # plugins that share a file (e.g. one network for two metrics) register it alike
            first = self.entries[name].provider
            noun = "zoo entry" if self.kind == "zoo" else self.kind[:-1]
            raise PluginError(
                f"two plugins register the {noun} '{name}': {first} and {provider}; "
                f"uninstall one of them or rename its {noun}")
        self.entries[name] = Entry(name, obj, provider)

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        if name not in self.entries:
            raise PluginError(unknown(self.kind[:-1], name, self.entries, f"see `bench list {self.kind}`"))
        return self.entries[name]

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self):
        return iter(self.entries[n] for n in self.names())


@dataclass
class Plugins:
    manager: pluggy.PluginManager
    models: Registry
    metrics: Registry
    datasets: Registry
    segmenters: Registry
    loggers: Registry  # Logger objects: where a training run's losses, metrics and images also go
    weights: Registry  # WeightSpec objects: the pretrained files the plugins need
    zoo: Registry  # ZooEntry objects: published checkpoints (benchmark.registry.zoo)

    def registry(self, kind: str) -> Registry:
        if kind not in KINDS:
            raise PluginError(unknown("plugin kind", kind, KINDS))
        return getattr(self, kind)

    def find(self, name: str) -> list[tuple[str, Entry]]:
        """Every (kind, entry) registered under ``name``."""
        return [(kind, self.registry(kind).entries[name]) for kind in KINDS if name in self.registry(kind)]


def _providers(pm: pluggy.PluginManager) -> dict[int, str]:
    names = {}
    for plugin, dist in pm.list_plugin_distinfo():
        names[id(plugin)] = dist.metadata["name"]
    return names


def build(extra_plugins: Iterable[Any] = (), *, entry_points: bool = True) -> Plugins:
    """Load the plugins of the entry-point group (and ``extra_plugins``, e.g. test modules)."""
    pm = pluggy.PluginManager("bench")
    pm.add_hookspecs(hookspecs)
    if entry_points:
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken third-party plugin should say which one
            raise PluginError(f"a plugin of the '{ENTRY_POINT_GROUP}' entry-point group failed to load: {exc!r}; "
                              f"reinstall or uninstall it (pip list shows the installed packages)") from exc
    for plugin in extra_plugins:
        pm.register(plugin)
    providers = _providers(pm)
    plugins = Plugins(pm, *(Registry(kind) for kind in HOOK_KINDS))
    for kind in HOOK_KINDS:
        hook = getattr(pm.hook, f"register_{kind}")
        for impl in hook.get_hookimpls():
            provider = providers.get(id(impl.plugin), getattr(impl.plugin, "__name__", impl.plugin_name))
            registry = getattr(plugins, kind)
            impl.function(register=lambda obj, _r=registry, _p=provider: _r.add(obj, _p))
    return plugins


@lru_cache(maxsize=1)
def default() -> Plugins:
    """The installed plugins, loaded once per process."""
    return build()

