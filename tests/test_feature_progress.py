"""The Inception feature pass reports its images to the progress display (whose lines carry the ETA)."""

from __future__ import annotations

import numpy as np
import torch
from bench_plugins.metrics.inception import CountingNetwork


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
