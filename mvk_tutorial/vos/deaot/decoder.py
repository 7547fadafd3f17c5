"""FPN decoder: propagated 16x tokens + backbone skips -> object logits at stride 4.

Official code: yoxu515/aot-benchmark ``networks/decoders/fpn.py`` (``FPNSegmentationHead``).
Book: ch08, section "Shapes through the network".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.vos.deaot.fused import conv2d


class ConvGN(nn.Module):
    """Conv (with bias, 'same' padding) + GroupNorm(8); keys ``conv``, ``gn``."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, groups: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(in_dim, out_dim, kernel_size, padding=kernel_size // 2)
        self.gn = nn.GroupNorm(groups, out_dim)
        self.fused = True  # False: plain F.conv2d (the official path; switches.py)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fused:
            return self.gn(self.conv(x))
        c = self.conv
        return self.gn(conv2d(x, c.weight, c.bias, 1, c.padding))


class FPNSegmentationHead(nn.Module):
    """x (B, 512, h, w) at stride 16 -> logits (B, out_dim, 4h', 4w') at stride 4.

    Each stage adds a 1x1-adapted backbone map, then ConvGN + ReLU; bilinear upsampling
    between stages. ``num_outputs`` lets the caller compute only the first channels of
    ``conv_out`` (background + the objects that exist).

    Args:
        in_dim: 512 (visual + ID).
        out_dim: max_obj_num + 1 = 11.
        hidden_dim: 256.
        shortcut_dims: channels of the [4x, 8x, 16x, 16x] backbone maps.
        align_corners: as the model config.

    Book: ch08 "Memory-based VOS and DeAOT".
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden_dim: int = 256,
        shortcut_dims: tuple[int, ...] = (24, 32, 96, 1280),
        align_corners: bool = True,
    ):
        super().__init__()
        self.align_corners = align_corners
        self.conv_in = ConvGN(in_dim, hidden_dim, 1)
        self.conv_16x = ConvGN(hidden_dim, hidden_dim, 3)
        self.conv_8x = ConvGN(hidden_dim, hidden_dim // 2, 3)
        self.conv_4x = ConvGN(hidden_dim // 2, hidden_dim // 2, 3)
        self.adapter_16x = nn.Conv2d(shortcut_dims[-2], hidden_dim, 1)
        self.adapter_8x = nn.Conv2d(shortcut_dims[-3], hidden_dim, 1)
        self.adapter_4x = nn.Conv2d(shortcut_dims[-4], hidden_dim // 2, 1)
        self.conv_out = nn.Conv2d(hidden_dim // 2, out_dim, 1)
        # False: adapters and sums as separate ops (the official path; switches.py)
        self.fused = True

    def _add_adapted(self, adapter: nn.Conv2d, skip: torch.Tensor, x: torch.Tensor):
        """adapter(skip) + x, the sum done by the conv's output pass."""
        if not self.fused:
            return adapter(skip) + x
        return conv2d(skip, adapter.weight, adapter.bias, residual=x)

    def _up(self, x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            x, size=like.shape[-2:], mode="bilinear", align_corners=self.align_corners
        )

    def forward(
        self,
        x: torch.Tensor,
        shortcuts: list[torch.Tensor],
        num_outputs: int | None = None,
    ) -> torch.Tensor:
        x4, x8, x16 = shortcuts[0], shortcuts[1], shortcuts[2]
        x = F.relu(self.conv_in(x))  # (B, 256, h, w)
        x = F.relu(self.conv_16x(self._add_adapted(self.adapter_16x, x16, x)))
        x = F.relu(
            self.conv_8x(self._add_adapted(self.adapter_8x, x8, self._up(x, x8)))
        )  # (B, 128, 2h-1, .)
        x = F.relu(
            self.conv_4x(self._add_adapted(self.adapter_4x, x4, self._up(x, x4)))
        )  # (B, 128, 4h-3, .): stride 4
        n = num_outputs or self.conv_out.out_channels
        conv = conv2d if self.fused else F.conv2d
        return conv(x, self.conv_out.weight[:n], self.conv_out.bias[:n])
