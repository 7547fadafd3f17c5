"""The DeAOT network: encoder, projector, ID bank, dual-branch GPM stack, FPN decoder.

"Decoupling Features in Hierarchical Propagation for Video Object Segmentation",
Z. Yang and Y. Yang, NeurIPS 2022, https://arxiv.org/abs/2210.09782.
Official code: https://github.com/yoxu515/aot-benchmark (``networks/models/deaot.py``).
Attribute names follow the official model so that its checkpoints load with
``load_state_dict(strict=True)``: ``encoder``, ``encoder_projector``, ``LSTT``,
``decoder``, ``patch_wise_id_bank``, ``id_norm``.

The model is stateless: it says what each call does, and the inference engine
(``mvk_tutorial.vos.inference``) makes these few calls per frame and owns the memory:

- ``encode_image(frame)``: backbone features [x4, x8, x16, projected x16];
- ``match_memory(features, long_term, short_term)``: the GPM stack reads memory and
  returns the tokens to decode and this frame's per-layer keys/values;
- ``decode(tokens, features, num_outputs)``: FPN decoder, stride-4 logits;
- ``encode_memory(frame, mask, num_objects)``: the frame's memory entry, with the ID
  values of its mask fused once (for a reference frame: one self-matching pass).

``propagate``, ``id_embedding`` and ``fuse_memory`` are the lower-level pieces these
calls are made of (training uses them directly).
Book: ch08 "Memory-based VOS and DeAOT".
"""

from __future__ import annotations

import torch
from torch import nn

from mvk_tutorial.vos.deaot.configs import DeAOTConfig, get_config
from mvk_tutorial.vos.deaot.decoder import FPNSegmentationHead
from mvk_tutorial.vos.deaot.encoders import build_encoder
from mvk_tutorial.vos.deaot.gpm import DualBranchGPM, LayerMemory
from mvk_tutorial.vos.deaot.identity import id_embedding
from mvk_tutorial.vos.deaot.single_branch import SingleBranchStack


class DeAOT(nn.Module):
    """DeAOT network. Book: ch08 "Memory-based VOS and DeAOT".

    Args:
        cfg: a ``DeAOTConfig`` (see ``configs.CONFIGS``).
    """

    def __init__(self, cfg: DeAOTConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.embed_dim
        self.encoder = build_encoder(cfg.encoder)
        self.encoder_projector = nn.Conv2d(cfg.encoder_dims[-1], C, kernel_size=1)
        if getattr(cfg, "single_branch", False):  # ablation (ours): one token stream
            self.LSTT = SingleBranchStack(
                cfg.num_layers, C, cfg.max_local_dis, cfg.expand_ratio
            )
        else:
            self.LSTT = DualBranchGPM(
                cfg.num_layers, C, cfg.max_local_dis, cfg.expand_ratio
            )
        branches = 1 if getattr(cfg, "single_branch", False) else 2
        self.decoder = FPNSegmentationHead(
            C * branches, cfg.max_obj_num + 1, C, cfg.encoder_dims, cfg.align_corners
        )
        if cfg.align_corners:  # 16k+1 inputs -> (k+1) patches
            self.patch_wise_id_bank = nn.Conv2d(cfg.max_obj_num + 1, C, 17, 16, 8)
        else:  # 16k inputs (Swin)
            self.patch_wise_id_bank = nn.Conv2d(cfg.max_obj_num + 1, C, 16, 16, 0)
        self.id_norm = nn.LayerNorm(C)
        self.eval()

    def encode_image(self, img: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) normalised -> [x4, x8, x16, projected x16 (B, 256, h, w)].

        Runs in channels-last memory format (faster convolutions on CPUs and GPUs)."""
        xs = self.encoder(img.contiguous(memory_format=torch.channels_last))
        return xs[:-1] + [self.encoder_projector(xs[-1])]

    def id_embedding(self, mask: torch.Tensor, num_objects: int) -> torch.Tensor:
        """(B, 1, H, W) ids -> ID tokens (h*w, B, 256)."""
        return id_embedding(self.patch_wise_id_bank, self.id_norm, mask, num_objects)

    def propagate(
        self,
        feats: list[torch.Tensor],
        long_term: list[LayerMemory] | None,
        short_term: list[LayerMemory] | None,
        id_emb: torch.Tensor | None = None,
    ):
        """Run the GPM stack on the projected 16x map; returns (tokens (h*w, B, 512),
        per-layer memories of this frame)."""
        x = feats[-1]
        B, C, h, w = x.shape
        tokens = x.permute(2, 3, 0, 1).reshape(h * w, B, C)  # (h*w, B, 256)
        return self.LSTT(tokens, long_term, short_term, (h, w), id_emb)

    def match_memory(
        self,
        feats: list[torch.Tensor],
        long_term: list[LayerMemory],
        short_term: list[LayerMemory],
    ) -> tuple[torch.Tensor, list[LayerMemory]]:
        """Match a frame against memory: the GPM stack reads the long-term memory (global
        attention) and the short-term memory (15x15 local attention), one
        ``LayerMemory`` per layer. Returns (tokens (h*w, B, 512) for ``decode``, this
        frame's per-layer K, V and ID-branch inputs, for ``encode_memory``).

        Book: ch08, section "Shapes through the network".
        """
        if long_term is None or short_term is None:
            raise ValueError("match_memory: long_term and short_term memory are needed")
        return self.propagate(feats, long_term, short_term)

    def encode_memory(
        self,
        frame: list[torch.Tensor] | list[LayerMemory],
        mask: torch.Tensor,
        num_objects: int,
    ) -> list[LayerMemory]:
        """Memory entry of a frame with its mask (B, 1, H, W) of ids 1..num_objects.

        ``frame`` is either what ``match_memory`` returned for it (a predicted frame:
        the ID values of the mask are attached to its keys and values), or its
        ``encode_image`` features (a reference frame: one GPM pass in which the frame
        attends to itself with its own ID values, computed once per layer and reused).
        Returns one ``LayerMemory(K, V = cat[visual V, ID V])`` per layer.

        Book: ch08, section "Shapes through the network".
        """
        id_emb = self.id_embedding(mask, num_objects)  # (h*w, B, 256)
        if frame and isinstance(frame[0], LayerMemory):
            return self.fuse_memory(frame, id_emb)
        _, layers = self.propagate(frame, None, None, id_emb)
        return [LayerMemory(f.K, torch.cat([f.V, f.id_value], -1)) for f in layers]

    def decode(
        self,
        tokens: torch.Tensor,
        feats: list[torch.Tensor],
        num_outputs: int | None = None,
    ) -> torch.Tensor:
        """GPM output (h*w, B, 512) -> logits (B, num_outputs, ~H/4, ~W/4)."""
        B, _, h, w = feats[-1].shape
        x = tokens.view(h, w, B, -1).permute(
            2, 3, 0, 1
        )  # (B, 512, h, w), channels-last
        return self.decoder(x, feats, num_outputs)

    def fuse_memory(
        self, frames: list[LayerMemory], id_emb: torch.Tensor
    ) -> list[LayerMemory]:
        """Attach ID values (from the frame's mask embedding) to each layer's K, V."""
        return [
            LayerMemory(
                f.K, torch.cat([f.V, layer.fuse_id_value(f.id_input, id_emb)], -1)
            )
            for f, layer in zip(frames, self.LSTT.layers)
        ]


def build_deaot(name: str = "deaot-t") -> DeAOT:
    """Build an (untrained, eval-mode) DeAOT variant: ``deaot-t``, ``deaot-s``, ``deaot-b``,
    ``deaot-l``, ``r50-deaot-l`` or ``swinb-deaot-l``.

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    return DeAOT(get_config(name))
