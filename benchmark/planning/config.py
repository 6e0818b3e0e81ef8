"""Run configuration: pydantic models, profiles, and how the layers combine.

Order of precedence, lowest first::

    defaults < profile < --config file.toml < --set key=value (and CLI flags)

For model options the preset sits between the defaults and the profile:
``Options defaults < preset < model's profile overrides < file < --set``;
within one source a key for a row label (``pix2pix+kl.beta_kl``) beats the
same key for the model (``pix2pix.beta_kl``). A model that embeds another
(``Model.embeds``, e.g. a stylizer over SPADE) takes that model's
options from the other model's own table (``spade.lambda_vgg``), under its
own table's nested keys (``spade-pis.spade.lambda_vgg``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from benchmark.api import Model, Options
from benchmark.planning.seeds import Seeds
from benchmark.util.errors import ConfigError
from benchmark.util.names import closest_first, unknown

PROFILES = ("smoke", "quick", "paper")
Profile = Literal["smoke", "quick", "paper"]

#: run settings of each profile, before the models' own profile overrides
PROFILE_DEFAULTS: dict[str, dict[str, Any]] = {
    "smoke": {"image_size": 32, "checkpoint_every": 10, "eval": {"reference_images": "test"}},
    "quick": {"image_size": 64, "checkpoint_every": 250},
    "paper": {"image_size": 256, "checkpoint_every": 5000},
}


class EvalConfig(Options):
    """How generated images are evaluated."""

    metrics: list[str] | None = Field(None, description="metric plugins to run (default: all registered)")
    batch_size: int = Field(16, ge=1, description="batch size for generation and metrics")
    real_split: Literal["test", "train"] = Field(
        "test", description="the real images that distribution metrics compare against")
    max_images: int | None = Field(None, ge=1, description="evaluate only the first N test images")
    segmenter: str | None = Field(None, description="segmenter for mIoU (default: the dataset's)")
    reference_row: bool = Field(True, description="also evaluate the real test photos as a 'real images' row: "
                                "the ceiling of mIoU and classifier accuracy, FID/KID of real test vs real train")
    reference_images: int | Literal["all", "test"] = Field(
        "all", description="how many real training photos the 'real images' row's FID, KID, precision/recall and "
        "FD compare the test photos against: all, test (the first as many as the test split has: the "
        "smoke profile's, so that its first run stays short), or a count N (the first N)")

    @field_validator("reference_images", mode="before")
    @classmethod
    def _reference_images(cls, value: Any) -> Any:
        if value in ("all", "test") or (type(value) is int and value >= 2):
            return value
        if isinstance(value, str) and value.isdigit() and int(value) >= 2:
            return int(value)
        raise ValueError("allowed: all, test or a count of at least 2 (FID needs two images on each side)")


class RunConfig(Options):
    """Everything `bench run` needs. Every field can be set in a TOML file or with --set."""

    # no default here: the core names no plugin; a plain `bench run` takes them from the default_run hook
    models: list[str] = Field(min_length=1, description="model rows: NAME or NAME+PRESET (see `bench list models`; "
                                                        "default: the installed distribution's default run)")
    dataset: str = Field(description="a registered dataset (see `bench datasets list`; default: the installed "
                                     "distribution's default run)")
    profile: Profile = Field("quick", description="smoke (seconds), quick (minutes on a CPU), paper (the source's)")
    seed: int = Field(0, ge=0, description="seed for Python, NumPy, torch and the data order")
    seeds: Seeds = Field(None, description="train each row once per seed: a count N (seeds 0..N-1) "
                                    "or a list, e.g. [0, 1, 2]; the leaderboard shows mean ± std (n)")
    device: str = Field("auto", description="auto (CUDA, else MPS, else CPU), cpu, mps, cuda or cuda:N")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="autocast precision; auto = bf16 on CUDA, fp32 elsewhere")
    fused_optimizer: Literal["auto", "on", "off"] = Field(
        "auto", description="run Adam/AdamW as PyTorch's fused kernel (one kernel per step for all parameters); "
        "auto = on CUDA only")
    channels_last: bool = Field(False, description="keep the networks' weights and activations in channels-last "
                                "memory format (faster convolutions with mixed precision on recent GPUs)")
    compile: bool = Field(False, description="run the model's networks through torch.compile (in place: the same "
                          "parameters and checkpoints; the first steps are slower while it compiles)")
    steps: int | None = Field(None, ge=1, description="training steps (overrides epochs)")
    epochs: int | None = Field(None, ge=1, description="training epochs")
    batch_size: int | None = Field(None, ge=1, description="training batch size (default: the model's)")
    image_size: int | None = Field(None, ge=16, le=2048, description="training and evaluation height in pixels "
                                   "(the width is image_size * aspect_ratio)")
    aspect_ratio: float | None = Field(None, gt=0.125, le=8, description="width / height of the training and "
                                       "evaluation images, SPADE's meaning (default: the dataset's, e.g. "
                                       "cityscapes 2.0: 512x256 at image_size 256)")
    data_root: Path = Field(Path("datasets"), description="where datasets are stored")
    output_root: Path = Field(Path("results"), description="where runs, the store and leaderboards go")
    checkpoint_every: int = Field(250, ge=1, description="steps between checkpoints")
    keep_checkpoints: int = Field(2, ge=1, description="how many recent checkpoints to keep")
    samples: int = Field(4, ge=0, description="sample grids (label | real | fake) saved during training")
    num_workers: int | None = Field(None, ge=0, description="data loader worker processes per training process "
                                    "(default: what the machine can feed, see benchmark.data.loading."
                                    "default_num_workers; 0: the process reads the data itself)")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: one per physical core, "
                                "torch's own default, less one per data loader worker)")
    eval_every: int | None = Field(None, ge=1, description="measure eval_metrics on a fixed subset of the test "
                                   "split every N training steps (and at the last); the curve goes to "
                                   "eval_curve.csv/png in the run folder and into the HTML report")
    eval_metrics: list[str] | None = Field(None, description="the metrics of eval_every (default: the run's first "
                                           "distribution and first segmentation metric: FID and mIoU)")
    eval_images: int = Field(64, ge=2, description="eval_every's subset: the first N images of the test split")
    keep_best: str | None = Field(None, description="with eval_every: keep checkpoints/best.pt, the step best by "
                                  "this metric or column (e.g. fid); the row records which step it was")
    loggers: list[str] = Field(default_factory=list, description="where a training run's losses, metrics and "
                               "sample grids also go, e.g. [\"tensorboard\"] (see `bench list loggers`)")
    skip_bad: bool = Field(False, description="skip unreadable or inconsistent data files (counted in a warning)")
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
            raise ValueError("allowed: auto, cpu, mps, cuda, cuda:N")
        return value


RUN_KEYS = set(RunConfig.model_fields)
#: run keys that do not change what a row trains (paths, evaluation, the row list, and the speed
#: settings whose effect is float rounding): runs that differ only in them share a config hash
NOT_HASHED = {"data_root", "output_root", "eval", "models", "seeds", "fused_optimizer", "channels_last", "loggers",
              "eval_every", "eval_metrics", "eval_images", "keep_best", "compile"}
#: run keys that change nothing of what a row trains either, hashed at a fixed value so that the
#: hashes of runs made before they stopped counting stay the same (``num_workers``: every item is a
#: function of (seed, epoch, index), whichever process reads it)
HASHED_AS = {"num_workers": 0}


#: the two ways to say how long to train: a layer that sets either replaces both of the layers below
LENGTH_KEYS = ("steps", "epochs")


def overlay_run(base: dict, over: dict) -> dict:
    """Run keys of a higher layer over a lower one. Training length is one setting: a layer
    that sets ``steps`` or ``epochs`` drops both from the layers below it (``--epochs 2``
    beats a profile's ``steps``); within one layer ``steps`` beats ``epochs``."""
    if any(over.get(k) is not None for k in LENGTH_KEYS):
        base = {k: v for k, v in base.items() if k not in LENGTH_KEYS}
    return merge(base, over)


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------- errors

def explain(exc: ValidationError, prefix: str, model: type[Options], raw: dict | None = None) -> ConfigError:
    """The first pydantic error as one line naming the key, the value and what is allowed."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    key = f"{prefix}.{loc}" if prefix else loc
    if err["type"] == "extra_forbidden":
        owner = model
        for part in err["loc"][:-1]:
            owner = owner.model_fields[str(part)].annotation
        known = list(getattr(owner, "model_fields", {}))
        guess = closest_first(str(err["loc"][-1]), known)[:3]
        where = f"`bench info {prefix}`" if prefix else "`bench run --help`"
        return ConfigError(f"unknown option '{key}'; did you mean {', '.join(guess)}? (all options: {where})")
    allowed = err["msg"]
    if err["type"] == "missing":
        return ConfigError(f"option '{key}' is required")
    return ConfigError(f"invalid value for '{key}': {err.get('input')!r}: {allowed}")


def validate_run(raw: dict) -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise explain(exc, "", RunConfig) from None


def validate_options(model_cls: type[Options], raw: dict, prefix: str) -> Options:
    try:
        return model_cls.model_validate(raw)
    except ValidationError as exc:
        raise explain(exc, prefix, model_cls) from None


# ---------------------------------------------------------------- resolution

@dataclass
class Layers:
    """The user's sources, already split into run keys and plugin tables."""

    profile_name: str
    run: dict[str, Any]                       # from file + --set + flags (explicit only)
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)   # name or label -> options

    @classmethod
    def from_sources(cls, file_tree: dict, set_tree: dict, flags: dict) -> "Layers":
        run: dict[str, Any] = {}
        plugins: dict[str, dict[str, Any]] = {}
        for tree in (file_tree, set_tree, {k: v for k, v in flags.items() if v is not None}):
            if any(tree.get(k) is not None for k in LENGTH_KEYS):
                run = {k: v for k, v in run.items() if k not in LENGTH_KEYS}
            for key, value in tree.items():
                if key in RUN_KEYS:
                    run[key] = merge(run.get(key, {}), value) if isinstance(value, dict) else value
                elif isinstance(value, dict):
                    plugins[key] = merge(plugins.get(key, {}), value)
                else:
                    guess = closest_first(key, RUN_KEYS)[:3]
                    raise ConfigError(f"unknown option '{key}'; did you mean {', '.join(guess)}? "
                                      f"(plugin options are NAME.KEY, e.g. pix2pix.lambda_l1)")
        if "models" not in run or "dataset" not in run:
            run, plugins = _with_default_run(run, plugins)
        profile = run.get("profile", RunConfig.model_fields["profile"].default)
        return cls(str(profile), run, plugins)

    def run_config(self) -> RunConfig:
        """The run config before any model's profile overrides."""
        profile = self.profile_name
        if profile not in PROFILES:
            raise ConfigError(f"invalid value for 'profile': {profile!r}: allowed: {', '.join(PROFILES)}")
        return validate_run(overlay_run(PROFILE_DEFAULTS[profile], self.run))


def default_run() -> dict[str, Any]:
    """The installed distribution's default run (the ``default_run`` hook); the core has none of its own."""
    from benchmark.registry import plugins as registry

    found = registry.default().manager.hook.default_run()
    if not isinstance(found, dict) or not found.get("models") or not found.get("dataset"):
        raise ConfigError("no models or dataset given and no installed plugin provides a default run; "
                          "pass --models NAME[,NAME+PRESET] and --dataset NAME (see `bench list`)")
    return found


def _with_default_run(run: dict, plugins: dict) -> tuple[dict, dict]:
    """Fill in the default run's models and dataset; its plugin tables come with its models only."""
    defaults = default_run()
    run = {"dataset": defaults["dataset"], **run}
    if "models" not in run:
        run["models"] = list(defaults["models"])
        for name, table in defaults.items():
            if name not in RUN_KEYS and isinstance(table, dict):
                plugins = {**plugins, name: merge(table, plugins.get(name, {}))}
    return run, plugins


@dataclass(frozen=True)
class Row:
    """One leaderboard row: a model with a preset, its options and its run settings (the
    training length resolved: ``steps``, else ``epochs``, and ``batch_size``). Never changed
    once built."""

    label: str
    plugin: Model
    preset: str
    options: Options
    run: RunConfig
    dataset_options: Options | None = None
    #: a checkpoint of another code base that this row evaluates instead of training
    #: (:class:`benchmark.planning.foreign.ForeignWeights`)
    foreign: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "model": self.plugin.name,
            "preset": self.preset,
            "options": self.options.model_dump(mode="json"),
            "run": self.run.model_dump(mode="json"),
            "dataset_options": self.dataset_options.model_dump(mode="json") if self.dataset_options else {},
        }

    def config_hash(self) -> str:
        """Identifies runs that train the same thing (ignores paths and eval settings)."""
        d = self.to_dict()
        d["run"] = {k: HASHED_AS.get(k, v) for k, v in d["run"].items() if k not in NOT_HASHED}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def split_label(token: str, models) -> tuple[str, str | None]:
    """'pix2pix+kl' -> ('pix2pix', 'kl'); 'spade:gaussian-gan' -> ('spade', 'gaussian-gan')."""
    if token in models:
        return token, None
    for name in sorted(models.names(), key=len, reverse=True):
        if token[len(name):len(name) + 1] in (":", "+") and token.startswith(name):
            return name, token[len(name) + 1:]
    raise ConfigError(unknown("model", token, _all_labels(models), "see `bench list models`"))


def _all_labels(models) -> list[str]:
    return [row_label(e.obj, p) for e in models for p in e.obj.presets]


def row_label(plugin: Model, preset: str) -> str:
    return plugin.name if preset == plugin.default_preset else f"{plugin.name}+{preset}"


def resolve_model(token: str, layers: Layers, models, dataset_options: Options | None = None) -> Row:
    name, preset = split_label(token, models)
    plugin: Model = models.get(name)
    preset = preset or plugin.default_preset
    if preset not in plugin.presets:
        rows = [row_label(plugin, p) for p in plugin.presets]
        raise ConfigError(unknown("model row", token, rows, f"see `bench info {name}`"))
    label = row_label(plugin, preset)
    profile = layers.profile_name
    overrides = plugin.profiles.get(profile, {})
    raw_opts = merge(dict(plugin.presets[preset].options), overrides.get("options", {}))
    for key in (name, label, token):
        raw_opts = merge(raw_opts, layers.plugins.get(key, {}))
    for field_name, other in plugin.embeds.items():
        raw_opts[field_name] = merge(embedded_options(other, layers, models), raw_opts.get(field_name, {}))
    options = validate_options(plugin.Options, raw_opts, name)
    run_raw = overlay_run(overlay_run(PROFILE_DEFAULTS.get(profile, {}), overrides.get("run", {})), layers.run)
    run = validate_run(run_raw)
    length = plugin.train_length(options, profile)
    updates: dict[str, Any] = {}
    if run.steps is None and run.epochs is None:
        updates.update(steps=length.steps, epochs=length.epochs)
    elif run.steps is not None:
        updates["epochs"] = None  # steps beat epochs set in the same layer: say which one trains
    if run.batch_size is None:
        updates["batch_size"] = length.batch_size
    run = run.model_copy(update=updates)
    return Row(label, plugin, preset, options, run, dataset_options)


def embedded_options(name: str, layers: Layers, models) -> dict[str, Any]:
    """The raw options of model ``name`` as its own row would get them under its default preset:
    its profile overrides, then the user's ``name`` table (``--set spade.lambda_vgg=0``)."""
    if name not in models:
        raise ConfigError(unknown("model", name, models.names(),
                                  "a model embeds it; install the plugin that provides it"))
    other: Model = models.get(name)
    raw = merge(dict(other.presets[other.default_preset].options),
                other.profiles.get(layers.profile_name, {}).get("options", {}))
    return merge(raw, layers.plugins.get(name, {}))


def check_plugin_tables(layers: Layers, known: set[str]) -> None:
    """A table in the file or --set that names no plugin or row is a typo: say so."""
    for key in layers.plugins:
        if key not in known:
            raise ConfigError(unknown("plugin or model row", key, known,
                                      "plugin options are NAME.KEY=VALUE, e.g. --set pix2pix.lambda_l1=50"))
