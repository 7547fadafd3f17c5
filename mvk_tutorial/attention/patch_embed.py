"""Patch embedding: an image becomes a sequence of tokens.

Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021, arXiv:2010.11929,
Sec. 3.1: "we reshape the image x in R^{H x W x C} into a sequence of flattened 2D
patches x_p in R^{N x (P^2 C)} ... N = HW / P^2 ... [and] map to D dimensions with a
trainable linear projection". A convolution with kernel = stride = P is exactly that
linear map applied to every patch (the tests check it against einops + a matmul).

Book: ch02 "Patches to tokens".
"""

from __future__ import annotations

from torch import Tensor, nn


class PatchEmbed(nn.Module):
    """(B, C_in, H, W) -> (B, N, dim) with N = (H / P) (W / P) (timm's ``PatchEmbed``).

    Args:
        img_size: input size, an int (square) or (H, W).
        patch_size: patch side P.
        in_chans: input channels.
        dim: token width D.

    Book: ch02 "Patches to tokens".
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        dim: int = 192,
    ) -> None:
        super().__init__()
        H, W = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if H % patch_size or W % patch_size:
            raise ValueError(
                f"img_size={img_size} is not divisible by patch_size={patch_size}"
            )
        self.img_size, self.patch_size = (H, W), patch_size
        self.grid_size = (H // patch_size, W // patch_size)  # (H/P, W/P)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        if (H, W) != self.img_size:
            raise ValueError(
                f"image: expected {self.img_size[0]}x{self.img_size[1]} pixels (HxW), "
                f"got {H}x{W}"
            )
        x = self.proj(x)  # (B, dim, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (B, N, dim), row-major over the grid
