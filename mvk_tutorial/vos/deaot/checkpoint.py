"""Loading official aot-benchmark checkpoints into ``DeAOT`` without renaming keys.

The official ``load_network`` accepts ``{'state_dict': ...}``, ``{'model': ...}`` or a raw
state dict, strips ``module.`` (DataParallel) and silently drops unknown keys; a silent
mismatch is a likely cause of users' poor scores (aot-benchmark issue #63). Here loading
is strict and the error lists what is missing, unexpected, or of the wrong shape.

Book: ch08, section "What changes on a GPU and with the real data".
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def extract_state_dict(obj, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint object, ``module.`` prefixes removed.

    Book: ch08 "Memory-based VOS and DeAOT".
    """
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise ValueError(
            f"{source}: expected a state dict (or a dict with 'state_dict' or "
            "'model') of tensors"
        )
    return {(k.removeprefix("module.")): v for k, v in obj.items()}


def _describe(keys: list[str], limit: int = 8) -> str:
    more = f" ... (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_state_dict_checked(
    model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint"
) -> None:
    """``load_state_dict(strict=True)`` with one clear error naming the bad keys.

    Tensors are cast to the model's dtype (official fixtures store float16).
    Book: ch08 "Memory-based VOS and DeAOT".
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys: {_describe(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys: {_describe(unexpected)}")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches: {_describe(wrong)}")
        name = getattr(getattr(model, "cfg", None), "encoder", type(model).__name__)
        raise ValueError(
            f"{source} does not fit this model ({name}): " + "; ".join(parts)
        )
    state = {
        k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in state.items()
    }
    model.load_state_dict(state, strict=True)


def load_official_checkpoint(model: nn.Module, path: str | Path) -> nn.Module:
    """Load an official DeAOT checkpoint file (``.pth``) into ``model`` strictly.

    Raises FileNotFoundError if ``path`` does not exist and ValueError (listing missing,
    unexpected and mis-shaped keys) if the checkpoint does not fit the model.
    Book: ch08 "Memory-based VOS and DeAOT".
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    # Only weights_only=True, with no fallback: unpickling arbitrary objects runs
    # arbitrary code, and official aot-benchmark checkpoints hold only tensors, ints, dicts.
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(
            f"{path}: not a loadable checkpoint: expected a PyTorch file holding only "
            f"tensors and plain containers (loaded with weights_only=True; {err})"
        ) from err
    load_state_dict_checked(model, extract_state_dict(obj, str(path)), str(path))
    return model
