"""Loading CLIP models with open_clip: pretrained tags, local checkpoints, the tiny CLIP.

CLIP (Radford et al., "Learning Transferable Visual Models From Natural Language
Supervision", arXiv 2103.00020) embeds images and texts in one space:

> Given a batch of N (image, text) pairs, CLIP is trained to predict which of the
> N x N possible (image, text) pairings across a batch actually occurred.

Models come from open_clip (github.com/mlfoundations/open_clip): an architecture name
(``ViT-B-32``) plus weights, either a pretrained tag (``openai``, ``laion2b_s34b_b79k``)
that must already be in the local cache (nothing is downloaded here), or a checkpoint
file. The package also ships ``clip_tiny_mvk``: a tiny CLIP trained on MVK-mini frames
and captions by ``mvk train clip`` (:mod:`mvk_tutorial.retrieval.train_clip`).

Pitfall: OpenAI's weights (and ``laion400m_*``) were trained with QuickGELU. The plain
``ViT-B-32`` config uses ``nn.GELU``; use ``ViT-B-32-quickgelu`` (or ``quick_gelu=True``)
for them. :func:`load_clip` applies the tag's ``quick_gelu`` flag itself.

Book: ch10, sections "CLIP: one space for images and texts",
"On a GPU with the real MVK".
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import open_clip
import torch

from mvk_tutorial.weights import WEIGHTS_DIR  # defined once, there

TINY_CLIP = "clip_tiny_mvk"  # architecture name and weight file stem
TINY_CLIP_CONFIG = WEIGHTS_DIR / f"{TINY_CLIP}.json"
TINY_CLIP_WEIGHTS = WEIGHTS_DIR / f"{TINY_CLIP}.pt"


@dataclass
class ClipBundle:
    """A CLIP model with its image preprocessing and tokenizer (open_clip objects)."""

    model: torch.nn.Module
    preprocess: Callable  # PIL image -> (3, H, W) tensor
    tokenizer: Callable  # list[str] -> (B, context_length) token ids
    name: str
    pretrained: str | None

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the model's input images."""
        size = self.model.visual.image_size
        return (
            tuple(size) if isinstance(size, (tuple, list)) else (int(size), int(size))
        )

    @torch.inference_mode()
    def encode_text(self, texts: list[str], normalize: bool = True) -> torch.Tensor:
        """(len(texts), D) text embeddings (L2-normalised by default). Book: ch10."""
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(list(texts)).to(device)  # (B, context_length)
        return self.model.encode_text(tokens, normalize=normalize).float()

    @torch.inference_mode()
    def encode_image(
        self, images: torch.Tensor, normalize: bool = True
    ) -> torch.Tensor:
        """(B, D) image embeddings of preprocessed images (B, 3, H, W). Book: ch10."""
        p = next(self.model.parameters())
        return self.model.encode_image(
            images.to(p.device, p.dtype), normalize=normalize
        ).float()


def register_tiny_clip() -> None:
    """Make ``clip_tiny_mvk`` a known open_clip architecture (idempotent)."""
    if TINY_CLIP not in open_clip.list_models():
        open_clip.add_model_config(TINY_CLIP_CONFIG)


def _hf_cached_file(hf_hub: str, cache_dir: str | None) -> str | None:
    """The cached file of an open_clip ``hf_hub`` entry, or None. Never uses the network."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    model_id, filename = os.path.split(hf_hub)
    names = (
        [filename]
        if filename
        else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    )
    for name in names:
        path = try_to_load_from_cache(model_id, name, cache_dir=cache_dir)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def resolve_pretrained(
    model_name: str, tag: str, cache_dir: str | None = None
) -> tuple[str, dict]:
    """Find the local file of pretrained tag ``tag`` for ``model_name``, offline.

    Returns (path, open_clip pretrained config). Raises ``ValueError`` for an unknown tag
    and ``FileNotFoundError`` when the weights are not cached on this machine.
    Book: ch10, section "On a GPU with the real MVK".
    """
    cfg = open_clip.get_pretrained_cfg(model_name, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(
            f"pretrained tag {tag!r} is not known for model {model_name!r}; "
            f"known tags: {', '.join(tags) or '(none)'}; or pass a checkpoint file path"
        )
    candidates = []
    if cfg.get("hf_hub"):
        path = _hf_cached_file(cfg["hf_hub"], cache_dir)
        if path:
            return path, cfg
        candidates.append(f"Hugging Face cache entry {cfg['hf_hub']}")
    if cfg.get("url"):
        folder = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "clip"
        path = folder / os.path.basename(cfg["url"])
        if path.is_file():
            return str(path), cfg
        candidates.append(str(path))
    raise FileNotFoundError(
        f"weights {model_name!r} / {tag!r} are not in the local cache (looked for: "
        f"{'; '.join(candidates)}). Nothing is downloaded here: fetch them on a machine "
        "with internet access (open_clip.create_model(name, pretrained=tag)) and copy "
        "the cache, or pass the path of a checkpoint file as `pretrained`."
    )


def load_clip(
    model_name: str = TINY_CLIP,
    pretrained: str | os.PathLike | None = None,
    *,
    device: torch.device | str = "cpu",
    precision: str | None = None,
    quick_gelu: bool | None = None,
    cache_dir: str | None = None,
) -> ClipBundle:
    """Load an open_clip model by name with a pretrained tag or a checkpoint file.

    Args:
        model_name: open_clip architecture (``"ViT-B-32-quickgelu"``) or ``"clip_tiny_mvk"``.
        pretrained: a tag (``"openai"``), a checkpoint file, or None: the shipped
            weights for ``clip_tiny_mvk``, random weights for any other model.
        device: where the model lives. precision: ``"fp32"`` (default on a CPU) or
            ``"fp16"`` (default on CUDA).
        quick_gelu: force QuickGELU activations (default: the tag's own flag).
        cache_dir: where cached pretrained weights are looked up.

    Book: ch10, section "CLIP: one space for images and texts".
    """
    register_tiny_clip()
    if model_name not in open_clip.list_models():
        raise ValueError(f"model_name: unknown open_clip architecture {model_name!r}")
    device = torch.device(device)
    precision = precision or ("fp16" if device.type == "cuda" else "fp32")
    kwargs: dict = {}
    weights = None
    if pretrained is None and model_name == TINY_CLIP:
        if not TINY_CLIP_WEIGHTS.is_file():
            raise FileNotFoundError(
                f"{TINY_CLIP_WEIGHTS}: shipped tiny CLIP weights missing; make them with "
                "`mvk train clip`"
            )
        weights = str(TINY_CLIP_WEIGHTS)
    elif pretrained is not None and Path(pretrained).is_file():
        weights = str(pretrained)
    elif pretrained is not None:
        if any(s in str(pretrained) for s in ("/", os.sep)) or str(pretrained).endswith(
            (".pt", ".bin", ".safetensors")
        ):
            raise FileNotFoundError(f"{pretrained}: checkpoint file not found")
        weights, cfg = resolve_pretrained(model_name, str(pretrained), cache_dir)
        quick_gelu = cfg.get("quick_gelu", False) if quick_gelu is None else quick_gelu
        kwargs.update(image_mean=cfg.get("mean"), image_std=cfg.get("std"))
    model, _, preprocess = open_clip.create_model_and_transforms(
        model_name,
        pretrained=weights,
        device=device,
        precision=precision,
        force_quick_gelu=bool(quick_gelu),
        **{k: v for k, v in kwargs.items() if v},
    )
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    return ClipBundle(
        model,
        preprocess,
        tokenizer,
        model_name,
        None if pretrained is None else str(pretrained),
    )
