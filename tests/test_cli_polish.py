"""The small things a newcomer meets first (issue 23): the distribution name and `--version`,
`python -m benchmark`, `bench run --dry-run`, `bench score --real` errors that name `--real`, the
ETA of plain progress lines, and re-measured rows that keep their other metrics."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import numpy as np
from PIL import Image

import benchmark
from benchmark.cli import app as cli
from benchmark.results.records import MetricValue, RunRecord
from benchmark.results.store import ResultsStore
from benchmark.testing import TINY_DATA, one_error_line
from benchmark.util.progress import Reporter, duration
from benchmark.util.version import DISTRIBUTION


def test_the_distribution_has_its_own_name_and_python_m_benchmark_is_bench():
    assert DISTRIBUTION == "sis-bench"
    assert importlib.metadata.version(DISTRIBUTION) == benchmark.__version__
    scripts = importlib.metadata.distribution(DISTRIBUTION).entry_points.select(group="console_scripts")
    assert [(e.name, e.value) for e in scripts] == [("bench", "benchmark.cli:main")]
    done = subprocess.run([sys.executable, "-m", "benchmark", "--version"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == f"bench {benchmark.__version__}", done


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path, capsys):
    code = cli.main(["run", "--models", "pix2pix,pix2pix+kl", "--profile", "smoke", "--steps", "7", "--dry-run",
                     *TINY_DATA, "--data-root", str(tmp_path / "data"), "--output-root", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "rows (2):" in out and "  pix2pix: trains 7 steps" in out and "  pix2pix+kl: trains 7 steps" in out
    assert "beta_kl=0.2" in out and "metrics: " in out and "protocol: every test image" in out
    assert list(tmp_path.iterdir()) == []  # nothing generated, nothing written


def test_score_real_errors_name_real(tmp_path, capsys):
    fake = tmp_path / "fake"
    fake.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(fake / "a.png")
    code = cli.main(["score", "--real", str(tmp_path / "nowhere"), "--fake", str(fake)])
    line = one_error_line(code, capsys.readouterr().err)
    assert f"--real {tmp_path / 'nowhere'}: no such folder; pass the folder of real images" in line, line
    real = tmp_path / "real"
    real.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint16) + 40000).save(real / "a.png")
    code = cli.main(["score", "--real", str(real), "--fake", str(fake), "--metrics", "psnr"])
    line = one_error_line(code, capsys.readouterr().err)
    assert line.startswith(f"error: --real {real / 'a.png'}: a 16-bit single-channel image"), line


def test_plain_progress_lines_say_the_eta(capsys, monkeypatch):
    clock = iter([0.0, 10.0, 40.0])
    monkeypatch.setattr("benchmark.util.progress.time.perf_counter", lambda: next(clock))
    reporter = Reporter()
    reporter.rich = False
    reporter.start("train pix2pix", 40)
    reporter.update(4)   # 4 steps in 10 s: 36 left, 90 s
    reporter.update(40)  # done at 40 s
    err = capsys.readouterr().err.splitlines()
    assert err == ["train pix2pix: 4/40 (10s elapsed, ETA 1m30s)", "train pix2pix: 40/40 (40s elapsed)"]
    assert [duration(s) for s in (5, 65, 7260)] == ["5s", "1m05s", "2h01m"]


def reference(metrics: dict[str, float], created: str, images_sha: str = "x") -> RunRecord:
    return RunRecord(label="real images", model="real-images", preset="reference", dataset="facades",
                     profile="smoke", seed=0, options={}, config={"images_sha256": images_sha},
                     protocol={"images": 8}, versions={}, device="cpu", wall_time_s=1.0, status="ok", reason=None,
                     run_dir="", note="reference",
                     metrics={k: MetricValue(v, "up", {"m": k}) for k, v in metrics.items()}, created=created)


def test_a_row_measured_again_with_fewer_metrics_keeps_the_others(tmp_path):
    store = ResultsStore(tmp_path / "bench.sqlite")
    store.add_run(reference({"FID": 10.0, "mIoU": 0.5, "PSNR": 20.0}, "2024-01-01T00:00:01+00:00"))
    again = store.keep_unmeasured(reference({"FID": 11.0}, "2024-01-01T00:00:02+00:00"))
    store.add_run(again)
    (latest,) = store.latest("facades")
    assert {k: m.value for k, m in latest.metrics.items()} == {"FID": 11.0, "mIoU": 0.5, "PSNR": 20.0}
    other = reference({"FID": 12.0}, "2024-01-01T00:00:03+00:00", images_sha="y")  # other images: nothing kept
    assert list(store.keep_unmeasured(other, same=lambda old: old.config["images_sha256"] == "y").metrics) == ["FID"]
