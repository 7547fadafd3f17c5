"""Hyper-parameters of ``mvk train avit`` (no torch import: the CLI reads the defaults).

Book: ch05, section "Fine-tuning the tiny ViT".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AViTTrainConfig:
    """Hyper-parameters of ``mvk train avit``. Book: ch05, section "Fine-tuning the tiny ViT"."""

    preset: str = "book"
    epochs: int = 15
    frame_stride: int = 2  # as mvk train vit: every 2nd frame of the train videos
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    gate_scale: float = 10.0  # gamma
    gate_center: float = 10.0  # -beta
    ponder_scale: float = 0.25  # alpha_p on mean(rho)
    distr_prior_alpha: float = 0.1  # alpha_d on KL(target || H)
    target_depth: float = 1.0  # centre of the Gaussian prior over blocks (1-based)
    cls_ponder_scale: float = 0.0  # extra weight on the class token's rho (0: the paper)
    patch_ponder_only: bool = False  # True: the ponder loss averages patch tokens only
    distill_alpha: float = 0.0  # weight of KL(plain ViT || A-ViT) on soft logits (0: none)
    distill_temperature: float = 1.0  # temperature of that KL
    halting: bool = True  # False: the same fine-tuning without halting (a control)
    # the ViT's own recipe (``mvk train vit``, ch02 "What the confusion matrix says"):
    zoom: float = 0.0  # random zoom-in by a factor in [1, 1 + zoom] (0: off)
    balance: bool = False  # class-balanced loss weights (inverse class frequency)
    paste: float = 0.0  # probability of pasting a frame's animals onto another scene
    paste_shift: float = 0.0  # pasted animals move by up to this fraction of H and W
    seed: int = 0
    threads: int = 1
