"""A small CNN of about the tiny ViT's size: the control for its inductive-bias claim.

The ViT paper says that Transformers "lack some of the inductive biases inherent to
CNNs, such as translation equivariance and locality" and therefore need more data.
A claim like that needs a control: :class:`SmallCNN` is trained by the same command
(``mvk train cnn``), on the same frames, the same split by video and the same
schedule as ``vit_tiny_mvk``, with about as many parameters.

Layout: a stride-2 3x3 convolution stem and three more 3x3 convolution stages, each
convolution followed by BatchNorm and ReLU and all but the last by 2x2 max pooling (so
the receptive field grows layer by layer: the locality prior), then global average
pooling (the translation-invariance prior) and a linear classifier. On a 48x80 frame it
costs about 17 MFLOP (multiply-add = 2), close to the tiny ViT's 18.

Book: ch02, section "A CNN of the same size as a control".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from mvk_tutorial.utils import atomic_path


@dataclass(frozen=True)
class CNNConfig:
    """Architecture of :class:`SmallCNN`. Book: ch02, section "A CNN of the same size as a control"."""

    img_size: tuple[int, int] = (48, 80)  # (H, W) input size in pixels
    in_chans: int = 3
    num_classes: int = 9
    widths: tuple[int, ...] = (32, 48, 96, 112)  # channels of the four stages
    drop_rate: float = 0.1  # dropout before the classifier


CNN_PRESETS = {"cnn_tiny_mvk": CNNConfig()}


class SmallCNN(nn.Module):
    """Conv-BN-ReLU-MaxPool stages, global average pooling, a linear head.

    Book: ch02, section "A CNN of the same size as a control".
    """

    def __init__(self, cfg: CNNConfig = CNNConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        layers, c_in = [], cfg.in_chans
        last = len(cfg.widths) - 1
        for i, c_out in enumerate(cfg.widths):
            # the stem convolves with stride 2, as in a ResNet; every stage but the last
            # is followed by 2x2 max pooling
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=2 if i == 0 else 1, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            if i != last:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(cfg.drop_rate)
        self.head = nn.Linear(c_in, cfg.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (B, C, H / 16, W / 16): stem stride 2, three pools
        x = x.mean(dim=(2, 3))  # (B, C): global average pooling
        return self.head(self.drop(x))  # (B, num_classes)


def save_cnn(path: str | Path, model: SmallCNN, **extra) -> None:
    """Save config + weights (+ metadata) atomically, as ``save_vit`` does.

    Book: ch02, section "A CNN of the same size as a control".
    """

    payload = {
        "arch": "cnn",
        "config": asdict(model.cfg),
        "state_dict": model.state_dict(),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_cnn(path: str | Path, map_location: str = "cpu") -> tuple[SmallCNN, dict]:
    """Load a checkpoint written by :func:`save_cnn`; return (model in eval mode, meta).

    Book: ch02, section "A CNN of the same size as a control".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"CNN weights {path}: no such file (train with `mvk train cnn`)"
        )
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("arch") != "cnn" or "state_dict" not in ckpt:
        raise ValueError(
            f"CNN weights {path}: expected a dict with arch='cnn', 'config' and "
            "'state_dict' (written by save_cnn)"
        )
    cfg = dict(ckpt["config"])
    cfg["img_size"] = tuple(cfg["img_size"])
    cfg["widths"] = tuple(cfg["widths"])
    model = SmallCNN(CNNConfig(**cfg))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise ValueError(f"CNN weights {path}: state dict does not fit its config: {exc}")
    meta = {k: v for k, v in ckpt.items() if k not in ("arch", "config", "state_dict")}
    return model.eval(), meta
