"""The VOS networks shipped with the package, trained on MVK-mini by ``mvk train``.

``load_shipped("deaot-mini")`` builds the network and loads
``mvk_tutorial/weights/deaot_mini_mvk.pt`` strictly (``weights_only=True``);
``shipped_sidecar`` returns the JSON written beside it (command, seed, data version,
J&F measured on unseen videos).

Book: ch08, section "DeAOT segmenting unseen videos".
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mvk_tutorial.weights import WEIGHTS_DIR  # noqa: E402 (one definition, in weights/)
from mvk_tutorial.vos.deaot.checkpoint import load_state_dict_checked
from mvk_tutorial.vos.train import build_model
SHIPPED = {
    "deaot-mini": "deaot_mini_mvk.pt",
    "aot-mini": "aot_mini_mvk.pt",  # the baseline, same command and budget
    "deaot-mini-single": "deaot_mini_single_mvk.pt",  # the one-branch ablation
}


def shipped_weights(name: str) -> Path:
    """Path of the shipped weights of ``name``; ValueError/FileNotFoundError otherwise.

    Book: ch08, section "DeAOT segmenting unseen videos".
    """
    key = name.lower().replace("_", "-")
    if key not in SHIPPED:
        raise ValueError(
            f"model {name!r} has no shipped weights; expected one of {sorted(SHIPPED)} "
            "(official models need --checkpoint)"
        )
    path = WEIGHTS_DIR / SHIPPED[key]
    if not path.is_file():
        raise FileNotFoundError(f"shipped weights {path} are missing (train them with "
                                f"`mvk train {key.split('-')[0]} --export {path.name}`)")
    return path


def shipped_sidecar(name: str) -> dict:
    """The JSON sidecar of the shipped weights of ``name``.

    Book: ch08, section "DeAOT segmenting unseen videos".
    """
    return json.loads(shipped_weights(name).with_suffix(".json").read_text("utf-8"))


def load_shipped(name: str, device: str | torch.device = "cpu"):
    """Build ``name`` (a key of ``SHIPPED``) with its shipped weights, in eval mode.

    Book: ch08, section "DeAOT segmenting unseen videos".
    """

    path = shipped_weights(name)
    model = build_model(name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_state_dict_checked(model, state, str(path))
    return model.to(device).eval()
