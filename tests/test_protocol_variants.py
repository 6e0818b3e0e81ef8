"""The scoring protocol options of ``miou`` and ``fid``: each moves the value in the hand-computed
direction, is recorded in the protocol, and a bad value is one line.

mIoU: an 8x8 label map, left half id 2 and right half id 20, is brought to 4x4. PIL nearest
gives columns [2, 2, 20, 20]; PIL bilinear (antialiased triangle of half-width 2 input pixels
when halving) averages the ids of the input columns around each output centre (1, 3, 5, 7):
column 1 sees ids 2, 2, 2, 20 with weights 1, 3, 3, 1 -> 4.25 -> 4, column 2 sees 2, 20, 20, 20
-> 17.75 -> 18. So 8 of the 16 pixels differ, and against a segmenter that predicts the
nearest map exactly, accuracy falls from 1 to 1/2 and mIoU from 1 to (1/2 + 1/2 + 0 + 0) / 4.

FID: the implementation variants are checked against clean-fid's own functions on two folders
of four 48 px images (features to 1e-6 relative), and TensorFlow 1's bilinear rule is written
out in numpy.
"""

from __future__ import annotations

from pathlib import Path

import cleanfid.fid
import numpy as np
import pytest
import torch
from bench_plugins.datasets.synthetic_render import render_facade
from bench_plugins.metrics import fid_variants, inception, inception_weights, miou_protocol
from bench_plugins.metrics.fid_variants import Variant
from bench_plugins.metrics.miou import MIoU
from bench_plugins.segmenters.scores import scores
from PIL import Image

from benchmark import Segmenter, SegmenterModel
from benchmark.cli import app as cli
from benchmark.api import EvalContext, ResolvedSegmenter
from benchmark.util.errors import BenchError, WeightsError
from benchmark.util.imageio import write_png
from benchmark.testing import TINY_DATA, one_error_line

CPU = torch.device("cpu")
LEFT, RIGHT = 2, 20


def halves(height: int, width: int) -> np.ndarray:
    label = np.full((height, width), RIGHT, dtype=np.uint8)
    label[:, : width // 2] = LEFT
    return label


class HalvesModel(SegmenterModel):
    """Predicts LEFT on the left half and RIGHT on the right half at whatever size it is given."""

    protocol = {"segmenter": "halves (test stub)"}

    def __init__(self):
        self.sizes = []

    def predict(self, images):
        self.sizes.append(tuple(images.shape[-2:]))
        return torch.from_numpy(halves(*images.shape[-2:]).astype("int64")).expand(images.shape[0], -1, -1)


class Halves(Segmenter):
    name = "halves-test"

    def __init__(self):
        self.model = HalvesModel()

    def load(self, ctx, options):
        return self.model


def label_context(tmp_path: Path, native: np.ndarray, evaluation: np.ndarray, ignore=None) -> EvalContext:
    for folder in ("fake", "labels", "native"):
        (tmp_path / folder).mkdir(exist_ok=True)
    write_png(tmp_path / "fake" / "0.png", np.zeros((*evaluation.shape, 3), dtype=np.uint8))
    write_png(tmp_path / "labels" / "0.png", evaluation)
    write_png(tmp_path / "native" / "0.png", native)
    return EvalContext(fake_dir=tmp_path / "fake", real_dir=tmp_path / "fake", label_dir=tmp_path / "labels",
                       class_names=[str(i) for i in range(21)], ignore_index=ignore, device=CPU,
                       cache_dir=tmp_path / "cache", reference=True, native_label_dir=tmp_path / "native",
                       segmenter=ResolvedSegmenter(Halves(), Halves.Options()))


def test_nearest_and_bilinear_label_maps_differ_in_the_hand_computed_pixels():
    native = halves(8, 8)
    assert miou_protocol.resize_label(native, 4, 4, "nearest").tolist() == [[2, 2, 20, 20]] * 4
    assert miou_protocol.resize_label(native, 4, 4, "bilinear").tolist() == [[2, 4, 18, 20]] * 4


def test_label_resize_moves_accuracy_and_miou_as_computed_by_hand(tmp_path):
    ctx = label_context(tmp_path, halves(8, 8), halves(4, 4))
    nearest = MIoU().compute(ctx, MIoU.Options(label_resize="nearest"))
    bilinear = MIoU().compute(ctx, MIoU.Options(label_resize="bilinear"))
    assert nearest.values == {"mIoU": 1.0, "pixel acc": 1.0}
    assert bilinear.values == {"mIoU": 0.25, "pixel acc": 0.5}
    assert (nearest.protocol["label_resize"], bilinear.protocol["label_resize"]) == ("nearest", "bilinear")
    # scored at the dataset's resolution, the images are upsampled to the 8x8 map: no resize, no loss
    native = MIoU().compute(ctx, MIoU.Options(label_resize="bilinear", score_at="dataset"))
    assert native.values == {"mIoU": 1.0, "pixel acc": 1.0} and ctx.segmenter.segmenter.model.sizes[-1] == (8, 8)
    assert native.protocol["score_at"] == "dataset"


def test_dontcare_pixels_lower_only_the_accuracy(tmp_path):
    cm = torch.tensor([[3, 1], [0, 2]])
    assert scores(cm)["pixel_accuracy"] == 5 / 6 and scores(cm, uncounted=2)["pixel_accuracy"] == 5 / 8
    assert scores(cm)["miou"] == scores(cm, uncounted=2)["miou"] == (3 / 4 + 2 / 3) / 2
    label = halves(4, 4)
    label[0, :2] = 255  # two dontcare pixels of 16
    ctx = label_context(tmp_path, label, label, ignore=255)
    without = MIoU().compute(ctx, MIoU.Options(count_dontcare=False))
    counted = MIoU().compute(ctx, MIoU.Options(count_dontcare=True))
    assert without.values == {"mIoU": 1.0, "pixel acc": 1.0}
    assert counted.values == {"mIoU": 1.0, "pixel acc": 14 / 16}
    assert (without.protocol["count_dontcare"], counted.protocol["count_dontcare"]) == (False, True)


def test_defaults_are_the_published_settings_and_bench_s_otherwise(tmp_path):
    assert miou_protocol.settings(None, "drn-d-105") == {"label_resize": "bilinear", "count_dontcare": True,
                                                         "score_at": "evaluation"}
    for name in ("upernet-101", "deeplabv2-cocostuff", "trained"):
        assert miou_protocol.settings(MIoU.Options(), name) == miou_protocol.BENCH
    assert miou_protocol.settings(MIoU.Options(count_dontcare=False), "drn-d-105")["count_dontcare"] is False
    # without the dataset's label maps (scoring folders), the maps given are scored as they are
    ctx = label_context(tmp_path, halves(8, 8), halves(4, 4))
    ctx.native_label_dir = None
    given = MIoU().compute(ctx, MIoU.Options(label_resize="bilinear"))
    assert given.values["pixel acc"] == 1.0 and given.protocol["label_resize"] == miou_protocol.AS_GIVEN
    with pytest.raises(BenchError, match="score_at=dataset needs the dataset's own label maps"):
        MIoU().compute(ctx, MIoU.Options(score_at="dataset"))


@pytest.mark.parametrize("setting", ["miou.label_resize=bicubic", "miou.count_dontcare=maybe", "miou.average=macro",
                                     "fid.implementation=legacy-pytorch", "fid.implementation=pytorch-fid-2020",
                                     "fid.resolution=3"])
def test_a_bad_option_is_one_line(setting, tmp_path, capsys):
    code = cli.main(["run", "--profile", "smoke", "--models", "pix2pix", "--metrics", "miou,fid", *TINY_DATA,
                     "--set", setting, "--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")])
    line = one_error_line(code, capsys.readouterr().err)
    assert line.startswith(f"error: invalid value for '{setting.split('=')[0]}'"), line
    assert not (tmp_path / "out" / "runs").exists()


# --------------------------------------------------------------------------- FID


def tf1_reference(image: np.ndarray, side: int) -> np.ndarray:
    """TensorFlow 1's resize_bilinear (align_corners=False) of a (C,H,W) array, written out."""
    c, h, w = image.shape
    out = np.zeros((c, side, side))
    for i in range(side):
        y = i * h / side
        y0, fy = int(np.floor(y)), y - np.floor(y)
        y1 = min(y0 + 1, h - 1)
        for j in range(side):
            x = j * w / side
            x0, fx = int(np.floor(x)), x - np.floor(x)
            x1 = min(x0 + 1, w - 1)
            top = image[:, y0, x0] * (1 - fx) + image[:, y0, x1] * fx
            bottom = image[:, y1, x0] * (1 - fx) + image[:, y1, x1] * fx
            out[:, i, j] = top * (1 - fy) + bottom * fy
    return out


def test_tf1_bilinear_is_tensorflow_1s_rule():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (3, 13, 17))
    ours = fid_variants.tf1_bilinear(torch.from_numpy(image)[None], side=31)[0].numpy()
    np.testing.assert_allclose(ours, tf1_reference(image, 31), rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("fidvariants")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_WEIGHTS_DIR", str(root / "weights"))
        try:
            w = inception_weights.find(download=False)
        except WeightsError as exc:
            pytest.skip(f"no Inception file here: {exc}")
        for name, seeds in (("a", range(4)), ("b", range(50, 54))):
            for seed in seeds:
                write_png(root / name / f"{seed:03d}.png", render_facade(seed, 48)[0])
        yield {"root": root, "w": w}


def cleanfid_features(folder: Path, mode: str, model) -> np.ndarray:
    return cleanfid.fid.get_folder_features(str(folder), model, num_workers=0, batch_size=4,
                                            device=CPU, mode=mode, verbose=False)


def close(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.shape == reference.shape
    assert np.abs(ours - reference).max() <= 1e-6 * np.abs(reference).max()


def bench_features(env, folder: Path, variant: Variant) -> np.ndarray:
    return inception.folder_features(folder, cache_dir=env["root"] / "cache", device=CPU, batch_size=4, w=env["w"],
                                     variant=variant).features


def test_legacy_tensorflow_reads_images_as_clean_fid_does_and_resizes_by_the_tf1_rule(folders):
    """clean-fid's legacy_tensorflow pipeline (its image reading, no resize outside the network)
    with the network given the TF-1 resize; with the official file, clean-fid's own network."""
    env = folders
    net = inception.network(env["w"], CPU)
    if env["w"].has_logits:
        from cleanfid.inception_torchscript import InceptionV3W
        model = InceptionV3W(str(env["w"].path.parent), download=False, resize_inside=True).eval()
    else:
        def model(x):
            return net.layers((fid_variants.tf1_bilinear(x) - 128) / 128).reshape(x.shape[0], -1)
    with torch.inference_mode():
        reference = cleanfid_features(env["root"] / "a", "legacy_tensorflow", model)
    ours = bench_features(env, env["root"] / "a", Variant("legacy-tensorflow"))
    close(ours, reference)
    clean = bench_features(env, env["root"] / "a", Variant())
    assert np.abs(clean - ours).max() > 1e-3 * np.abs(clean).max()  # a different protocol, different features


def test_resolution_equals_clean_fid_on_folders_resized_first(folders, tmp_path):
    env = folders
    for image in sorted((env["root"] / "b").glob("*.png")):
        with Image.open(image) as im:
            im.convert("RGB").resize((96, 96), Image.BICUBIC).save(tmp_path / image.name)
    extractor = inception.cleanfid_feature_function(env["w"])
    with torch.inference_mode():
        reference = cleanfid_features(tmp_path, "clean", extractor)
    close(bench_features(env, env["root"] / "b", Variant(resolution=96)), reference)
    assert Variant(resolution=96).protocol() == {"implementation": "clean",
                                                 "images_resized_to": "96 px high (PIL bicubic)"}


def test_variants_have_their_own_cache_entries(folders):
    env = folders
    files = inception.image_files(env["root"] / "a")
    keys = {inception.content_key(env["root"] / "a", files, env["w"], v)
            for v in (None, Variant(), Variant("legacy-tensorflow"), Variant(resolution=96))}
    assert len(keys) == 3  # None and the default variant share the clean key
