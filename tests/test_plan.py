"""The plan of a run: one source for training length, JSON that reads back, and checkpoint
problems found before a run folder exists or the dataset loads."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from benchmark.registry import plugins as registry
from benchmark.planning.config import Layers
from benchmark.util.settings_text import parse_set
from benchmark.planning.plan import build_plan, plan_from_run
from benchmark.rundir.layout import RunDir
from benchmark.testing import TINY_DATA, call_cli, one_error_line

PROFILES = ("smoke", "quick", "paper")


def plan_of(profile: str, file_tree=None, sets=(), **flags):
    flags = {"models": ["pix2pix"], "profile": profile, **flags}
    return build_plan(Layers.from_sources(file_tree or {}, parse_set(list(sets)), flags))


def length(plan) -> tuple[int | None, int | None]:
    (row,) = plan.rows
    return row.run.steps, row.run.epochs


@pytest.mark.parametrize("profile", PROFILES)
def test_epochs_and_steps_flags_beat_every_profile(profile):
    profile_length = length(plan_of(profile))
    assert profile_length != (None, None)
    assert length(plan_of(profile, epochs=3)) == (None, 3)  # the profile's steps no longer win
    assert length(plan_of(profile, steps=7)) == (7, None)  # nor the profile's epochs
    # a file sets one, a flag the other: the flag (the higher layer) wins
    assert length(plan_of(profile, {"steps": 11}, epochs=2)) == (None, 2)
    assert length(plan_of(profile, {"epochs": 5}, steps=9)) == (9, None)
    assert length(plan_of(profile, {"epochs": 5}, ["steps=13"])) == (13, None)
    assert length(plan_of(profile, {"epochs": 5})) == (None, 5)
    # other keys keep their layers: the profile's batch size stays unless set
    assert plan_of(profile, epochs=3).rows[0].run.batch_size == plan_of(profile).rows[0].run.batch_size


def test_plan_is_frozen_and_reads_back_from_a_run_folder(tmp_path):
    plan = plan_of("smoke", sets=["pix2pix.ngf=12", "eval.metrics=[\"psnr\", \"ssim\"]", "seed=3"],
                   output_root=tmp_path / "out", data_root=tmp_path / "data")
    with pytest.raises(AttributeError):
        plan.rows = ()  # type: ignore[misc]
    (row,) = plan.rows
    json.dumps(plan.to_dict())  # all of it is JSON
    run = RunDir.create(tmp_path / "out", plan.dataset.name, row.label)
    run.write_plan(plan.row_plan(row))
    again = plan_from_run(run, Layers("smoke", {}, {}))
    (row2,) = again.rows
    assert row2.options == row.options and row2.options.ngf == 12
    assert row2.run == row.run and row2.config_hash() == row.config_hash()
    assert [m.name for m, _ in again.metrics] == ["psnr", "ssim"]
    only_psnr = plan_from_run(run, Layers("smoke", {"eval": {"metrics": ["psnr"]}}, {}))
    assert [m.name for m, _ in only_psnr.metrics] == ["psnr"] and only_psnr.rows[0].options.ngf == 12


def test_quick_profile_with_epochs_trains_that_many_epochs(tmp_path):
    out = tmp_path / "out"
    proc = call_cli("train", "--models", "pix2pix", "--profile", "quick", "--epochs", "2", "--set", "samples=0",
                 "--set", "pix2pix.ngf=4", "--set", "pix2pix.ndf=4", *TINY_DATA,
                 "--data-root", str(tmp_path / "data"), "--output-root", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    (run,) = [RunDir(p) for p in (out / "runs").iterdir()]
    with open(run.losses, newline="") as fh:
        rows = list(csv.DictReader(fh))
    batch = run.read_plan()["run"]["batch_size"]
    assert {int(r["epoch"]) for r in rows} == {0, 1}
    assert len(rows) == 2 * (24 // batch) and run.read_status()["steps"] == len(rows)


def pix2pix_checkpoint(path, ngf: int):
    plugin = registry.default().models.get("pix2pix")
    options = plugin.Options(ngf=ngf, ndf=8)
    torch.save({"step": 1, "model": plugin.build(options, 12, 32).state_dict()}, path)


def test_checkpoint_of_other_widths_or_no_checkpoint_is_one_line_before_anything(tmp_path):
    ckpt = tmp_path / "ngf8.pt"
    pix2pix_checkpoint(ckpt, ngf=8)
    roots = ["--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")]
    run = ["run", "--models", "pix2pix", "--profile", "smoke", "--metrics", "psnr", *roots]
    line = one_error_line(call_cli(*run, "--checkpoint", str(ckpt), "--set", "pix2pix.ngf=16"))
    assert str(ckpt) in line and "pix2pix.ngf (now 16)" in line, line
    assert "[8, " in line and "[16, " in line, line  # file shape and model shape
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    line = one_error_line(call_cli(*run, "--checkpoint", str(text)))
    assert str(text) in line and "not a PyTorch checkpoint" in line and "weights_only" not in line, line
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    assert "empty file" in one_error_line(call_cli(*run, "--checkpoint", str(empty)))
    assert not (tmp_path / "out" / "runs").exists() and not (tmp_path / "data").exists()


def test_resume_of_a_missing_folder_says_no_such_folder(tmp_path):
    line = one_error_line(call_cli("run", "--models", "pix2pix", "--profile", "smoke", "--resume",
                                str(tmp_path / "nowhere"), "--output-root", str(tmp_path / "out"),
                                "--data-root", str(tmp_path / "data")))
    assert "no such folder" in line and "nowhere" in line, line
    assert not (tmp_path / "data").exists()
