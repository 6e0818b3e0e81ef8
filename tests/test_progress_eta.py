"""Progress lines carry an ETA, and the Inception feature pass reports its images to the progress display."""

from __future__ import annotations

import numpy as np
import torch
from bench_plugins.metrics.inception import CountingNetwork

from benchmark.util.progress import Reporter


def test_plain_progress_lines_end_with_an_eta(capsys, monkeypatch):
    clock = iter([100.0, 110.0, 110.0, 130.0, 130.0])
    monkeypatch.setattr("benchmark.util.progress.time.perf_counter", lambda: next(clock))
    reporter = Reporter()
    reporter.rich = False
    reporter.start("features", 40)  # t = 100
    reporter.update(10)  # t = 110: 10 images in 10 s, 30 left
    reporter.update(40)  # t = 130: done, no ETA
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["features: 10/40 ETA 30 s", "features: 40/40"]


def test_the_feature_network_counts_the_images_it_sees():
    class Net:
        device = torch.device("cpu")

        def features(self, batch):
            return np.zeros((len(batch), 2048), np.float32)

    class Seen:
        def __init__(self):
            self.done = []

        def update(self, done, info=""):
            self.done.append(done)

    seen = Seen()
    net = CountingNetwork(Net(), seen)
    for n in (4, 4, 2):
        assert net.features(torch.zeros(n, 3, 299, 299)).shape == (n, 2048)
    assert seen.done == [4, 8, 10] and net.device == torch.device("cpu")
