"""How generated images become 8-bit: bench rounds, the official SPADE and pix2pix test scripts truncate.

SPADE's ``util/util.py`` ``tensor2im`` (and pix2pix's, without the clip) computes
``(x + 1) / 2.0 * 255.0`` in float32, clips to 0..255 and casts to uint8, which truncates: x = 0
gives 127.5 -> 127, where rounding gives 128. The zoo rows write their images that way and say so
in their run protocol; trained rows keep rounding (their protocol and numbers do not change), and
the "real images" row still joins a zoo row's table.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from bench_plugins.models.zoo import ENTRIES

from benchmark.registry.zoo_entry import validate
from benchmark.report.leaderboard import build_leaderboard
from benchmark.results.records import REFERENCE_LABEL, REFERENCE_MODEL, MetricValue, RunRecord
from benchmark.planning.foreign import TRUNCATED
from benchmark.util.errors import PluginError
from benchmark.util.imageio import to_uint8


def spade_tensor2im(x: torch.Tensor) -> np.ndarray:
    """SPADE util.tensor2im(normalize=True) for a (3,H,W) tensor, written out in numpy."""
    image = (np.transpose(x.detach().cpu().float().numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0
    return np.clip(image, 0, 255).astype(np.uint8)


def test_truncate_is_the_official_scripts_arithmetic_and_round_is_unchanged():
    torch.manual_seed(0)
    x = torch.cat([torch.rand(3, 16, 16) * 2.2 - 1.1, torch.tensor([-1.0, 0.0, 1.0]).view(3, 1, 1).expand(3, 16, 1)], 2)
    assert np.array_equal(to_uint8(x, "truncate"), spade_tensor2im(x))
    assert np.array_equal(to_uint8(x), ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy())
    middle = torch.zeros(3, 1, 1)
    assert to_uint8(middle, "truncate")[0, 0, 0] == 127 and to_uint8(middle)[0, 0, 0] == 128
    ends = torch.tensor([-1.0, 1.0]).view(1, 1, 2).expand(3, 1, 2)
    assert to_uint8(ends, "truncate")[0, :, 0].tolist() == [0, 255] == to_uint8(ends)[0, :, 0].tolist()
    with pytest.raises(ValueError, match="unknown quantization 'floor'"):
        to_uint8(middle, "floor")


def test_the_zoo_entries_use_their_official_scripts_quantization():
    assert {entry.name: entry.quantization for entry in ENTRIES} == {
        "spade@coco-stuff-official": "truncate", "spade@ade20k-official": "truncate",
        "spade@cityscapes-official": "truncate", "pix2pix@facades-official": "truncate",
        # OASIS's results_saver: tens_to_im(x) * 255, astype(np.uint8)
        "oasis@ade20k-official": "truncate", "oasis@cityscapes-official": "truncate",
        "oasis@coco-stuff-official": "truncate",
        "pix2pixhd@cityscapes-official": "truncate"}  # pix2pixHD's util.tensor2im, as pix2pix's
    with pytest.raises(PluginError, match="quantization 'ceil' is not one of round, truncate"):
        validate(dataclasses.replace(ENTRIES[0], quantization="ceil"), "a test")


def row(label: str, model: str, protocol: dict) -> RunRecord:
    return RunRecord(label=label, model=model, preset="default", dataset="ade20k", profile="smoke", seed=0,
                     options={}, config={}, protocol=protocol, versions={}, device="cpu", wall_time_s=1.0,
                     status="ok", reason=None, run_dir="", metrics={"FID": MetricValue(30.0, "down", {"images": 2})})


def test_a_truncated_row_has_its_own_table_and_the_real_images_row_joins_both():
    run = {"dataset": "ade20k", "resolution": 256}
    board = build_leaderboard([row("spade", "spade", run), row("spade@ade20k-official", "spade",
                                                                {**run, "quantization": TRUNCATED}),
                               row(REFERENCE_LABEL, REFERENCE_MODEL, run)])
    assert len(board.tables) == 2
    for table in board.tables:
        assert [r.label for r in table.records][0] == REFERENCE_LABEL and len(table.records) == 2
