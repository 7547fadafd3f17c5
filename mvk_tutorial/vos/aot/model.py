"""The AOT network (Yang, Wei and Yang, "Associating Objects with Transformers for Video
Object Segmentation", NeurIPS 2021, https://arxiv.org/abs/2106.02638).

Attribute names follow aot-benchmark's ``networks/models/aot.py`` so that official AOT
checkpoints load with ``load_state_dict(strict=True)``: ``encoder``,
``encoder_projector``, ``LSTT``, ``decoder``, ``patch_wise_id_bank``. The interface is
the one of ``DeAOT`` (``encode_image``, ``id_embedding``, ``propagate``, ``decode``,
``fuse_memory``), so ``DeAOTEngine``, ``segment_video`` and the trainer run AOT as well.
The decoder reads the projected encoder map and every LSTT layer's output, concatenated
(official ``MODEL_DECODER_INTERMEDIATE_LSTT=True``).

Book: ch08, section "AOT, the baseline".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mvk_tutorial.vos.aot.configs import AOTConfig, get_aot_config
from mvk_tutorial.vos.aot.layers import LongShortTermTransformer, sine_position_embedding
from mvk_tutorial.vos.deaot.decoder import FPNSegmentationHead
from mvk_tutorial.vos.deaot.encoders import build_encoder
from mvk_tutorial.vos.deaot.gpm import LayerMemory
from mvk_tutorial.vos.deaot.identity import one_hot_mask


class AOT(nn.Module):
    """AOT network. Book: ch08, section "AOT, the baseline".

    Args:
        cfg: an ``AOTConfig`` (see ``AOT_CONFIGS``).
    """

    def __init__(self, cfg: AOTConfig):
        super().__init__()
        self.cfg = cfg
        C, L = cfg.embed_dim, cfg.num_layers
        self.encoder = build_encoder(cfg.encoder)
        self.encoder_projector = nn.Conv2d(cfg.encoder_dims[-1], C, kernel_size=1)
        self.LSTT = LongShortTermTransformer(
            L, C, cfg.self_heads, cfg.att_heads, cfg.dim_feedforward, cfg.max_local_dis
        )
        self.decoder = FPNSegmentationHead(
            C * (L + 1), cfg.max_obj_num + 1, C, cfg.encoder_dims, cfg.align_corners
        )
        if cfg.align_corners:
            self.patch_wise_id_bank = nn.Conv2d(cfg.max_obj_num + 1, C, 17, 16, 8)
        else:
            self.patch_wise_id_bank = nn.Conv2d(cfg.max_obj_num + 1, C, 16, 16, 0)
        self.eval()

    def encode_image(self, img: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalised -> [x4, x8, x16, projected x16 (B, C, h, w)]."""
        xs = self.encoder(img)
        return xs[:-1] + [self.encoder_projector(xs[-1])]

    def id_embedding(self, mask: torch.Tensor, num_objects: int) -> torch.Tensor:
        """(B, 1, H, W) ids -> ID tokens (h*w, B, C); AOT has no norm after the bank."""
        k = num_objects + 1
        bank = self.patch_wise_id_bank
        one_hot = one_hot_mask(mask, k).to(bank.weight.dtype)  # (B, k, H, W)
        emb = F.conv2d(one_hot, bank.weight[:, :k], bank.bias, bank.stride, bank.padding)
        B, C, h, w = emb.shape
        return emb.view(B, C, h * w).permute(2, 0, 1)  # (h*w, B, C)

    def propagate(self, feats, long_term, short_term, id_emb=None):
        """LSTT on the projected 16x map -> (decoder input (h*w, B, C*(L+1)), per-layer
        memories of this frame)."""
        x = feats[-1]
        B, C, h, w = x.shape
        tokens = x.permute(2, 3, 0, 1).reshape(h * w, B, C)  # (h*w, B, C)
        pos = sine_position_embedding(h, w, C, x.device).to(tokens.dtype)
        outs, frames = self.LSTT(tokens, long_term, short_term, (h, w), pos, id_emb)
        return torch.cat([tokens] + outs, dim=-1), frames

    def match_memory(self, feats, long_term, short_term):
        """Match a frame against memory (the same interface as ``DeAOT.match_memory``):
        (decoder tokens, this frame's per-layer K and visual V for ``encode_memory``).

        Book: ch08, section "AOT, the baseline".
        """
        if long_term is None or short_term is None:
            raise ValueError("match_memory: long_term and short_term memory are needed")
        return self.propagate(feats, long_term, short_term)

    def encode_memory(self, frame, mask: torch.Tensor, num_objects: int) -> list[LayerMemory]:
        """Memory entry of a frame with its mask (B, 1, H, W), as ``DeAOT.encode_memory``:
        ``frame`` is what ``match_memory`` returned for it, or its ``encode_image``
        features (a reference frame attends to itself with its own ID values once).

        Book: ch08, section "AOT, the baseline".
        """
        id_emb = self.id_embedding(mask, num_objects)  # (h*w, B, C)
        if not (frame and isinstance(frame[0], LayerMemory)):
            _, frame = self.propagate(frame, None, None, id_emb)
        return self.fuse_memory(frame, id_emb)

    def decode(self, tokens, feats, num_outputs: int | None = None) -> torch.Tensor:
        """(h*w, B, C*(L+1)) -> logits (B, num_outputs, ~H/4, ~W/4)."""
        B, _, h, w = feats[-1].shape
        x = tokens.view(h, w, B, -1).permute(2, 3, 0, 1)  # (B, C*(L+1), h, w)
        return self.decoder(x, feats, num_outputs)

    def fuse_memory(self, frames: list[LayerMemory], id_emb) -> list[LayerMemory]:
        """Memory values of each layer: ``linear_V(visual + ID)``."""
        return [
            LayerMemory(f.K, layer.fuse_id_value(f.V, id_emb))
            for f, layer in zip(frames, self.LSTT.layers)
        ]


def build_aot(name: str = "aot-t") -> AOT:
    """Build an (untrained, eval-mode) AOT: ``aot-t``, ``aot-s``, ``aot-b``, ``aot-l``,
    ``r50-aot-l`` or ``aot-mini``. Book: ch08, section "AOT, the baseline"."""
    return AOT(get_aot_config(name))
