"""UperNet-101 of CSAILVision/semantic-segmentation-pytorch, re-created for the tests from that
repository's structure: its synchronized BatchNorm class, its ResNet-101 (deep stem) wrapped as the
encoder, its UPerNet decoder, its evaluation forward, the two ways its evaluation code prepared
photos, and files saved the way its ``train.py`` saves them.

- ``SynchronizedBatchNorm2d`` (``lib/nn/modules/batchnorm.py``): a ``_BatchNorm`` of momentum 0.001
  that registers three more buffers, ``_tmp_running_mean``, ``_tmp_running_var`` and
  ``_running_iter``, which the state dict therefore holds; off a multi-GPU replica (and in eval
  mode) its forward is PyTorch's ``batch_norm``.
- ``train.py``'s ``checkpoint``: ``torch.save(net_encoder.state_dict(), DIR/encoder_epoch_N.pth)`` and
  the same for the decoder, the whole state dicts, no wrapper prefix.
- the evaluation (``eval.py``): ``segmentation_module(feed_dict, segSize=label size)`` for each
  resized photo, the decoder upsampling its logits bilinearly to ``segSize`` and soft-maxing them,
  the scores summed with weight ``1 / len(imgSizes)``.
- photos, before August 2019 (``dataset.py`` then): read by OpenCV (BGR, 0..255), ``cv2.resize``
  (bilinear, half-pixel centres, no antialiasing, result rounded to 8 bits), minus
  (102.9801, 115.9465, 122.7717), deviation 1; today: read by PIL (RGB), ``Image.resize(BILINEAR)``,
  divided by 255, ImageNet mean and deviation.

This file is independent of ``bench_plugins``: it imports nothing from it, so that a wrong reading
in the plugin cannot hide behind shared code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

BGR_MEAN = (102.9801, 115.9465, 122.7717)
RGB_MEAN, RGB_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class SynchronizedBatchNorm2d(_BatchNorm):
    def __init__(self, num_features, eps=1e-5, momentum=0.001, affine=True):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine)
        self._is_parallel = False
        self._moving_average_fraction = 1.0 - momentum
        self.register_buffer("_tmp_running_mean", torch.zeros(self.num_features))
        self.register_buffer("_tmp_running_var", torch.ones(self.num_features))
        self.register_buffer("_running_iter", torch.ones(1))
        self._tmp_running_mean = self.running_mean.clone() * self._running_iter
        self._tmp_running_var = self.running_var.clone() * self._running_iter

    def forward(self, input):
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)


def conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv3x3_bn_relu(cin, cout, stride=1):
    return nn.Sequential(conv3x3(cin, cout, stride), SynchronizedBatchNorm2d(cout), nn.ReLU(inplace=True))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = SynchronizedBatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = SynchronizedBatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = SynchronizedBatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class ResNet(nn.Module):
    """ResNet-101 with the deep stem; ``avgpool`` and ``fc`` (ImageNet) are not taken by the encoder."""

    def __init__(self, layers=(3, 4, 23, 3)):
        super().__init__()
        self.inplanes = 128
        self.conv1, self.bn1, self.relu1 = conv3x3(3, 64, stride=2), SynchronizedBatchNorm2d(64), nn.ReLU(inplace=True)
        self.conv2, self.bn2, self.relu2 = conv3x3(64, 64), SynchronizedBatchNorm2d(64), nn.ReLU(inplace=True)
        self.conv3, self.bn3, self.relu3 = conv3x3(64, 128), SynchronizedBatchNorm2d(128), nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                                       SynchronizedBatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)


class Resnet(nn.Module):
    """The encoder (``models.Resnet``): the ResNet's modules under the same names, its four stages' outputs."""

    def __init__(self, orig):
        super().__init__()
        for name in ("conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "relu3", "maxpool",
                     "layer1", "layer2", "layer3", "layer4"):
            setattr(self, name, getattr(orig, name))

    def forward(self, x, return_feature_maps=False):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.maxpool(self.relu3(self.bn3(self.conv3(x))))
        conv_out = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            conv_out.append(x)
        return conv_out if return_feature_maps else [x]


class UPerNet(nn.Module):
    def __init__(self, num_class=150, fc_dim=2048, use_softmax=True, pool_scales=(1, 2, 3, 6),
                 fpn_inplanes=(256, 512, 1024, 2048), fpn_dim=512):
        super().__init__()
        self.use_softmax = use_softmax
        self.ppm_pooling = nn.ModuleList(nn.AdaptiveAvgPool2d(s) for s in pool_scales)
        self.ppm_conv = nn.ModuleList(nn.Sequential(nn.Conv2d(fc_dim, 512, kernel_size=1, bias=False),
                                                    SynchronizedBatchNorm2d(512), nn.ReLU(inplace=True))
                                      for _ in pool_scales)
        self.ppm_last_conv = conv3x3_bn_relu(fc_dim + len(pool_scales) * 512, fpn_dim, 1)
        self.fpn_in = nn.ModuleList(nn.Sequential(nn.Conv2d(c, fpn_dim, kernel_size=1, bias=False),
                                                  SynchronizedBatchNorm2d(fpn_dim), nn.ReLU(inplace=True))
                                    for c in fpn_inplanes[:-1])
        self.fpn_out = nn.ModuleList(nn.Sequential(conv3x3_bn_relu(fpn_dim, fpn_dim, 1))
                                     for _ in fpn_inplanes[:-1])
        self.conv_last = nn.Sequential(conv3x3_bn_relu(len(fpn_inplanes) * fpn_dim, fpn_dim, 1),
                                       nn.Conv2d(fpn_dim, num_class, kernel_size=1))

    def forward(self, conv_out, segSize=None):
        conv5 = conv_out[-1]
        size = conv5.shape[2:]
        ppm_out = [conv5]
        for pool, conv in zip(self.ppm_pooling, self.ppm_conv):
            ppm_out.append(conv(F.interpolate(pool(conv5), size, mode="bilinear", align_corners=False)))
        f = self.ppm_last_conv(torch.cat(ppm_out, 1))
        fpn_features = [f]
        for i in reversed(range(len(conv_out) - 1)):
            lateral = self.fpn_in[i](conv_out[i])
            f = lateral + F.interpolate(f, size=lateral.shape[2:], mode="bilinear", align_corners=False)
            fpn_features.append(self.fpn_out[i](f))
        fpn_features.reverse()
        out_size = fpn_features[0].shape[2:]
        fusion = [fpn_features[0]] + [F.interpolate(t, out_size, mode="bilinear", align_corners=False)
                                      for t in fpn_features[1:]]
        x = self.conv_last(torch.cat(fusion, 1))
        if self.use_softmax:
            return F.softmax(F.interpolate(x, size=segSize, mode="bilinear", align_corners=False), dim=1)
        return F.log_softmax(x, dim=1)


class SegmentationModule(nn.Module):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, feed_dict, *, segSize):
        return self.decoder(self.encoder(feed_dict["img_data"], return_feature_maps=True), segSize=segSize)


def build(seed: int = 0) -> SegmentationModule:
    """The module tree with random weights and, as after training, BatchNorm statistics and
    bookkeeping buffers that are not their initial values (built on the meta device, then every
    tensor filled here: torch's own initialisation of 85M weights is skipped)."""
    with torch.device("meta"):
        net = SegmentationModule(Resnet(ResNet()), UPerNet())
    net = net.to_empty(device="cpu")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.normal_(0, (1 / m.weight[0].numel()) ** 0.5, generator=g)
                if m.bias is not None:
                    m.bias.normal_(0, 0.1, generator=g)
            if isinstance(m, SynchronizedBatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.num_batches_tracked.fill_(250000)
                m._tmp_running_mean.copy_(torch.randn(n, generator=g))
                m._tmp_running_var.copy_(torch.rand(n, generator=g) + 1)
                m._running_iter.fill_(1234.0)
    return net.eval()


def save_as_train_py(net: SegmentationModule, folder: Path, epoch: int = 50) -> tuple[Path, Path]:
    """``train.py``'s checkpoint: the encoder's and the decoder's whole state dicts."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"encoder_epoch_{epoch}.pth", folder / f"decoder_epoch_{epoch}.pth"
    torch.save(net.encoder.state_dict(), paths[0])
    torch.save(net.decoder.state_dict(), paths[1])
    return paths


def round2nearest_multiple(x: int, p: int) -> int:
    return ((x - 1) // p + 1) * p


def target_size(height: int, width: int, short: int, max_size: int = 1000, padding: int = 32) -> tuple[int, int]:
    scale = min(short / float(min(height, width)), max_size / float(max(height, width)))
    return (round2nearest_multiple(int(height * scale), padding), round2nearest_multiple(int(width * scale), padding))


def opencv_bilinear(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """``cv2.resize(img, (width, height))`` of an (H, W, 3) uint8 image: bilinear at half-pixel centres,
    edges replicated, no antialiasing, rounded to uint8."""
    def axis(n_in, n_out):
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        src = np.clip(src, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, wy = axis(img.shape[0], height)
    x0, x1, wx = axis(img.shape[1], width)
    f = img.astype(np.float64)
    rows = f[y0] * (1 - wy)[:, None, None] + f[y1] * wy[:, None, None]
    out = rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def baseline_input(rgb: np.ndarray, short: int) -> torch.Tensor:
    """The network input of ``dataset.py`` before August 2019 (``cv2.imread`` gives BGR)."""
    bgr = rgb[:, :, ::-1]
    h, w = target_size(*rgb.shape[:2], short)
    img = opencv_bilinear(bgr, h, w).astype(np.float32).transpose(2, 0, 1)
    return (torch.from_numpy(img.copy()) - torch.tensor(BGR_MEAN).view(3, 1, 1))[None]


def today_input(rgb: np.ndarray, short: int) -> torch.Tensor:
    """The network input of today's ``dataset.py`` (PIL, RGB, ImageNet normalisation)."""
    h, w = target_size(*rgb.shape[:2], short)
    img = np.float32(np.array(Image.fromarray(rgb).resize((w, h), Image.BILINEAR))) / 255.0
    x = torch.from_numpy(img.transpose(2, 0, 1).copy())
    return ((x - torch.tensor(RGB_MEAN).view(3, 1, 1)) / torch.tensor(RGB_STD).view(3, 1, 1))[None]


@torch.no_grad()
def evaluate(net: SegmentationModule, rgb: np.ndarray, sizes: list[int], baseline: bool) -> torch.Tensor:
    """``eval.py``'s scores for one (H, W, 3) uint8 photo: (1, 150, H, W) softmax averaged over ``sizes``."""
    seg_size = rgb.shape[:2]
    scores = torch.zeros(1, 150, *seg_size)
    for short in sizes:
        img = baseline_input(rgb, short) if baseline else today_input(rgb, short)
        scores = scores + net({"img_data": img}, segSize=seg_size) / len(sizes)
    return scores
