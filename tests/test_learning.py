"""pix2pix with the quick profile on synthetic-facades clearly beats the untrained model."""

from __future__ import annotations

from benchmark.config import Layers
from benchmark.progress import Reporter
from benchmark.runner import Benchmark, load_dataset


def test_quick_pix2pix_beats_untrained_on_held_out_psnr_and_ssim(tmp_path):
    flags = {"models": ["pix2pix"], "profile": "quick", "data_root": tmp_path / "data",
             "output_root": tmp_path / "out", "eval": {"metrics": ["psnr", "ssim"]}}
    bench = Benchmark(Layers.from_sources({}, {}, flags), Reporter(quiet=True))
    (mr,) = bench.model_runs
    data = load_dataset(bench.spec, bench.dataset_options, bench.cfg, bench.reporter)
    untrained, _ = bench.build(mr)
    before = bench.evaluate_model(untrained, mr, data, tmp_path / "untrained")
    (trained,) = bench.run()
    after = trained.metrics
    assert trained.status == "ok" and trained.protocol["images"] == 106
    assert after["PSNR"].value > before["PSNR"].value + 2.0, (before, after)
    assert after["SSIM"].value > before["SSIM"].value + 0.25, (before, after)
