"""One SPADE training step: bench's ``spade`` against an independent re-creation of the official code.

    python benchmarks/spade_step_vs_official.py [--sizes 64x4,128x1] [--steps 6] [--threads N]

The official side is ``tests/official_reference/spade.py`` (the module tree the official-checkpoint
tests load, plus the official multi-scale discriminator and ``run_generator_one_step`` /
``run_discriminator_one_step``): hinge GAN loss and feature matching, no VGG loss, no VAE, Adam
with TTUR (lr 1e-4 / 4e-4, betas 0 / 0.9), ngf 32 (``--ngf``), ndf 64, two scales of 4-layer
PatchGANs, SPADE's hidden width 128, 12 label channels. Both start from the same weights: the
official networks are initialised (Xavier, gain 0.02; spectral norm's u and v set to the top
singular vectors, so its one power iteration per forward leaves them where they are in both
implementations), then loaded into bench's generator through the converter that reads official
checkpoints and into its discriminator by name. The same batch goes to both.

Equal math is checked twice. In float64 (copies of both pairs of networks, the same code paths), the
first ``--check`` steps (learning rates 0 there, so that both keep the same weights: with Adam's
beta1 = 0 a first update is lr times the sign of each gradient, and a gradient that is rounding noise
would flip it) must give the same gradient of every parameter of G and D to 1e-9 relative (measured:
about 1e-14) and the same four losses to 1e-6 (bench's step returns them in float32). In float32, the timed networks' losses on those steps must
agree to 1e-4 relative (measured: about 1e-7). Gradients are not compared in float32: one activation
whose input lies within rounding of a LeakyReLU's or the hinge's kink takes the other slope, and
one such pixel in a million moves the whole gradient by about 1e-3 relative (seen at 64 px, batch
4, in either implementation against float64).

Then both train with their learning rates; timed steps alternate between the two in one process; the
table gives the median (and the fastest) seconds per step and the ratio of the medians. bench runs
as a run with the same settings does: by default as the plain run (bit for bit the numbers of its
rows); ``--fused-adam`` (``--set fused_optimizer=on``), ``--channels-last`` (``--set
channels_last=true``) and ``--compile`` (``--set compile=true``; compile time excluded: the warm-up
step after the checks compiles) are the run settings that change only the order of float
operations, outside the config hash.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_plugins.models.spade import Spade  # noqa: E402
from bench_plugins.models.spade.official import convert  # noqa: E402
from benchmark.api import StepContext  # noqa: E402
from benchmark.pipeline.train import fused  # noqa: E402
from tests.official_reference import spade as official  # noqa: E402

CLASSES = 12
TOLERANCE = 1e-4  # float32 losses
TOLERANCE_64 = 1e-9  # float64 gradients
TOLERANCE_64_LOSS = 1e-6  # float64 losses, which bench's step returns in float32


def official_networks(size: int, ngf: int, seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    G = official.OfficialGenerator(CLASSES, ngf=ngf, crop_size=size, hidden=128)
    D = official.OfficialMultiscaleDiscriminator(CLASSES + 3, num_D=2, ndf=64, n_layers=4)
    for net in (G, D):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                weight = m.weight_orig if hasattr(m, "weight_orig") else m.weight
                nn.init.xavier_normal_(weight, gain=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            if hasattr(m, "weight_orig"):  # spectral norm at its fixed point: u, v the top singular pair
                u, _, vh = torch.linalg.svd(m.weight_orig.detach().reshape(m.weight_orig.shape[0], -1), full_matrices=False)
                m.weight_u.copy_(u[:, 0])
                m.weight_v.copy_(vh[0])
    return G.train(), D.train()


def discriminator_key(key: str) -> str:
    """official ``discriminator_i.modelj.[0.]0.X`` -> bench ``discriminators.i.layers.j.0.X``."""
    scale, layer, *rest = key.split(".")
    rest = rest[1:] if rest[:2] == ["0", "0"] else rest
    leaf = ".".join(rest[1:])
    leaf = {"weight_orig": "parametrizations.weight.original", "weight_u": "parametrizations.weight.0._u",
            "weight_v": "parametrizations.weight.0._v"}.get(leaf, leaf)
    return f"discriminators.{scale.split('_')[1]}.layers.{layer[len('model'):]}.0.{leaf}"


def bench_model(size: int, ngf: int, G: nn.Module, D: nn.Module, channels_last: bool, compile_: bool,
                fused_optimizer: str = "auto"):
    plugin = Spade()
    options = plugin.Options(ngf=ngf, ndf=64, spade_hidden=128, num_D=2, n_layers_D=4, lambda_vgg=0.0,
                             use_vae=False, dontcare_channel=False, use_instance_edges=False,
                             num_upsampling_layers="normal")
    model = plugin.build(options, CLASSES, size)
    model.G.load_state_dict(convert(G.state_dict(), model.G.state_dict()))
    d_state = {discriminator_key(k): v for k, v in D.state_dict().items()}
    model.D.load_state_dict(d_state)
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.optimizers = fused(model.configure_optimizers(), fused_optimizer, torch.device("cpu"))
    if compile_:  # as the run setting `compile` does: each network in place
        model.G.compile()
        model.D.compile()
    return model


def batch(n: int, size: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, CLASSES, (n, size // 8, size // 8), generator=g)
    label = label.repeat_interleave(8, 1).repeat_interleave(8, 2)
    onehot = F.one_hot(label, CLASSES).permute(0, 3, 1, 2).float().contiguous()
    return {"label": label, "onehot": onehot, "image": torch.rand(n, 3, size, size, generator=g) * 2 - 1,
            "index": torch.arange(n)}


def set_lr(model, optimizers: list, checking: bool) -> None:
    """Learning rates 0 on the checked steps (the weights stay equal), the configured ones after."""
    for group in [g for opt in optimizers for g in opt.param_groups]:
        group.setdefault("initial_lr", group["lr"])
        group["lr"] = 0.0 if checking else group["initial_lr"]
    model.lr_factor = (lambda progress: 0.0) if checking else type(model).lr_factor.__get__(model)


def adam_pair(G: nn.Module, D: nn.Module) -> list:
    return [torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.0, 0.9)),
            torch.optim.Adam(D.parameters(), lr=4e-4, betas=(0.0, 0.9))]


def loss_difference(theirs: dict, ours: dict) -> float:
    return max(abs(float(ours[k]) - v) / max(abs(v), 1e-8) for k, v in theirs.items())


def check_float64(size: int, n: int, ngf: int, check: int, channels_last: bool) -> tuple[float, float]:
    """(worst loss, worst gradient) relative difference over ``check`` steps, both pairs in float64."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the official step's constants too
    try:
        G, D = official_networks(size, ngf, seed=0)
        G, D = G.double(), D.double()
        model = bench_model(size, ngf, G, D, channels_last, False, fused_optimizer="off").double()
        optimizers = adam_pair(G, D)
        ctx = StepContext(device=torch.device("cpu"), dtype=None, step=0, total_steps=10 ** 6)
        worst = grad_worst = 0.0
        for step in range(check):
            b = {k: v.double() if v.is_floating_point() else v for k, v in batch(n, size, seed=step).items()}
            set_lr(model, optimizers + list(model.optimizers.values()), True)
            theirs = official.official_step(G, D, *optimizers, b["onehot"], b["image"])
            ours = model.train_step(b, ctx)
            worst = max(worst, loss_difference(theirs, ours))
            grad_worst = max(grad_worst, gradient_difference(G, D, model))
        return worst, grad_worst
    finally:
        torch.set_default_dtype(default)


def compare(size: int, n: int, ngf: int, steps: int, check: int, channels_last: bool, compile_: bool,
            fused_adam: bool) -> list:
    worst64, grad64 = check_float64(size, n, ngf, check, channels_last)
    G, D = official_networks(size, ngf, seed=0)
    model = bench_model(size, ngf, G, D, channels_last, compile_, "on" if fused_adam else "off")
    optimizers = adam_pair(G, D)
    ctx = StepContext(device=torch.device("cpu"), dtype=None, step=0, total_steps=10 ** 6)
    worst = 0.0
    times = {"official": [], "bench": []}
    for step in range(check + 1 + steps):
        b = batch(n, size, seed=step)
        checking = step < check
        set_lr(model, optimizers + list(model.optimizers.values()), checking)
        t0 = time.perf_counter()
        theirs = official.official_step(G, D, *optimizers, b["onehot"], b["image"])
        t1 = time.perf_counter()
        ours = {k: float(v) for k, v in model.train_step(b, ctx).items()}
        t2 = time.perf_counter()
        if checking:
            worst = max(worst, loss_difference(theirs, ours))
        elif step > check:  # the step after the checks is a warm-up (and compiles)
            times["official"].append(t1 - t0)
            times["bench"].append(t2 - t1)
    official_s, bench_s = statistics.median(times["official"]), statistics.median(times["bench"])
    same = worst <= TOLERANCE and worst64 <= TOLERANCE_64_LOSS and grad64 <= TOLERANCE_64
    return [f"{size}x{size}", n, ngf, f"{official_s:.3f} ({min(times['official']):.3f})",
            f"{bench_s:.3f} ({min(times['bench']):.3f})", f"{official_s / bench_s:.2f}x",
            f"{worst:.1e}", f"{worst64:.1e}", f"{grad64:.1e}", "ok" if same else "DIFFERENT"]


def gradient_difference(G: nn.Module, D: nn.Module, model) -> float:
    """|bench's gradients - the official ones| / |the official ones|, over all of G's and D's parameters."""
    from bench_plugins.models.spade.official import bench_key

    ours = dict(model.G.named_parameters())
    ours.update({f"D.{k}": v for k, v in model.D.named_parameters()})
    pairs = [(ours[bench_key(k)], p) for k, p in G.named_parameters()]
    pairs += [(ours["D." + discriminator_key(k)], p) for k, p in D.named_parameters()]
    diff = sum(float((a.grad - b.grad).pow(2).sum()) for a, b in pairs if b.grad is not None)
    norm = sum(float(b.grad.pow(2).sum()) for _, b in pairs if b.grad is not None)
    return (diff / max(norm, 1e-30)) ** 0.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="64x4,128x1", help="SIDExBATCH,... (default: 64 px batch 4, 128 px batch 1)")
    ap.add_argument("--steps", type=int, default=6, help="timed steps of each (after the checked ones)")
    ap.add_argument("--check", type=int, default=2, help="first steps whose losses must agree")
    ap.add_argument("--ngf", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's, one per core)")
    ap.add_argument("--channels-last", action="store_true", help="bench in channels-last memory format")
    ap.add_argument("--compile", action="store_true", help="bench's networks through torch.compile")
    ap.add_argument("--fused-adam", action="store_true", help="bench's Adam as PyTorch's fused kernel")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from tabulate import tabulate

    rows = []
    for spec in args.sizes.split(","):
        size, n = (int(v) for v in spec.split("x"))
        rows.append(compare(size, n, args.ngf, args.steps, args.check, args.channels_last, args.compile,
                            args.fused_adam))
        print(tabulate(rows, headers=["size", "batch", "ngf", "official s/step (min)", "bench s/step (min)",
                                      "speed-up", "loss diff fp32", "loss diff fp64", "grad diff fp64",
                                      "equal"]), flush=True)
    settings = [name for name, on in (("fused Adam", args.fused_adam), ("channels-last", args.channels_last),
                                      ("torch.compile", args.compile)) if on]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; bench: "
          f"{', '.join(settings) or 'plain (the default run settings)'}")


if __name__ == "__main__":
    main()
