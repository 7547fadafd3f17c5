"""A MobileNetV2-style backbone small enough to train from scratch on a CPU.

DeAOT-T starts from an ImageNet-trained MobileNetV2 with frozen batch norm. The
``deaot-mini`` configuration is trained from scratch on MVK-mini, so its backbone keeps
the MobileNetV2 design (inverted residual blocks, depthwise 3x3 convs, linear
bottlenecks, output stride 16 reached by dilating the last stage) with far fewer
channels and blocks, and GroupNorm instead of frozen batch norm: the statistics of a
backbone trained from scratch are not known in advance, and GroupNorm does not depend on
the batch, so one process with batch 2B computes the same as two processes with batch B.

It returns the four maps DeAOT expects, ``[x4, x8, x16, x16']`` (strides 4, 8, 16, 16),
the last one being the widest, which the model's ``encoder_projector`` maps to the
embedding width. Keys follow the torchvision layout ``features.N...``.

Book: ch08, section "Training DeAOT on MVK-mini".
"""

from __future__ import annotations

import torch
from torch import nn


def _gn(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, ch // 4) or 1, ch)


class ConvGNReLU(nn.Sequential):
    """Conv (no bias) + GroupNorm + ReLU6; keys ``0.weight``, ``1.{weight,bias}``.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    def __init__(self, in_ch, out_ch, kernel_size=3, stride=1, groups=1, dilation=1):
        padding = (kernel_size - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(
                in_ch, out_ch, kernel_size, stride, padding, dilation, groups, bias=False
            ),
            _gn(out_ch),
            nn.ReLU6(inplace=True),
        )


class InvertedResidualGN(nn.Module):
    """MobileNetV2 block with GroupNorm: 1x1 expand, 3x3 depthwise, 1x1 linear project.

    Book: ch08, section "Training DeAOT on MVK-mini".
    """

    def __init__(self, in_ch, out_ch, stride, dilation, expand_ratio):
        super().__init__()
        hidden = in_ch * expand_ratio
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvGNReLU(in_ch, hidden, kernel_size=1))
        layers += [
            ConvGNReLU(hidden, hidden, stride=stride, dilation=dilation, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            _gn(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return x + y if self.use_res_connect else y


class MobileNetV2Mini(nn.Module):
    """MobileNetV2-style encoder for ``deaot-mini`` (about 0.1M parameters).

    Stages end at strides 4, 8 and 16 (channels ``dims[0..2]``); the last stage keeps
    stride 16 with dilation 2 (as DeAOT's MobileNetV2) and ends with a 1x1 conv to
    ``dims[3]`` channels. Book: ch08, section "Training DeAOT on MVK-mini".
    """

    def __init__(self, dims: tuple[int, int, int, int] = (16, 24, 48, 128)):
        super().__init__()
        c4, c8, c16, c_out = dims
        # (expansion, channels, blocks, stride, dilation) per stage
        setting = [
            (1, 8, 1, 1, 1),
            (4, c4, 2, 2, 1),  # -> stride 4
            (4, c8, 2, 2, 1),  # -> stride 8
            (4, c16, 2, 2, 1),  # -> stride 16
            (4, c16 * 4 // 3, 2, 1, 2),  # dilated, still stride 16
        ]
        features: list[nn.Module] = [ConvGNReLU(3, 16, stride=2)]
        in_ch = 16
        self.stage_ends: list[int] = []
        for t, c, n, s, d in setting:
            for i in range(n):
                features.append(InvertedResidualGN(in_ch, c, s if i == 0 else 1, d, t))
                in_ch = c
            self.stage_ends.append(len(features))
        features.append(ConvGNReLU(in_ch, c_out, kernel_size=1))
        self.features = nn.Sequential(*features)
        # outputs after stages 2 (x4), 3 (x8), 4 (x16) and after the last conv (x16')
        self.out_at = (self.stage_ends[1], self.stage_ends[2], self.stage_ends[3])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        xs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i + 1 in self.out_at:
                xs.append(x)
        xs.append(x)  # (B, dims[3], H/16, W/16)
        return xs
