"""SAN: a side adapter network on a frozen CLIP, for open-vocabulary segmentation.

Xu, Zhang, Wei, Hu, Bai, "Side Adapter Network for Open-Vocabulary Semantic
Segmentation", CVPR 2023, arXiv:2302.12242; official code MendelXu/SAN.

> The side network is attached to a frozen CLIP model with two branches: one for
> predicting mask proposals, and one for predicting attention bias which is applied
> in the CLIP model to recognize the class of masks.

:class:`SAN` holds the three parts under the official attribute names:
``clip_visual_extractor`` (CLIP's first layers, :mod:`san_clip`),
``side_adapter_network`` (:mod:`san_side`) and ``clip_rec_head`` (CLIP's last layers).
``SAN(image)`` follows the official inference: CLIP sees the image downsampled by
``clip_resolution`` (0.5), the side network sees it at full size, and it returns
``(mask_pred (B, Q, h, w), mask_emb (B, Q, D))`` from the last decoded depth.
:func:`semantic_logits` turns them into per-pixel class scores for any class names.

Book: ch06, section "The side adapter network".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvk_tutorial.attention.san_clip import (
    ClipFeatureExtractor,
    ClipRecognitionHead,
    QuickGELU,
)
from mvk_tutorial.attention.san_side import MLPMaskDecoder, SideAdapterNetwork, SideViT


class SAN(nn.Module):
    """Frozen CLIP (extractor + recognition head) with a trainable side network.

    ``forward(image)`` -> ``(mask_pred, mask_emb)`` of the last decoded depth.
    ``forward_all(image)`` -> lists over every decoded depth (deep supervision in
    training). Book: ch06, section "The side adapter network".
    """

    def __init__(
        self,
        clip_visual_extractor: ClipFeatureExtractor,
        side_adapter_network: SideAdapterNetwork,
        clip_rec_head: ClipRecognitionHead,
        clip_resolution: float = 0.5,
    ) -> None:
        super().__init__()
        self.clip_visual_extractor = clip_visual_extractor
        self.side_adapter_network = side_adapter_network
        self.clip_rec_head = clip_rec_head
        self.clip_resolution = clip_resolution

    def clip_features(self, image: Tensor) -> dict:
        """CLIP's intermediate features of the downsampled image."""
        clip_input = image
        if self.clip_resolution != 1:
            clip_input = F.interpolate(
                image,
                scale_factor=self.clip_resolution,
                mode="bilinear",
                align_corners=False,
            )  # (B, 3, H*s, W*s)
        return self.clip_visual_extractor(clip_input)

    def forward_all(self, image: Tensor) -> tuple[list, list, list]:
        """Masks, embeddings and biases for each decoded depth."""
        feats = self.clip_features(image)
        masks, biases = self.side_adapter_network(image, feats)
        embs = [self.clip_rec_head(feats, b, normalize=True) for b in biases]
        return masks, embs, biases

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        masks, embs, _ = self.forward_all(image)
        return masks[-1], embs[-1]

    def freeze_clip(self) -> None:
        """Stop gradients into every CLIP weight (the side network stays trainable)."""
        for module in (self.clip_visual_extractor, self.clip_rec_head):
            module.requires_grad_(False)

    def train(self, mode: bool = True) -> SAN:
        super().train(mode)
        self.clip_visual_extractor.eval()  # CLIP has no dropout, but stay in eval
        self.clip_rec_head.eval()
        return self


def semantic_logits(
    mask_pred: Tensor,
    mask_emb: Tensor,
    text_emb: Tensor,
    logit_scale: float = 100.0,
    size: tuple[int, int] | None = None,
    void_logit: float | Tensor = 0.0,
    void_channel: bool = False,
) -> Tensor:
    """Per-pixel class scores (B, K, h, w) from mask proposals and their CLIP embeddings.

    MaskFormer's semantic inference, as SAN uses it: each proposal q gets class
    probabilities p_q = softmax(logit_scale * <emb_q, text_k>) over K classes plus a
    "no object" class (logit ``void_logit``, kept out of the sum); the score of class k at a
    pixel is sum_q p_q(k) * sigmoid(mask_q). ``text_emb`` is (K, D), L2-normalised.
    ``void_channel``: also return the "no object" score as channel K (B, K+1, h, w),
    for a background that is learned as "no object" instead of named by a text.
    Book: ch06, section "From proposals to a segmentation".
    """
    if size is not None:
        mask_pred = F.interpolate(
            mask_pred, size=size, mode="bilinear", align_corners=False
        )
    logits = class_logits(mask_emb, text_emb, logit_scale, void_logit)  # (B, Q, K+1)
    probs = logits.softmax(-1)  # (B, Q, K+1)
    if not void_channel:  # MaskFormer: drop "no object"; else keep it as channel K
        probs = probs[..., :-1]  # (B, Q, K)
    return torch.einsum("bqk,bqhw->bkhw", probs, mask_pred.sigmoid())


def class_logits(
    mask_emb: Tensor,
    text_emb: Tensor,
    logit_scale: float = 100.0,
    void_logit: float | Tensor = 0.0,
) -> Tensor:
    """(B, Q, K+1) logits: scaled cosine to each class text, then the "no object" logit.

    Book: ch06, section "From proposals to a segmentation".
    """
    sim = logit_scale * mask_emb @ text_emb.T.to(mask_emb.dtype)  # (B, Q, K)
    void = torch.as_tensor(void_logit, dtype=sim.dtype, device=sim.device)
    void = void.reshape(1, 1, 1).expand(*sim.shape[:-1], 1)  # (B, Q, 1)
    return torch.cat([sim, void], dim=-1)


def _act(name: str) -> type[nn.Module]:
    acts = {
        "QuickGELU": QuickGELU,
        "GELU": nn.GELU,
        "gelu": nn.GELU,
        "quick_gelu": QuickGELU,
    }
    if name not in acts:
        raise ValueError(f"act_layer: expected one of {sorted(acts)}, got {name!r}")
    return acts[name]


def _pair(x) -> tuple[int, int]:
    return (int(x[0]), int(x[1])) if isinstance(x, (list, tuple)) else (int(x), int(x))


def build_san(
    clip: dict,
    split_layer: int,
    side: dict,
    num_queries: int,
    fusion_map: dict[int, int],
    deep_supervision_idxs: list[int],
    attn_bias: dict,
    clip_resolution: float = 0.5,
    downsample_method: str = "max",
) -> SAN:
    """Build a SAN from plain sizes.

    ``clip``: ``image_size, patch_size, width, layers, heads, mlp_ratio, output_dim,
    act_layer``; CLIP blocks [0, split_layer) extract, the rest recognise. ``side``:
    ``img_size, patch_size, embed_dim, depth, num_heads``. ``attn_bias``:
    ``num_heads, num_layers, embed_channels, mlp_channels, mlp_num_layers,
    rescale_attn_bias``. Book: ch06, section "The side adapter network".
    """
    if not 0 < split_layer < clip["layers"]:
        raise ValueError(
            f"split_layer: expected 1..{clip['layers'] - 1}, got {split_layer}"
        )
    act = _act(clip.get("act_layer", "GELU"))
    ratio = clip.get("mlp_ratio", 4.0)
    grid = tuple(s // clip["patch_size"] for s in _pair(clip["image_size"]))
    extractor = ClipFeatureExtractor(
        clip["width"], clip["patch_size"], grid, split_layer, clip["heads"], ratio, act
    )
    head = ClipRecognitionHead(
        clip["width"],
        clip["output_dim"],
        clip["layers"] - split_layer,
        clip["heads"],
        split_layer,
        ratio,
        act,
        downsample_method,
    )
    vit = SideViT(
        _pair(side["img_size"]),
        side["patch_size"],
        side["embed_dim"],
        side["depth"],
        side["num_heads"],
        side.get("mlp_ratio", 4.0),
    )
    decoder = MLPMaskDecoder(
        side["embed_dim"],
        attn_bias["num_heads"],
        attn_bias["num_layers"],
        attn_bias["embed_channels"],
        attn_bias["mlp_channels"],
        attn_bias["mlp_num_layers"],
        attn_bias["rescale_attn_bias"],
    )
    network = SideAdapterNetwork(
        vit, clip["width"], num_queries, fusion_map, deep_supervision_idxs, decoder
    )
    return SAN(extractor, network, head, clip_resolution)


def build_san_from_official_config(config: dict) -> SAN:
    """Build the SAN of an official-style config dict (the fixture's ``config``).

    Reads ``config["clip"]`` (open_clip vision sizes), ``config["san"]``
    (``FEATURE_LAST_LAYER_IDX``, ``REC_DOWNSAMPLE_METHOD``, ``CLIP_RESOLUTION``,
    ``SOS_TOKEN_FORMAT`` = cls_token, ``REC_CROSS_ATTN`` = False) and
    ``config["side_adapter"]`` (``FUSION_MAP`` like ``"0->0"``: CLIP feature 0 into side
    block 0, ``DEEP_SUPERVISION_IDXS``, ``ATTN_BIAS``...). The result loads the
    official state dict with strict=True. Book: ch06, section "The side adapter network".
    """
    for key in ("clip", "san", "side_adapter"):
        if key not in config:
            raise ValueError(f"config: missing the {key!r} entry")
    san, side = config["san"], config["side_adapter"]
    if san.get("SOS_TOKEN_FORMAT", "cls_token") != "cls_token":
        raise ValueError(
            "config['san']['SOS_TOKEN_FORMAT']: only 'cls_token' is implemented"
        )
    if san.get("REC_CROSS_ATTN", False):
        raise ValueError("config['san']['REC_CROSS_ATTN']: only False is implemented")
    if side.get("FUSION_TYPE", "add") != "add":
        raise ValueError(
            "config['side_adapter']['FUSION_TYPE']: only 'add' is implemented"
        )
    fusion = {}
    for item in side["FUSION_MAP"]:
        src, dst = item.split("->")
        fusion[int(dst)] = int(src)
    ab = side["ATTN_BIAS"]
    return build_san(
        clip=dict(config["clip"]),
        split_layer=int(san["FEATURE_LAST_LAYER_IDX"]),
        side=dict(
            img_size=side["IMAGE_SIZE"],
            patch_size=side["patch_size"],
            embed_dim=side["embed_dim"],
            depth=side["depth"],
            num_heads=side["num_heads"],
        ),
        num_queries=int(side["NUM_QUERIES"]),
        fusion_map=fusion,
        deep_supervision_idxs=list(side["DEEP_SUPERVISION_IDXS"]),
        attn_bias=dict(
            num_heads=ab["NUM_HEADS"],
            num_layers=ab["NUM_LAYERS"],
            embed_channels=ab["EMBED_CHANNELS"],
            mlp_channels=ab["MLP_CHANNELS"],
            mlp_num_layers=ab["MLP_NUM_LAYERS"],
            rescale_attn_bias=ab["RESCALE_ATTN_BIAS"],
        ),
        clip_resolution=float(san.get("CLIP_RESOLUTION", 0.5)),
        downsample_method=san.get("REC_DOWNSAMPLE_METHOD", "max"),
    )


def clip_vision_sizes(visual: nn.Module) -> dict:
    """The ``clip`` sizes of :func:`build_san` read from an open_clip ``VisionTransformer``.

    Book: ch06, section "The frozen CLIP, cut in two".
    """
    blocks = visual.transformer.resblocks
    act = type(blocks[0].mlp.gelu).__name__
    width = visual.conv1.out_channels
    return dict(
        image_size=_pair(visual.image_size),
        patch_size=_pair(visual.patch_size)[0],
        width=width,
        layers=len(blocks),
        heads=blocks[0].attn.num_heads,
        mlp_ratio=blocks[0].mlp.c_fc.out_features / width,
        output_dim=visual.proj.shape[1],
        act_layer="QuickGELU" if act == "QuickGELU" else "GELU",
    )


def clip_state_for_san(visual: nn.Module, split_layer: int) -> dict:
    """open_clip ``VisionTransformer`` weights renamed to SAN's two CLIP parts.

    Blocks [0, split_layer) go to ``clip_visual_extractor.resblocks``, the others to
    ``clip_rec_head.resblocks`` (renumbered from 0).

    Book: ch06, section "The frozen CLIP, cut in two".
    """
    out = {}
    for key, value in visual.state_dict().items():
        if key.startswith("transformer.resblocks."):
            i, rest = key[len("transformer.resblocks.") :].split(".", 1)
            if ".ls_" in f".{rest}":
                continue
            i = int(i)
            part = "clip_visual_extractor" if i < split_layer else "clip_rec_head"
            j = i if i < split_layer else i - split_layer
            out[f"{part}.resblocks.{j}.{rest}"] = value
        elif key.split(".")[0] in ("ln_post", "proj"):
            out[f"clip_rec_head.{key}"] = value
        else:
            out[f"clip_visual_extractor.{key}"] = value
    return out


def san_from_clip(visual: nn.Module, split_layer: int, **kwargs) -> SAN:
    """A SAN around an open_clip vision tower: CLIP's weights copied in and frozen.

    ``kwargs`` are those of :func:`build_san` except ``clip`` and ``split_layer``; the
    side network starts from its own random initialisation.
    Book: ch06, section "The frozen CLIP, cut in two".
    """
    if getattr(visual, "attn_pool", None) is not None:
        raise ValueError("visual: CLIP towers with attention pooling are not supported")
    dtype = next(visual.parameters()).dtype
    model = build_san(clip_vision_sizes(visual), split_layer, **kwargs).to(dtype)
    missing, unexpected = model.load_state_dict(
        clip_state_for_san(visual, split_layer), strict=False
    )
    if unexpected or any(not k.startswith("side_adapter_network.") for k in missing):
        raise ValueError(f"visual: weights do not fit SAN ({unexpected or missing})")
    model.freeze_clip()
    return model
