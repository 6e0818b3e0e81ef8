"""`folder` reads SPADE's sample folders as SPADE reads them: JPEG photos of several aspect ratios
(as in NVlabs/SPADE's ``datasets/coco_stuff``: 640x480, 640x458, portraits) are resized to the
run's size, photos bicubic and labels nearest (SPADE's ``resize`` preprocessing), the protocol says
so, and a card's ``mixed_aspect_ratios = "refuse"`` stops on the odd photo with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from benchmark.testing import one_error_line
from PIL import Image

CARD = "classes = 182\nignore_index = 255\n"
#: (width, height) of the photos: SPADE's COCO samples' ratios, scaled down
SIZES = {"train": [(40, 30), (40, 29), (30, 40), (48, 32)], "val": [(40, 30), (40, 29), (30, 40)]}
STEMS = {"train": ["000000000009", "000000000025", "000000000030", "000000000034"],
         "val": ["000000000139", "000000000285", "000000000632"]}


def cli(*args) -> int:
    """`bench ARGS` in this process (the command's code without a new interpreter)."""
    from benchmark.cli.app import main

    return main([str(a) for a in args])


def spade_coco_folder(root: Path, card: str = CARD) -> Path:
    """SPADE's layout: {train,val}_{img,label,inst}/, JPEG photos, label ids 0..181 and 255,
    instance maps as SPADE's COCO script writes them (8-bit)."""
    rng = np.random.default_rng(0)
    for split, sizes in SIZES.items():
        for k, ((w, h), stem) in enumerate(zip(sizes, STEMS[split])):
            photo = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            label = np.full((h, w), 156, np.uint8)           # sky-other
            label[h // 2:, :] = 123 + k                       # some ground stuff
            label[h // 3:, w // 4:w // 2] = 0                 # a person
            label[0, :3] = 255                                # unlabeled
            instance = label.copy()
            instance[h // 3:, w // 4:w // 2] = k % 2
            for sub, arr, ext in (("img", photo, "jpg"), ("label", label, "png"), ("inst", instance, "png")):
                folder = root / f"{split}_{sub}"
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(arr).save(folder / f"{stem}.{ext}")
    (root / "dataset.toml").write_text(card)
    return root


def test_spade_s_coco_samples_run_spade_and_pix2pix(tmp_path):
    folder = spade_coco_folder(tmp_path / "coco_stuff")
    out = tmp_path / "out"
    # the acceptance command; two steps and one metric keep it fast (all metrics: the same, in minutes)
    assert cli("run", "--models", "spade,pix2pix", "--profile", "smoke", "--set", "spade.lambda_vgg=0",
               "--dataset", "folder", "--set", f"folder.path={folder}", "--data-root", tmp_path / "data",
               "--output-root", out, "--steps", "2", "--metrics", "psnr") == 0
    records = {}
    for path in out.glob("runs/*/record.json"):
        record = json.loads(path.read_text())["record"]
        records[record["label"]] = record
    assert {"spade", "pix2pix"} <= set(records)
    for record in records.values():
        assert record["status"] == "ok"
        assert record["protocol"]["mixed_aspect_ratios"] == (
            "resized: 3 photo sizes, width/height 0.75 to 1.38, each resized to the run's size (aspect not kept), "
            "as SPADE's resize preprocessing")
    assert records["spade"]["options"]["use_instance_edges"] is True
    fakes = list(out.glob("runs/*/images/fake/*.png"))
    assert len(fakes) == 2 * 3 and {Image.open(p).size for p in fakes} == {(32, 32)}
    # the test pairs as SPADE reads them: the decoded JPEG bicubic, the label map nearest, to the run's size
    images = next(out.glob("runs/*-folder-spade/images"))
    for stem in STEMS["val"]:
        with Image.open(folder / "val_img" / f"{stem}.jpg") as im:
            want = np.asarray(im.convert("RGB").resize((32, 32), Image.BICUBIC))
        assert np.array_equal(np.asarray(Image.open(images / "real" / f"{stem}.png").convert("RGB")), want), stem
        with Image.open(folder / "val_label" / f"{stem}.png") as im:
            want = np.asarray(im.resize((32, 32), Image.NEAREST))
        assert np.array_equal(np.asarray(Image.open(images / "label_ids" / f"{stem}.png")), want), stem


def test_verify_says_what_the_protocol_will_record(tmp_path, capsys):
    folder = spade_coco_folder(tmp_path / "coco_stuff")
    assert cli("datasets", "verify", "folder", "--set", f"folder.path={folder}") == 0
    out = capsys.readouterr().out
    assert "OK folder: 4 train, 3 test" in out
    assert "protocol mixed_aspect_ratios: resized: 3 photo sizes, width/height 0.75 to 1.38" in out


def test_refusing_mixed_ratios_is_a_card_setting(tmp_path, capsys):
    folder = spade_coco_folder(tmp_path / "coco_stuff", CARD + 'mixed_aspect_ratios = "refuse"\n')
    line = one_error_line(cli("datasets", "verify", "folder", "--set", f"folder.path={folder}"),
                          capsys.readouterr().err)
    assert f"{STEMS['train'][1]}.jpg" in line and "mixed aspect ratios" in line and "mixed_aspect_ratios" in line


def test_a_wrong_card_setting_is_one_line(tmp_path, capsys):
    folder = spade_coco_folder(tmp_path / "coco_stuff", CARD + 'mixed_aspect_ratios = "crop"\n')
    line = one_error_line(cli("datasets", "verify", "folder", "--set", f"folder.path={folder}"),
                          capsys.readouterr().err)
    assert "dataset.toml" in line and "mixed_aspect_ratios" in line and "refuse" in line


def test_one_ratio_records_nothing_new(tmp_path):
    """A folder of one aspect ratio keeps the protocol it had (its rows rank with earlier ones)."""
    from benchmark import BadFiles
    from benchmark.registry.plugins import default

    folder = spade_coco_folder(tmp_path / "coco_stuff")
    spec = default().datasets.get("folder")
    options = spec.Options(path=folder)
    assert len(spec.load(Path("unused"), "test", options, BadFiles(skip=False))) == 3
    assert set(spec.protocol()) == {"mixed_aspect_ratios"}
    for p in (folder / "val_img").glob("*.jpg"):
        with Image.open(p) as im:
            im.convert("RGB").resize((40, 30)).save(p)
    for sub in ("val_label", "val_inst"):
        for p in (folder / sub).glob("*.png"):
            with Image.open(p) as im:
                im.resize((40, 30), Image.NEAREST).save(p)
    spec.load(Path("unused"), "test", options, BadFiles(skip=False))
    assert spec.protocol() == {}
