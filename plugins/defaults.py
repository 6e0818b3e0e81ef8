"""The distribution's own defaults: what a plain ``bench run`` compares.

The core names no plugin; this built-in package answers its ``default_run`` hook
(registered through the ``bench`` entry-point group like every other plugin). The
comparison the project exists for: SPADE against pix2pix and pix2pix with source
004's KL term, on the generated synthetic facades (nothing to download), at the
quick profile. Where the VGG19 file is absent the SPADE row trains without its VGG
loss and its note says "no VGG loss" (``spade.vgg_if_missing=skip``); every other
run that names spade still stops with the command that imports the file.
"""

from __future__ import annotations

from benchmark import hookimpl

MODELS = ["spade", "pix2pix", "pix2pix+kl"]
DATASET = "synthetic-facades"


@hookimpl
def default_run():
    return {"models": list(MODELS), "dataset": DATASET, "spade": {"vgg_if_missing": "skip"}}
