"""Tests of the paint model, written with bench's author kit (benchmark.testing).

Run them with the package installed: ``pip install -e . && pytest tests``.
"""

from __future__ import annotations

from benchmark.testing import TINY_DATA, TINY_TABLES, assert_learned, one_error_line, run_cli, untrained_and_trained


def test_paint_learns_to_colour_the_label_map(tmp_path):
    """Measured (seeds 0 and 1, CPU): PSNR 12.5-12.9 -> 15.8-16.0 dB, SSIM 0.07-0.08 -> 0.55-0.58."""
    settings = {"models": ["paint"], "profile": "smoke", "data_root": tmp_path / "data",
                "output_root": tmp_path / "out", "eval": {"metrics": ["psnr", "ssim"]}}
    before, trained = untrained_and_trained(settings, tmp_path, TINY_TABLES)
    assert trained.status == "ok"
    assert_learned(before, trained.metrics, {"PSNR": 1.5, "SSIM": 0.25})


def test_a_bad_option_is_one_clear_error_line(tmp_path):
    result = run_cli("run", "--models", "paint", "--profile", "smoke", "--set", "paint.depth=0",
                     *TINY_DATA, "--data-root", tmp_path / "data", "--output-root", tmp_path / "out")
    line = one_error_line(result)
    assert "paint.depth" in line
