"""spade-pis at work: SPADE makes the content photo, PhotoWCT stylizes it, smoothing cleans it up.

Training: ``before_training`` fits PhotoWCT's decoders on the training photos (or takes
them from the cache), then every ``train_step`` is one SPADE step (none when SPADE comes
from an earlier run). Generation: SPADE's output for the label map is the content photo;
each of the ``num_styles`` style photos chosen for the test image stylizes it (label-aware
WCT at relu4_1 ... relu1_1, then smoothing); the first stylization is returned, all of them
feed the measures in ``measures.py``. Sample grids drawn during training, before any style
photo is chosen, show SPADE's output alone.
"""

from __future__ import annotations

from pathlib import Path

import torch
from bench_plugins.models import vgg19
from bench_plugins.models.spade.options import SpadeOptions

from benchmark import BenchError, ConfigError, MetricValue, SetupContext, Size, StepContext, Trainable
from benchmark import load_checkpoint
from benchmark import to_uint8, write_png
from benchmark import RunDir

from .decoders import DecoderTraining, prepare_decoders
from .measures import Tally, colour_distance, diversity
from .options import SpadePisOptions
from .photowct import PhotoWCT
from .smoothing import smooth
from .styles import StylePool, read_style_dir


def spade_source(path_text: str, image_size: int) -> tuple[SpadeOptions | None, dict[str, torch.Tensor], Path]:
    """SPADE's options (None: use the embedded ones) and weights from a run folder or checkpoint file.

    A run folder of ``spade`` or ``spade-pis`` gives its recorded options and its last
    checkpoint; a checkpoint file gives its weights only.
    """
    path = Path(path_text).expanduser()
    options = None
    if path.is_dir():
        try:
            run = RunDir.open(path)
            conf = run.read_plan()
        except BenchError as exc:
            raise ConfigError(f"invalid value for 'spade-pis.spade_run': {exc} (or a spade checkpoint file)") from None
        if conf.get("model") not in ("spade", "spade-pis"):
            raise ConfigError(f"invalid value for 'spade-pis.spade_run': {path} is a run of "
                              f"{conf.get('model')!r}, not of spade; give a spade run folder")
        recorded = conf.get("options", {})
        options = SpadeOptions(**(recorded.get("spade", {}) if conf["model"] == "spade-pis" else recorded))
        size = conf.get("run", {}).get("image_size")
        if size is not None and size != Size.of(image_size).height:
            raise ConfigError(f"invalid value for 'spade-pis.spade_run': {path} was trained at {size} px, this "
                              f"run is at {Size.of(image_size).height} px; set image_size={size}")
        found = run.checkpoints()
        if not found:
            raise ConfigError(f"invalid value for 'spade-pis.spade_run': {path} has no checkpoint; finish that "
                              f"run first (bench run --resume)")
        path = found[-1]
    elif not path.is_file():
        raise ConfigError(f"invalid value for 'spade-pis.spade_run': {path} does not exist; give a spade run "
                          f"folder (results/runs/...) or a checkpoint file")
    state = load_checkpoint(path)["model"]
    if any(k.startswith("spade.") for k in state):  # a spade-pis checkpoint: its SPADE part
        state = {k[len("spade."):]: v for k, v in state.items() if k.startswith("spade.")}
    return options, state, path


class SpadePisTrainable(Trainable):
    """SPADE (trained here or loaded), PhotoWCT's encoder and decoders, and the measures."""

    def __init__(self, options: SpadePisOptions, num_classes: int, image_size: int, spade_plugin):
        super().__init__()
        self.options = options
        self.frozen_spade = bool(options.spade_run)
        spade_options, state = options.spade, None
        if self.frozen_spade:
            loaded, state, self.spade_file = spade_source(options.spade_run, image_size)
            spade_options = loaded or spade_options
        self.spade = spade_plugin.build(spade_options, num_classes, image_size)
        if state is not None:
            missing = self.spade.load_state_dict(state, strict=False)
            if missing.missing_keys:
                raise ConfigError(f"spade-pis.spade_run: {self.spade_file} does not fit SPADE with these options "
                                  f"(missing {missing.missing_keys[:3]}...); give a run folder, whose options are "
                                  f"used, or the matching --set spade.KEY=VALUE")
        # PhotoWCT is built without touching the global random state: the embedded SPADE trains on
        # the same random numbers as a `spade` row of the same run
        with torch.random.fork_rng(devices=[]):
            features = vgg19.load(options.vgg_weights or None, depth="relu4_1")
            self.pwct = PhotoWCT(features, tuple(options.levels))
        self.styles: StylePool | None = None
        self.stems: list[str] = []
        self.tally = Tally()
        self.decoder_record = None
        self.optimizers = {}

    # ------------------------------------------------------------ training

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        self.optimizers = {} if self.frozen_spade else self.spade.configure_optimizers()
        return self.optimizers

    def before_training(self, split, ctx: SetupContext) -> None:
        o = self.options
        training = DecoderTraining(steps=o.decoder_steps, batch_size=o.decoder_batch, lr=o.decoder_lr,
                                   feature_weight=o.decoder_feature_weight, seed=ctx.seed)
        self.decoder_record = prepare_decoders(self.pwct, split.photos, training, ctx.cache_dir, ctx.log)

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, torch.Tensor]:
        if self.frozen_spade:
            return {}
        return self.spade.train_step(batch, ctx)

    # ------------------------------------------------------------ generation

    def before_generation(self, split) -> None:
        o = self.options
        if o.style_dir:
            self.styles = StylePool(read_style_dir(o.style_dir, split.image_size), None, exclude_self=False,
                                    seed=o.style_seed)
        else:
            self.styles = StylePool(split.photos, split.labels, exclude_self=True, seed=o.style_seed)
        self.stems = list(split.stems)
        self.tally = Tally()

    def save(self, index: int, content: torch.Tensor, stylized: list[torch.Tensor], chosen: list[int]) -> None:
        """Write SPADE's photo, the style photos and every stylization of test image ``index``."""
        folder = Path(self.options.save_dir).expanduser()
        stem = self.stems[index]
        write_png(folder / "content" / f"{stem}.png", to_uint8(content * 2 - 1))
        for k, (image, j) in enumerate(zip(stylized, chosen)):
            write_png(folder / "stylized" / f"{stem}_{k}.png", to_uint8(image * 2 - 1))
            write_png(folder / "style" / f"{stem}_{k}.png", self.styles.photos[j].permute(1, 2, 0).numpy())

    def stylize(self, content: torch.Tensor, label: torch.Tensor, style_index: int) -> torch.Tensor:
        """One content photo (1,3,H,W) in [0, 1] with its label map, stylized by one pool photo."""
        o = self.options
        device = content.device
        style = self.styles.photos[style_index].to(device).float()[None] / 255
        labelled = o.label_aware and self.styles.labels is not None
        style_label = self.styles.labels[style_index].to(device).long() if labelled else None
        with self.tally.timed("T_PWCT_MS", 1, device):
            stylized, _ = self.pwct.stylize(content, style, label if labelled else None, style_label,
                                            min_pixels=o.min_region, max_ratio=o.max_region_ratio,
                                            eig_eps=o.eig_eps)
        with self.tally.timed("T_SMOOTH_MS", 1, device):
            out = smooth(stylized, content, o.smoothing, lam=o.smooth_lambda, eps=o.matting_eps,
                         radius=o.guided_radius, guided_eps=o.guided_eps)
        return out[0]

    @torch.no_grad()
    def generate(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        n = batch["label"].shape[0]
        device = batch["label"].device
        with self.tally.timed("T_SPADE_MS", n, device):
            content = self.spade.generate(batch).float()
        if self.styles is None:  # sample grids during training
            return content
        content01 = ((content + 1) / 2).clamp(0, 1)
        outputs = []
        with torch.autocast(device_type=device.type, enabled=False):
            for i in range(n):
                chosen = self.styles.choose(int(batch["index"][i]), self.options.num_styles)
                stylized = [self.stylize(content01[i:i + 1], batch["label"][i], j) for j in chosen]
                first_style = self.styles.photos[chosen[0]].float() / 255
                self.tally.add("STYLE", colour_distance(stylized[0].cpu(), first_style))
                self.tally.add("STYLE_SPADE", colour_distance(content01[i].cpu(), first_style))
                self.tally.add("DIVERSITY", diversity([s.cpu() for s in stylized]))
                outputs.append(stylized[0])
                if self.options.save_dir:
                    self.save(int(batch["index"][i]), content01[i], stylized, chosen)
        return torch.stack(outputs) * 2 - 1

    def generation_metrics(self) -> dict[str, MetricValue]:
        o = self.options
        # what makes two rows' numbers comparable: the same style photos (the method may differ)
        protocol = {"metric": "spade-pis", "styles": o.style_dir or "other test photos",
                    "num_styles": o.num_styles, "style_seed": o.style_seed}
        columns = {"STYLE": "down", "STYLE_SPADE": "none", "DIVERSITY": "none",
                   "T_SPADE_MS": "none", "T_PWCT_MS": "none", "T_SMOOTH_MS": "none"}
        notes = {"DIVERSITY": "needs num_styles >= 2"}
        out = {}
        for column, direction in columns.items():
            value = self.tally.mean(column)
            out[column] = MetricValue(None if value is None else round(value, 6), direction, protocol,
                                      notes.get(column, "") if value is None else "")
        return out
