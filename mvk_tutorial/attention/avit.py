"""A-ViT: adaptive tokens that halt, token by token, inside a plain ViT.

Yin et al., "A-ViT: Adaptive Tokens for Efficient Vision Transformer", CVPR 2022,
arXiv:2112.07658; official code NVlabs/A-ViT (``timm/models/act_vision_transformer.py``,
act_mode 4). Abstract: "We reformulate Adaptive Computation Time (ACT) for this
task, extending halting to discard redundant spatial tokens" and "A-ViT requires no
extra parameters or sub-network for halting, as we base the learning of adaptive
halting on the original network parameters."

The model is a :class:`~mvk_tutorial.attention.vit.VisionTransformer` (same timm
parameter names, so the official ``state_dict`` and our ``vit_tiny_mvk`` both load)
plus a halting rule with two constants, gamma = ``gate_scale`` and
beta = -``gate_center``. Two ways to run it, the same numbers:

* ``token_path="mask"`` (the official code): every token runs through every block,
  halted tokens are zeroed and masked out of attention (no speed-up);
* ``token_path="gather"``: only the live tokens are gathered into each block,
  so the work shrinks as tokens halt (the "zipping" the official release lacks).

Book: ch05, section "Halting tokens".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from mvk_tutorial.attention.vit import ViTConfig, VisionTransformer
from mvk_tutorial.attention.avit_halting import halting_score, halting_step  # noqa: F401 (re-exported)
from mvk_tutorial.attention.avit_paths import (
    early_exit_active,
    run_gather,
    run_gather_single,
    run_mask,
)


TOKEN_PATHS = ("mask", "gather")


@dataclass(frozen=True)
class HaltingConfig:
    """Constants of the halting rule (official argparse names).

    Book: ch05, section "Halting tokens".
    """

    gate_scale: float = 10.0  # gamma in h = sigmoid(gamma * e0 + beta)
    gate_center: float = 30.0  # -beta (README: 30 for A-ViT-T, 75 for A-ViT-S)
    eps: float = 0.01  # halt once the cumulative score exceeds 1 - eps
    halting: bool = True  # False: h = 0 before the last block (a plain ViT)
    official_layer_mean: bool = False  # reproduce NVlabs/A-ViT#4 in halting_score_layer


def distribution_prior_target(depth: int, target_depth: float, std: float = 1.0) -> Tensor:
    """A Gaussian over layers 1..depth centred on ``target_depth``, summing to 1.

    The official code rescales a Gaussian over 0-based layers so its first
    target_depth entries sum to 0.98; we use the normalised version.

    Book: ch05, section "Training losses".
    """
    layers = torch.arange(1, depth + 1, dtype=torch.float64)
    p = torch.exp(-0.5 * ((layers - target_depth) / std) ** 2)
    return (p / p.sum()).float()


class AViT(VisionTransformer):
    """A ViT whose tokens halt adaptively (A-ViT, act_mode 4).

    Args:
        cfg: the ViT architecture (:class:`ViTConfig`).
        halting: the halting constants (:class:`HaltingConfig`).
        norm_eps: LayerNorm epsilon (official A-ViT 1e-6; our ViT 1e-5).
        token_path: "mask" or "gather"; a plain attribute, switchable on a built model.
        early_exit: inference only (eval mode; ignored in train mode), off by default,
            also a plain attribute. The logits read only the class token, whose output
            is frozen once it halts, so an image is finished when its class token
            halts: its remaining live tokens are dropped (gather) or masked (mask) and
            the forward stops when every image is finished. The logits are those of
            the full forward; a token still live when its image finished gets that
            block as its depth (a lower bound on where it would have halted), so use
            ``early_exit=False`` for depth maps and the training losses.

    ``model(x)`` gives logits; ``model(x, return_depth=True)`` gives
    ``(logits, halting_depth)``, the 1-based block at which each token halted
    (B, 1 + N). After a forward, ``model.rho`` (ponder cost per token) and
    ``model.halting_score_layer`` (per-block mean score, for the prior) are set.

    Book: ch05, section "Halting tokens".
    """

    def __init__(
        self,
        cfg: ViTConfig = ViTConfig(),
        halting: HaltingConfig = HaltingConfig(),
        norm_eps: float = 1e-5,
        token_path: str = "mask",
        early_exit: bool = False,
    ) -> None:
        super().__init__(cfg)
        self.halting = halting
        self.norm_eps = norm_eps
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                m.eps = norm_eps
        self.token_path = token_path
        self.early_exit = early_exit
        self.rho = self.halting_score_layer = None

    @classmethod
    def from_official_config(cls, ctor: dict, args: dict, **kwargs) -> AViT:
        """Build from the official ``VisionTransformer`` arguments and A-ViT ``args``.

        Book: ch05, section "Halting tokens".
        """
        if args.get("act_mode", 4) != 4:
            raise ValueError(f"args: act_mode={args['act_mode']}, only 4 (token ACT)")
        for key in ("drop_rate", "attn_drop_rate", "drop_path_rate"):
            if ctor.get(key, 0.0):
                raise ValueError(f"ctor: {key}={ctor[key]} is not supported (expected 0)")
        if ctor.get("distilled") or ctor.get("representation_size"):
            raise ValueError("ctor: distilled / representation_size are not supported")
        cfg = ViTConfig(
            img_size=ctor.get("img_size", 224), patch_size=ctor.get("patch_size", 16),
            in_chans=ctor.get("in_chans", 3), num_classes=ctor.get("num_classes", 1000),
            dim=ctor.get("embed_dim", 768), depth=ctor.get("depth", 12),
            num_heads=ctor.get("num_heads", 12), mlp_ratio=ctor.get("mlp_ratio", 4.0),
            qkv_bias=ctor.get("qkv_bias", True),
        )  # fmt: skip
        halting = HaltingConfig(
            gate_scale=float(args["gate_scale"]),
            gate_center=float(args["gate_center"]),
            **kwargs.pop("halting_overrides", {}),
        )
        return cls(cfg, halting, norm_eps=1e-6, **kwargs)

    @property
    def token_path(self) -> str:
        return self._token_path

    @token_path.setter
    def token_path(self, value: str) -> None:
        if value not in TOKEN_PATHS:
            raise ValueError(f"token_path={value!r}: expected one of {TOKEN_PATHS}")
        self._token_path = value

    def _h(self, out: Tensor, last: bool) -> Tensor:
        """Halting score of a block output (B, N, C) -> (B, N); 1 at the last block."""
        if last:
            return torch.ones_like(out[..., 0])
        if not self.halting.halting:
            return torch.zeros_like(out[..., 0])
        return halting_score(out, self.halting.gate_scale, self.halting.gate_center)

    def forward_act(self, x: Tensor, need_depth: bool = True) -> tuple[Tensor, Tensor]:
        """Image -> (ACT-weighted tokens after the final norm (B, 1+N, C), depth (B, 1+N)).

        With ``early_exit`` in eval mode only the class token's output is final
        (one image on the gather path: the other outputs are zeros, ``rho`` is None,
        and ``need_depth=False`` skips the depths, returning None).

        Book: ch05, section "Halting tokens".
        """

        tokens = self.embed(x)  # (B, 1 + N, C)
        if self.token_path == "gather" and len(x) == 1 and early_exit_active(self):
            out, depth, rho, layer_means = run_gather_single(self, tokens, need_depth)
        else:
            run = run_mask if self.token_path == "mask" else run_gather
            out, depth, rho, layer_means = run(self, tokens)
        self.rho = rho
        self.halting_score_layer = torch.stack(layer_means) if layer_means else None
        return self.norm(out), depth

    def forward(self, x: Tensor, return_depth: bool = False):
        out, depth = self.forward_act(x, need_depth=return_depth)
        logits = self.forward_head(out)
        return (logits, depth) if return_depth else logits

    def losses(self, target_depth: float, std: float = 1.0) -> dict[str, Tensor]:
        """Ponder loss mean(rho) and the distributional prior KL(target || H) of the
        last forward (H = per-block mean halting score, normalised).

        Abstract: "We further introduce distributional prior regularization that
        stabilizes training compared to prior ACT approaches."

        Book: ch05, section "Training losses".
        """
        if self.rho is None or self.halting_score_layer is None:
            raise ValueError("AViT.losses: run a forward pass with gradients first")
        H = self.halting_score_layer / self.halting_score_layer.sum()
        H = H.clamp(0.01, 0.99)
        target = distribution_prior_target(self.cfg.depth, target_depth, std).to(H)
        kl = (target * (target.log() - H.log())).sum()
        return {"ponder": self.rho.mean(), "distr_prior": kl}


def avit_from_vit(vit: VisionTransformer, halting: HaltingConfig, **kwargs) -> AViT:
    """An A-ViT with the weights of a trained plain ViT (fine-tuning starts here).

    Book: ch05, section "Fine-tuning the tiny ViT".
    """
    model = AViT(vit.cfg, halting, norm_eps=vit.norm.eps, **kwargs)
    model = model.to(vit.pos_embed.dtype)
    model.load_state_dict(vit.state_dict(), strict=True)
    return model


def avit_flops(depth_counts: Tensor, cfg: ViTConfig) -> float:
    """Block FLOPs (multiply-add = 2) for live-token counts per block, summed.

    ``depth_counts[l]`` = number of tokens that enter block l. Linears cost
    2 * n * (4 C^2 + 2 * mlp_ratio * C^2); attention 4 * n^2 * C.

    Book: ch05, section "Measured speed and accuracy".
    """
    C, hidden = cfg.dim, int(cfg.dim * cfg.mlp_ratio)
    total = 0.0
    for n in depth_counts.tolist():
        total += 2 * n * (4 * C * C + 2 * C * hidden) + 4 * n * n * C
    return total


def config_dict(model: AViT) -> dict:
    """Plain-type description of a model, for checkpoints and sidecars."""
    return {
        "vit": asdict(model.cfg),
        "halting": asdict(model.halting),
        "norm_eps": model.norm_eps,
    }


