"""The frozen CLIP of SAN, cut in two: a feature extractor and a recognition head.

Xu et al., "Side Adapter Network for Open-Vocabulary Semantic Segmentation", CVPR 2023,
arXiv:2302.12242; official code MendelXu/SAN (``san/model/clip_utils/visual.py``).
Parameter names follow open_clip's ``VisionTransformer`` (``conv1``, ``class_embedding``,
``positional_embedding``, ``ln_pre``, ``resblocks.i.{ln_1,attn,ln_2,mlp}``, ``ln_post``,
``proj``), so a CLIP checkpoint and the official SAN fixture load key by key.

> we only use the [CLS] token and the visual tokens of the first layers of CLIP as the
> input of the side network ... the last few layers of CLIP are used for recognition.

Layout: tokens are NLD here, (B, 1 + L, C) with the class token first. The official code
keeps open_clip's older LND layout; only the order of axes differs.

Book: ch06, section "The frozen CLIP, cut in two".
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x), the activation of OpenAI's CLIP weights.

    Book: ch06, section "The frozen CLIP, cut in two".
    """

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class ClipAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names.

    ``in_proj_weight`` (3C, C) stacks q, k, v; ``forward(x, attn_mask)`` takes an
    additive float mask (B, heads, N, N) or (N, N), added to the scaled logits.
    Book: ch06, section "The frozen CLIP, cut in two".
    """

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} must be divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(
        self, x: Tensor, attn_mask: Tensor | None = None, return_weights: bool = False
    ):
        B, N, C = x.shape
        d = C // self.num_heads
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, N, 3C)
        qkv = qkv.reshape(B, N, 3, self.num_heads, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, d)
        logits = (q * d**-0.5) @ k.transpose(-2, -1)  # (B, heads, N, N)
        if attn_mask is not None:
            logits = logits + attn_mask.to(logits.dtype)
        attn = logits.softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(B, N, C)  # (B, N, C)
        out = self.out_proj(out)
        return (out, attn) if return_weights else out


class ClipBlock(nn.Module):
    """open_clip's ``ResidualAttentionBlock``: pre-norm attention and MLP, residuals.

    Book: ch06, section "The frozen CLIP, cut in two".
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = ClipAttention(dim, num_heads)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            OrderedDict(
                c_fc=nn.Linear(dim, hidden),
                gelu=act_layer(),
                c_proj=nn.Linear(hidden, dim),
            )
        )

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.ln_1(x), attn_mask)
        return x + self.mlp(self.ln_2(x))


def resize_pos_embed(pos: Tensor, src: tuple[int, int], dst: tuple[int, int]) -> Tensor:
    """Bicubic resize of a (1 + h*w, C) position table from grid ``src`` to ``dst``.

    The class-token row is kept; nothing changes when the grids agree.
    Book: ch06, section "The frozen CLIP, cut in two".
    """
    if tuple(src) == tuple(dst):
        return pos
    grid = pos[1:].T.reshape(1, -1, *src)  # (1, C, h, w)
    grid = F.interpolate(grid, size=dst, mode="bicubic", align_corners=False)
    return torch.cat([pos[:1], grid.flatten(2)[0].T])  # (1 + h'w', C)


class ClipFeatureExtractor(nn.Module):
    """CLIP's patch embedding and its first ``len(resblocks)`` blocks.

    ``forward(image)`` returns a dict: ``i`` -> patch tokens (B, C, h, w) and
    ``"i_cls_token"`` -> class token (B, C), for i = 0 (after ``ln_pre``) and one per
    block, as SAN's ``ClipOutput`` (which keeps the class token as (1, B, C)).
    Book: ch06, section "The frozen CLIP, cut in two".
    """

    def __init__(
        self,
        width: int,
        patch_size: int,
        grid_size: tuple[int, int],
        num_blocks: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.grid_size = tuple(grid_size)
        self.conv1 = nn.Conv2d(3, width, patch_size, stride=patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        n = 1 + self.grid_size[0] * self.grid_size[1]
        self.positional_embedding = nn.Parameter(torch.zeros(n, width))
        self.ln_pre = nn.LayerNorm(width)
        self.resblocks = nn.ModuleList(
            ClipBlock(width, num_heads, mlp_ratio, act_layer) for _ in range(num_blocks)
        )

    def forward(self, image: Tensor) -> dict:
        x = self.conv1(image)  # (B, C, h, w)
        B, C, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, L, C), L = h*w row-major
        cls = self.class_embedding.to(x.dtype).expand(B, 1, C)
        x = torch.cat([cls, x], dim=1)  # (B, 1 + L, C)
        x = x + resize_pos_embed(self.positional_embedding, self.grid_size, (h, w))
        x = self.ln_pre(x)
        out = {}
        for i in range(len(self.resblocks) + 1):
            if i:
                x = self.resblocks[i - 1](x)
            out[i] = x[:, 1:].transpose(1, 2).reshape(B, C, h, w)  # (B, C, h, w)
            out[f"{i}_cls_token"] = x[:, 0]  # (B, C)
        return out


def sos_attention_mask(attn_bias: Tensor, num_sos: int, fill: float = -100.0) -> Tensor:
    """The additive mask of SAN's recognition blocks, (B, heads, Q+1+L, Q+1+L).

    The sequence is [SOS x Q, CLS, L patches]. ``attn_bias`` (B, heads, Q, L) is what
    SOS token q adds to its logit for patch l. Every column of an SOS token gets
    ``fill`` (-100 officially, not -inf) except each SOS token's own diagonal (0); SOS
    rows get ``fill`` on the CLS column and the bias on the patch columns. CLS and patch
    rows are 0 on CLS and patches, so their stream is exactly CLIP's.

    Book: ch06, section "The SOS attention mask".
    """
    B, heads, Q, L = attn_bias.shape
    if Q != num_sos:
        raise ValueError(
            f"attn_bias: expected {num_sos} SOS rows, got shape {tuple(attn_bias.shape)}"
        )
    n = Q + 1 + L
    mask = attn_bias.new_zeros(B, heads, n, n)
    mask[..., :Q] = fill  # nobody attends to an SOS token ...
    idx = torch.arange(Q, device=attn_bias.device)
    mask[..., idx, idx] = 0.0  # ... except the SOS token itself
    mask[..., :Q, Q] = fill  # SOS tokens do not see CLIP's class token
    mask[..., :Q, Q + 1 :] = attn_bias  # SOS -> patch: the side network's bias
    return mask


def downsample_bias(
    attn_bias: Tensor, size: tuple[int, int], method: str = "max"
) -> Tensor:
    """Resize biases (B, heads, Q, h, w) to CLIP's grid: (B, heads, Q, h'*w').

    ``"max"`` is adaptive max pooling (SAN's default), ``"avg"`` adaptive average
    pooling, or an ``F.interpolate`` mode. Book: ch06, section "The SOS attention mask".
    """
    B, heads, Q, h, w = attn_bias.shape
    x = attn_bias.reshape(B, heads * Q, h, w)  # (B, heads*Q, h, w)
    if method == "max":
        x = F.adaptive_max_pool2d(x, size)
    elif method == "avg":
        x = F.adaptive_avg_pool2d(x, size)
    else:
        x = F.interpolate(x, size=size, mode=method, align_corners=False)
    return x.reshape(B, heads, Q, size[0] * size[1])  # (B, heads, Q, L)


class ClipRecognitionHead(nn.Module):
    """CLIP's last blocks, run on [SOS x Q, CLS, patches] with the SOS mask.

    SOS tokens start as copies of CLIP's class token at the split layer; each attends
    to the patches through the side network's bias, then ``ln_post`` and ``proj`` map
    it into CLIP's joint space (``normalize``: L2-normalised). Returns (B, Q, D).
    Book: ch06, section "The recognition head".
    """

    def __init__(
        self,
        width: int,
        output_dim: int,
        num_blocks: int,
        num_heads: int,
        first_layer_idx: int,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        downsample_method: str = "max",
    ) -> None:
        super().__init__()
        self.first_layer_idx = first_layer_idx
        self.downsample_method = downsample_method
        self.num_heads = num_heads
        self.resblocks = nn.ModuleList(
            ClipBlock(width, num_heads, mlp_ratio, act_layer) for _ in range(num_blocks)
        )
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, output_dim))

    def attention_masks(self, attn_bias: Tensor, grid: tuple[int, int]) -> Tensor:
        """Side biases (B, heads or 1, Q, h, w) -> the SOS mask on CLIP's grid."""
        bias = downsample_bias(attn_bias, grid, self.downsample_method)
        if bias.shape[1] == 1:
            bias = bias.expand(-1, self.num_heads, -1, -1)
        elif bias.shape[1] != self.num_heads:
            raise ValueError(
                f"attn_bias: expected 1 or {self.num_heads} heads, got {bias.shape[1]}"
            )
        return sos_attention_mask(bias, bias.shape[2])  # (B, heads, Q+1+L, Q+1+L)

    def forward_tokens(self, features: dict, attn_bias: Tensor | list) -> Tensor:
        """The whole sequence after the last block, (B, Q+1+L, C): [SOS x Q, CLS, patches].

        ``attn_bias``: one bias (B, heads, Q, h, w) for every block, or a list with one
        per block (SAN's ``NUM_LAYERS``)."""
        biases = (
            list(attn_bias) if isinstance(attn_bias, (list, tuple)) else [attn_bias]
        )
        if len(biases) == 1:
            biases = biases * len(self.resblocks)
        if len(biases) != len(self.resblocks):
            raise ValueError(
                f"attn_bias: expected 1 or {len(self.resblocks)} biases, got {len(biases)}"
            )
        i = self.first_layer_idx
        cls, pix = features[f"{i}_cls_token"], features[i]  # (B, C), (B, C, h, w)
        B, C, h, w = pix.shape
        Q = biases[0].shape[2]
        x = torch.cat([cls[:, None], pix.flatten(2).transpose(1, 2)], 1)  # (B, 1+L, C)
        sos = cls[:, None].expand(B, Q, C)  # (B, Q, C): SOS tokens = copies of CLS
        x = torch.cat([sos, x], dim=1)  # (B, Q+1+L, C)
        for block, bias in zip(self.resblocks, biases):
            x = block(x, self.attention_masks(bias, (h, w)))
        return x

    def forward(
        self, features: dict, attn_bias: Tensor | list, normalize: bool = False
    ) -> Tensor:
        Q = (attn_bias[0] if isinstance(attn_bias, (list, tuple)) else attn_bias).shape[
            2
        ]
        x = self.forward_tokens(features, attn_bias)
        sos = self.ln_post(x[:, :Q]) @ self.proj  # (B, Q, D)
        return F.normalize(sos, dim=-1) if normalize else sos
