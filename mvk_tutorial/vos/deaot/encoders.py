"""DeAOT backbones: MobileNetV2 (output stride 16, dilated last stage) and ResNet-50
up to ``layer3``, with frozen batch norm and aot-benchmark's parameter names.

Each encoder returns four maps ``[x4, x8, x16, x16]`` (strides 4, 8, 16, 16); the last one
is the one that the 1x1 ``encoder_projector`` maps to 256 channels. Swin-B is in ``mvk_tutorial/attention/swin.py``.

Official code: yoxu515/aot-benchmark ``networks/encoders/{mobilenetv2,resnet}.py``.
Book: ch08, section "Shapes through the network".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck
from torchvision.ops import FrozenBatchNorm2d

from mvk_tutorial.attention.swin import swin_base
from mvk_tutorial.vos.deaot.fused import conv2d as fused_conv2d
from mvk_tutorial.vos.deaot.fused import fused_ok
from mvk_tutorial.vos.deaot.mini_encoder import MobileNetV2Mini


def fold_frozen_bn(
    conv: nn.Conv2d, bn: FrozenBatchNorm2d
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights and bias of one conv equal to conv followed by frozen BN.

    BN(conv(x)) = s * (W * x) + (beta - mu * s) with s = gamma / sqrt(var + eps), so the
    scale folds into the conv weights: one pass over the feature map instead of three.
    Book: ch08 "Memory-based VOS and DeAOT".
    """
    scale = bn.weight * (bn.running_var + bn.eps).rsqrt()  # (C_out,)
    return conv.weight * scale.view(-1, 1, 1, 1), bn.bias - bn.running_mean * scale


def _folded(conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``fold_frozen_bn`` as channels-last weights, cached on the conv while no tensor
    involved changed (same storage, same version counter) and no gradient is needed."""
    tensors = (conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var)
    no_cache = any(t.is_inference() for t in tensors)  # no version counter to check
    if no_cache or (torch.is_grad_enabled() and conv.weight.requires_grad):
        w, b = fold_frozen_bn(conv, bn)
        return w.to(memory_format=torch.channels_last), b
    key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)
    cached = getattr(conv, "_mvk_folded", None)
    if cached is None or cached[0] != key:
        with torch.no_grad():
            w, b = fold_frozen_bn(conv, bn)
            w = w.to(memory_format=torch.channels_last)  # keeps activations channels-last
        cached = (key, w, b)
        object.__setattr__(conv, "_mvk_folded", cached)  # not a parameter or buffer
    return cached[1], cached[2]


def conv_bn(
    x: torch.Tensor,
    conv: nn.Conv2d,
    bn: FrozenBatchNorm2d,
    act: str | None = None,
    residual: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv -> frozen BN [-> + residual] [-> act] computed as a single conv with folded
    weights (``fused.conv2d``: one pass over the output at inference on a CPU)."""
    w, b = _folded(conv, bn)
    return fused_conv2d(
        x, w, b, conv.stride, conv.padding, conv.dilation, conv.groups, act, residual
    )


class ConvBNReLU(nn.Sequential):
    """Conv (no bias) + frozen BN + ReLU6; keys ``0.weight``, ``1.{weight,bias,...}``.

    The forward folds the BN into the conv (same result up to float rounding).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
    ):
        padding = (kernel_size - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(
                in_ch,
                out_ch,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=False,
            ),
            FrozenBatchNorm2d(out_ch),
            nn.ReLU6(inplace=True),
        )
        self.fold_bn = True  # False: conv, then BN, then ReLU6 (as the official code)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fold_bn:
            return super().forward(x)
        return conv_bn(x, self[0], self[1], "relu6")


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise (maybe dilated), 1x1 linear project."""

    def __init__(
        self, in_ch: int, out_ch: int, stride: int, dilation: int, expand_ratio: int
    ):
        super().__init__()
        hidden = int(round(in_ch * expand_ratio))
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(in_ch, hidden, kernel_size=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, dilation=dilation, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, 1, 0, bias=False),
            FrozenBatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)
        self.fold_bn = True  # False: the projection's BN runs unfused (official order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fold_bn:
            if _strips_pay(self, x):
                return strip_mined(self, x)
            y = x
            for layer in self.conv[:-2]:
                y = layer(y)
            # linear bottleneck, BN folded, residual summed in the same pass
            res = x if self.use_res_connect else None
            return conv_bn(y, self.conv[-2], self.conv[-1], residual=res)
        y = self.conv(x)
        return x + y if self.use_res_connect else y


# bytes of the expanded map of one strip (measured on a 2-core AMD EPYC, 1 MiB of L2
# and 32 MiB of L3 per socket: 1 MiB strips lose to the per-call overhead, 4-8 MiB win)
STRIP_BYTES = 1 << 22


def _strips_pay(block: InvertedResidual, x: torch.Tensor) -> bool:
    """Strip-mine the stride-2 blocks whose expanded map is large (MobileNetV2's
    ``features.2`` and ``features.4`` at 481x849: 39 and 15 MB), at inference on float32
    CPU tensors (the oneDNN path). Only there it paid in measurements: the expanded map
    is read at stride 2 and, whole, costs a fresh allocation's page faults; the
    stride-1 blocks ran as fast or slower in strips."""
    if len(block.conv) != 4 or block.conv[-3][0].stride[0] != 2:
        return False  # no expansion (features.1) or stride 1
    dw = block.conv[-3][0]
    hidden_bytes = x.shape[0] * dw.in_channels * x.shape[2] * x.shape[3] * 4
    return hidden_bytes > 2 * STRIP_BYTES and fused_ok(x, dw.weight)


def strip_mined(block: InvertedResidual, x: torch.Tensor) -> torch.Tensor:
    """The block computed in strips of output rows, so that each strip's expanded
    (6x wider) map is written and read back while it is still in cache.

    The 1x1 expansion is row-local; the 3x3 depthwise conv of output rows
    ``[o0, o1)`` needs expanded rows ``[o0 * s - p, (o1 - 1) * s + p]``: those that fall
    outside the image are the conv's zero padding, added here as zero rows. Each output
    pixel is computed by the same operations as in the whole-map path, so the result is
    the same. x: (B, C, H, W) channels-last -> (B, C_out, H_out, W_out).

    Book: ch08, section "Where the remaining time goes".
    """
    layers = list(block.conv[:-2])
    expand = layers[0] if len(layers) == 2 else None
    dw = layers[-1][0]
    s, p = dw.stride[0], dw.padding[0]
    B, _, H, W = x.shape
    Ho = (H + 2 * p - dw.dilation[0] * 2 - 1) // s + 1
    Wo = (W + 2 * p - dw.dilation[0] * 2 - 1) // s + 1
    row_bytes = B * dw.in_channels * W * 4
    rows = max(1, (STRIP_BYTES // row_bytes - 2 * p - 1) // s + 1)  # output rows
    out_ch = block.conv[-2].out_channels
    out = torch.empty(
        B, out_ch, Ho, Wo, dtype=x.dtype, memory_format=torch.channels_last
    )
    w, b = _folded(dw, layers[-1][1])
    for o0 in range(0, Ho, rows):
        o1 = min(Ho, o0 + rows)
        a0, a1 = o0 * s - p, (o1 - 1) * s + p + 1  # expanded rows needed
        y = x[:, :, max(0, a0) : min(H, a1)]
        if expand is not None:
            y = expand(y)  # 1x1 conv + BN + ReLU6, row-local
        if a0 < 0 or a1 > H:  # the conv's zero padding of the expanded map
            y = F.pad(y, (0, 0, max(0, -a0), max(0, a1 - H)))
            y = y.contiguous(memory_format=torch.channels_last)
        y = fused_conv2d(y, w, b, dw.stride, (0, p), dw.dilation, dw.groups, "relu6")
        res = x[:, :, o0:o1] if block.use_res_connect else None
        out[:, :, o0:o1] = conv_bn(y, block.conv[-2], block.conv[-1], residual=res)
    return out


class MobileNetV2(nn.Module):
    """MobileNetV2 (torchvision layout ``features.0..18``) at output stride 16.

    Once the stride reaches 16, later stages keep stride 1 and multiply the dilation
    instead: the first 160-channel block keeps dilation 1, the later 160-blocks and the
    320-block use dilation 2. Book: ch08 "Memory-based VOS and DeAOT".
    """

    # t (expansion), c (channels), n (blocks), s (stride)
    SETTING = [
        [1, 16, 1, 1],
        [6, 24, 2, 2],
        [6, 32, 3, 2],
        [6, 64, 4, 2],
        [6, 96, 3, 1],
        [6, 160, 3, 2],
        [6, 320, 1, 1],
    ]

    def __init__(self, output_stride: int = 16):
        super().__init__()
        in_ch, current_stride, dilation = 32, 2, 1
        features: list[nn.Module] = [ConvBNReLU(3, in_ch, stride=2)]
        for t, c, n, s in self.SETTING:
            previous_dilation = dilation
            if current_stride == output_stride:
                stride, dilation = 1, dilation * s
            else:
                stride, current_stride = s, current_stride * s
            for i in range(n):
                if i == 0:
                    features.append(
                        InvertedResidual(in_ch, c, stride, previous_dilation, t)
                    )
                else:
                    features.append(InvertedResidual(in_ch, c, 1, dilation, t))
                in_ch = c
        features.append(ConvBNReLU(in_ch, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        xs = []
        for lo, hi in ((0, 4), (4, 7), (7, 14), (14, 19)):
            for i in range(lo, hi):
                x = self.features[i](x)
            xs.append(x)  # strides 4, 8, 16, 16; channels 24, 32, 96, 1280
        return xs


class ResNet50(nn.Module):
    """ResNet-50 stem + ``layer1..3`` (torchvision bottlenecks, frozen BN, no ``layer4``).

    Outputs layer1 (256 ch, stride 4), layer2 (512, 8), layer3 (1024, 16) and layer3 again.
    Book: ch08 "Memory-based VOS and DeAOT".
    """

    def __init__(self):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = FrozenBatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 3, stride=1)
        self.layer2 = self._make_layer(128, 4, stride=2)
        self.layer3 = self._make_layer(256, 6, stride=2)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                FrozenBatchNorm2d(planes * 4),
            )
        layers = [
            Bottleneck(
                self.inplanes, planes, stride, downsample, norm_layer=FrozenBatchNorm2d
            )
        ]
        self.inplanes = planes * 4
        layers += [
            Bottleneck(self.inplanes, planes, norm_layer=FrozenBatchNorm2d)
            for _ in range(1, blocks)
        ]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x4 = self.layer1(x)
        x8 = self.layer2(x4)
        x16 = self.layer3(x8)
        return [x4, x8, x16, x16]


def build_encoder(name: str) -> nn.Module:
    """Build the backbone called ``name`` (``mobilenetv2``, ``resnet50``, ``swin_base``).

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    if name == "mobilenetv2":
        return MobileNetV2(output_stride=16)
    if name == "resnet50":
        return ResNet50()
    if name == "mobilenetv2-mini":  # deaot-mini, trained from scratch (mini_encoder.py)

        return MobileNetV2Mini()
    if name == "swin_base":
        return swin_base()
    raise ValueError(
        f"unknown encoder {name!r}; expected mobilenetv2, resnet50 or swin_base"
    )
