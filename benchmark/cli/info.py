"""`bench info NAME`: options with types, defaults and docs; presets; profiles."""

from __future__ import annotations

import json

from rich.console import Group
from rich.table import Table
from rich.text import Text

from benchmark.registry import plugins as registry
from benchmark.planning.config import split_label
from benchmark.util.errors import PluginError
from benchmark.util.names import closest_first, unknown


def options_table(options_cls, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("option", "type", "default", "description"):
        table.add_column(col)
    for name, field in options_cls.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = json.dumps(default.model_dump(mode="json") if hasattr(default, "model_dump") else default,
                           default=str)
        kind = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
        table.add_row(name, kind, shown, field.description or "")
    return table


def describe_model(plugin) -> list:
    parts = [Text(f"model {plugin.name}: {plugin.summary}", style="bold"),
             Text(f"input: {plugin.input_kind}"), Text((plugin.__doc__ or "").strip())]
    parts.append(options_table(plugin.Options, f"options (--set {plugin.name}.KEY=VALUE)"))
    presets = Table(title="presets (each is its own leaderboard row)", title_justify="left")
    for col in ("row", "summary", "options"):
        presets.add_column(col)
    for name, preset in plugin.presets.items():
        row = plugin.name if name == plugin.default_preset else f"{plugin.name}+{name}"
        presets.add_row(row, preset.summary, json.dumps(preset.options))
    parts.append(presets)
    profiles = Table(title="profiles (--profile)", title_justify="left")
    for col in ("profile", "run settings", "option overrides"):
        profiles.add_column(col)
    for name, prof in plugin.profiles.items():
        profiles.add_row(name, json.dumps(prof.get("run", {})), json.dumps(prof.get("options", {})))
    parts.append(profiles)
    return parts


def describe_other(kind: str, obj) -> list:
    parts = [Text(f"{kind[:-1]} {obj.name}: {obj.summary}", style="bold"), Text((obj.__doc__ or "").strip())]
    if kind == "datasets":
        card = Table(title="dataset card", title_justify="left", show_header=False)
        for key, value in obj.card().items():
            card.add_row(key, json.dumps(value) if not isinstance(value, str) else value)
        parts.append(card)
    if kind == "metrics":
        ranking = {"up": "higher is better", "down": "lower is better"}
        parts.append(Text("columns: " + ", ".join(f"{c} ({ranking.get(d, 'not ranked')})"
                                                   for c, d in obj.columns.items())))
    if obj.Options.model_fields:
        parts.append(options_table(obj.Options, f"options (--set {obj.name}.KEY=VALUE)"))
    return parts


def unknown_name(name: str, plugins) -> str:
    """One line for a name no plugin has: the names of the kind it most likely means first (the
    presets of its model for ``MODEL+PRESET``, else the kind of the closest name), then the rest."""
    by_kind = {kind: plugins.registry(kind).names() for kind in registry.KINDS}
    rows = [f"{e.name}+{p}" for e in plugins.models for p in e.obj.presets if p != e.obj.default_preset]
    model, plus, preset = name.partition("+")
    if plus and model in plugins.models:
        own = closest_first(name, [r for r in rows if r.startswith(model + "+")]) or ["(none)"]
        return f"unknown preset '{preset}' of model '{model}'; its rows: {model}, {', '.join(own)}"
    by_kind["models"] = by_kind["models"] + rows
    best = closest_first(name, [n for names in by_kind.values() for n in names])
    if not best:
        return unknown("plugin", name, [])
    kind = next(k for k, names in by_kind.items() if best[0] in names)
    others = [n for k, names in by_kind.items() if k != kind for n in names]
    rest = f"; other plugins: {', '.join(closest_first(name, others))}" if others else ""
    return (f"unknown plugin '{name}'; closest {kind}: {', '.join(closest_first(name, by_kind[kind]))}"
            f"{rest} (see `bench list`)")


def describe(name: str, plugins=None) -> Group:
    plugins = plugins or registry.default()
    found = plugins.find(name)
    if not found and name not in plugins.models:
        try:
            model, preset = split_label(name, plugins.models)
            if preset not in plugins.models.get(model).presets:
                raise PluginError(f"unknown preset {preset!r}")
            found = [("models", plugins.models.entry(model))]
        except Exception:
            raise PluginError(unknown_name(name, plugins)) from None
    parts: list = []
    for kind, entry in found:
        parts += describe_model(entry.obj) if kind == "models" else describe_other(kind, entry.obj)
        parts.append(Text(f"provided by: {entry.provider}", style="dim"))
    return Group(*[p for p in parts if not isinstance(p, Text) or p.plain])
